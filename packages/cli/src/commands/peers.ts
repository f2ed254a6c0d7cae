import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import { fitTable, shortId, table } from '../output.js'
import type { Io } from '../output.js'

export const PEERS_HELP = `Usage: shoal peers [options]

Peers the local daemon has an open connection to. The table fits 100 columns (peer ids shortened,
one address without its /p2p/ suffix); --wide prints full peer ids and every address, --json everything.

  --wide           full peer ids and all addresses
${CLIENT_HELP}`

export async function peersCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('peers', argv, { ...CLIENT_OPTIONS, wide: { type: 'boolean' } })
  if (values.help === true) { io.out(PEERS_HELP); return 0 }
  const peers = await (await connectClient(values, env)).call('swarm.peers', {})
  if (values.json === true) { io.out(JSON.stringify(peers, null, 2)); return 0 }
  if (peers.length === 0) { io.out('no connected peers'); return 0 }
  io.out(peersTable(peers, values.wide === true))
  return 0
}

export interface PeerRow { peerId: string, member: boolean, direction: string, addresses: string[] }

/** The peers table: fits TABLE_WIDTH unless `wide`. An address's /p2p/<peer id> repeats the first column. */
export function peersTable (peers: PeerRow[], wide: boolean): string {
  if (wide) return table(['PEER ID', 'MEMBER', 'DIRECTION', 'ADDRESSES'], peers.map(p => [p.peerId, p.member ? 'yes' : 'no', p.direction, p.addresses.join(', ')]))
  return fitTable(['PEER ID', 'MEMBER', 'DIRECTION', 'ADDRESS'], peers.map(p => {
    const addrs = p.addresses.map(a => a.endsWith(`/p2p/${p.peerId}`) ? a.slice(0, -`/p2p/${p.peerId}`.length) : a)
    return [shortId(p.peerId), p.member ? 'yes' : 'no', p.direction, `${addrs[0] ?? ''}${addrs.length > 1 ? ` (+${addrs.length - 1})` : ''}`]
  }))
}
