import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse } from '../args.js'
import type { Io } from '../output.js'

export const DOCTOR_HELP = `Usage: shoal doctor [options]

Checks the local daemon's set-up against known traps (DHT mode, transports in a private swarm, RPC host,
disk space, event-loop delay, clock skew, membership, connections, inbound limit, KV convergence) and
prints what to fix. Exit code 0 when nothing fails (warnings allowed), 1 when a check fails, 3 when no
daemon answers. See docs/operations.md, "shoal doctor".

${CLIENT_HELP}`

const MARKS = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const

export async function doctorCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('doctor', argv, CLIENT_OPTIONS)
  if (values.help === true) { io.out(DOCTOR_HELP); return 0 }
  const client = await connectClient(values, env)
  const { checks } = await client.call('node.diagnostics', {})
  const failed = checks.some(c => c.status === 'fail')
  if (values.json === true) {
    io.out(JSON.stringify({ checks }, null, 2))
    return failed ? 1 : 0
  }
  const width = Math.max(...checks.map(c => c.id.length))
  const lines: string[] = []
  for (const c of checks) {
    lines.push(`${MARKS[c.status]}  ${c.id.padEnd(width)}  ${c.message}`)
    if (c.fix !== undefined) lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`)
  }
  const warned = checks.filter(c => c.status === 'warn').length
  const fails = checks.filter(c => c.status === 'fail').length
  lines.push('', fails + warned === 0 ? 'no problems found' : `${fails} failed, ${warned} warning(s)`)
  io.out(lines.join('\n'))
  return failed ? 1 : 0
}
