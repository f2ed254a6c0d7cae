import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import { ago, table } from '../output.js'
import type { Io } from '../output.js'

export const MEMBERS_HELP = `Usage: shoal members [options]

The local daemon's view of the swarm: every member with its state (alive, suspect, dead, left),
incarnation, version and when it was last heard from.

${CLIENT_HELP}`

export async function membersCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('members', argv, CLIENT_OPTIONS)
  if (values.help === true) { io.out(MEMBERS_HELP); return 0 }
  const client = await connectClient(values, env)
  const [members, info] = await Promise.all([client.call('swarm.members', {}), client.call('node.info', {})])
  if (values.json === true) { io.out(JSON.stringify(members, null, 2)); return 0 }
  const now = Date.now()
  io.out(table(['PEER ID', 'STATE', 'INCARNATION', 'VERSION', 'LAST SEEN', 'ADDRESS'], members.map(m => [
    m.id === info.peerId ? `${m.id} (self)` : m.id,
    m.state,
    String(m.incarnation),
    m.version,
    m.id === info.peerId ? '-' : m.lastSeen === 0 ? 'never' : ago(now - m.lastSeen),
    m.addrs[0] ?? ''
  ])))
  return 0
}
