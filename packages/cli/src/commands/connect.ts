import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse, UsageError } from '../args.js'
import type { Io } from '../output.js'
import { multiaddr } from '@multiformats/multiaddr'

export const CONNECT_HELP = `Usage: shoal connect MULTIADDR [options]

Asks the local daemon to dial a peer, e.g. shoal connect /ip4/192.0.2.7/tcp/7700/p2p/12D3Koo…

${CLIENT_HELP}`

export async function connectCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parse('connect', argv, CLIENT_OPTIONS, 1)
  if (values.help === true) { io.out(CONNECT_HELP); return 0 }
  const addr = positionals[0]
  if (addr === undefined) throw new UsageError('shoal connect: missing MULTIADDR, e.g. shoal connect /ip4/127.0.0.1/tcp/7700/p2p/12D3Koo…')
  checkMultiaddr(addr)
  const result = await (await connectClient(values, env)).call('swarm.connect', { addr })
  io.out(values.json === true ? JSON.stringify(result) : `connected to ${result.peerId}`)
  return 0
}

/** A usage error in words for what is not a multiaddr (the RPC's own answer would quote its pattern). */
export function checkMultiaddr (addr: string): void {
  const example = '/ip4/192.0.2.7/tcp/7700/p2p/12D3KooW… (or /dns4/NAME/tcp/7700)'
  if (!addr.startsWith('/')) throw new UsageError(`shoal connect: '${addr}' is not a multiaddr; it starts with / and names protocols, e.g. ${example}`)
  try {
    multiaddr(addr)
  } catch (err) {
    const why = (err as Error).message.split('\n')[0]!.replace(/\.$/, '')
    throw new UsageError(`shoal connect: '${addr}' is not a valid multiaddr (${why}), e.g. ${example}`)
  }
}
