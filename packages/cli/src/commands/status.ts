import { connectClient, dashboardUrl, endpoint, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import { duration } from '../output.js'
import type { Io } from '../output.js'

export const STATUS_HELP = `Usage: shoal status [options]

The local daemon's identity, addresses, swarm, uptime, how many peers and members it sees, and the
address of its dashboard.

${CLIENT_HELP}`

export async function statusCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('status', argv, CLIENT_OPTIONS)
  if (values.help === true) { io.out(STATUS_HELP); return 0 }
  const client = await connectClient(values, env)
  const { url } = await endpoint(values, env)
  const [info, peers, members] = await Promise.all([client.call('node.info', {}), client.call('swarm.peers', {}), client.call('swarm.members', {})])
  const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
  for (const m of members) counts[m.state] = (counts[m.state] ?? 0) + 1
  if (values.json === true) {
    io.out(JSON.stringify({ ...info, peers: peers.length, members: counts, dashboard: dashboardUrl(url) }, null, 2))
    return 0
  }
  io.out([
    `peer id:  ${info.peerId}`,
    `swarm:    ${info.swarm}${info.private ? ' (private)' : ''}`,
    `version:  ${info.version}`,
    `uptime:   ${duration(info.uptimeMs)}`,
    `peers:    ${peers.length} connected`,
    `members:  ${counts.alive} alive, ${counts.suspect} suspect, ${counts.dead} dead, ${counts.left} left`,
    ...info.addresses.map((a, i) => `${i === 0 ? 'address: ' : '         '} ${a}`),
    `dashboard: ${dashboardUrl(url)} (log in with the RPC token)`
  ].join('\n'))
  return 0
}
