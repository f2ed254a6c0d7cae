import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import { table } from '../output.js'
import type { Io } from '../output.js'

export const PEERS_HELP = `Usage: shoal peers [options]

Peers the local daemon has an open connection to.

${CLIENT_HELP}`

export async function peersCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('peers', argv, CLIENT_OPTIONS)
  if (values.help === true) { io.out(PEERS_HELP); return 0 }
  const peers = await (await connectClient(values, env)).call('swarm.peers', {})
  if (values.json === true) { io.out(JSON.stringify(peers, null, 2)); return 0 }
  if (peers.length === 0) { io.out('no connected peers'); return 0 }
  io.out(table(['PEER ID', 'MEMBER', 'DIRECTION', 'ADDRESS'], peers.map(p => [p.peerId, p.member ? 'yes' : 'no', p.direction, p.addresses.join(', ')])))
  return 0
}
