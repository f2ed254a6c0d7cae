import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import { ago, fitTable, shortId, table } from '../output.js'
import type { Io } from '../output.js'

export const MEMBERS_HELP = `Usage: shoal members [options]

The local daemon's view of the swarm: every member with its state (alive, suspect, dead, left),
incarnation, version and when it was last heard from. The table fits 100 columns (peer ids shortened,
addresses cut); --wide prints full peer ids and every address, --json everything.

  --wide           full peer ids and all addresses
${CLIENT_HELP}`

export async function membersCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('members', argv, { ...CLIENT_OPTIONS, wide: { type: 'boolean' } })
  if (values.help === true) { io.out(MEMBERS_HELP); return 0 }
  const client = await connectClient(values, env)
  const [members, info] = await Promise.all([client.call('swarm.members', {}), client.call('node.info', {})])
  if (values.json === true) { io.out(JSON.stringify(members, null, 2)); return 0 }
  io.out(membersTable(members, info.peerId, Date.now(), values.wide === true))
  return 0
}

export interface MemberRow { id: string, state: string, incarnation: number, version: string, lastSeen: number, addrs: string[] }

/** The members table: fits TABLE_WIDTH unless `wide` (full ids, every address). */
export function membersTable (members: MemberRow[], self: string, now: number, wide: boolean): string {
  const headers = ['PEER ID', 'STATE', 'INC', 'VERSION', 'LAST SEEN', wide ? 'ADDRESSES' : 'ADDRESS']
  const rows = members.map(m => [m, m.addrs.map(a => wide || !a.endsWith(`/p2p/${m.id}`) ? a : a.slice(0, -`/p2p/${m.id}`.length))] as const).map(([m, addrs]) => [
    `${wide ? m.id : shortId(m.id)}${m.id === self ? ' (self)' : ''}`,
    m.state,
    String(m.incarnation),
    m.version,
    m.id === self ? '-' : m.lastSeen === 0 ? 'never' : ago(now - m.lastSeen),
    wide ? addrs.join(', ') : `${addrs[0] ?? ''}${addrs.length > 1 ? ` (+${addrs.length - 1})` : ''}`
  ])
  return wide ? table(headers, rows) : fitTable(headers, rows)
}
