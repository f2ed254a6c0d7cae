import { LocalSwarm } from '../local-swarm.js'
import type { LocalNode } from '../local-swarm.js'
import { parse, UsageError, str } from '../args.js'
import { shortId, table } from '../output.js'
import type { Io } from '../output.js'

export const DEMO_HELP = `Usage: shoal demo [--nodes N] [--duration SECONDS] [--no-churn]

Starts N daemons (default 5) on 127.0.0.1 with data in a temp folder: node 1 first, the others given
only node 1's address. A live table shows what each node sees of the swarm. Unless --no-churn, node N
is killed with SIGKILL once the swarm has formed, and restarted once the others have marked it dead.
Stops cleanly on Ctrl-C or after --duration seconds (default: run until Ctrl-C).`

const SYMBOL: Record<string, string> = { alive: '●', suspect: '◐', dead: '✖', left: '○' }
const REFRESH_MS = 500
/** After the swarm forms, wait this long before killing a node, so people can see the steady state. */
const CHURN_DELAY_MS = 5000

interface Row { node: LocalNode | undefined, index: number, peers: number | undefined, view: Map<string, string> }

export async function demoCommand (argv: string[], io: Io): Promise<number> {
  const { values } = parse('demo', argv, {
    nodes: { type: 'string', default: '5' },
    duration: { type: 'string', default: '0' },
    churn: { type: 'boolean', default: true }
  })
  if (values.help === true) { io.out(DEMO_HELP); return 0 }
  const count = Number(str(values.nodes))
  const durationS = Number(str(values.duration))
  if (!Number.isInteger(count) || count < 2 || count > 20) throw new UsageError(`shoal demo: --nodes must be an integer from 2 to 20, got '${str(values.nodes) ?? ''}'`)
  if (!Number.isFinite(durationS) || durationS < 0) throw new UsageError(`shoal demo: --duration must be a number of seconds (0 = until Ctrl-C), got '${str(values.duration) ?? ''}'`)

  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn', '--swarm', 'demo'] })
  const started = Date.now()
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`
  const events: string[] = []
  const note = (text: string): void => { events.push(`${elapsed().padStart(6)}  ${text}`); if (!process.stdout.isTTY) io.out(`${elapsed()}  ${text}`) }
  let stopRequested = false
  const stop = (): void => { stopRequested = true }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  try {
    note(`starting ${count} daemons in ${swarm.root}`)
    const first = await swarm.start(1)
    await Promise.all(Array.from({ length: count - 1 }, async (_, i) => await swarm.start(i + 2, { bootstrap: [first.addrs[0]!] })))
    note(`all ${count} daemons running; nodes 2-${count} know only node 1's address`)

    const ids = new Map<number, string>([...swarm.nodes.values()].map(n => [n.index, n.peerId]))
    let phase: 'forming' | 'steady' | 'killed' | 'restarted' | 'done' = 'forming'
    let phaseAt = Date.now()
    const victim = count
    let lastFrame = ''
    while (!stopRequested && (durationS === 0 || Date.now() - started < durationS * 1000)) {
      const rows = await snapshot(swarm, count)
      const seenBy = (index: number, state: string): boolean => rows.filter(r => r.node !== undefined && r.index !== index).every(r => r.view.get(ids.get(index)!) === state)
      const all = (state: string): boolean => [...ids.keys()].every(i => seenBy(i, state))
      if (phase === 'forming' && all('alive')) { phase = 'steady'; phaseAt = Date.now(); note(`swarm formed: every node sees all ${count} alive`) }
      if (phase === 'steady' && values.churn === true && Date.now() - phaseAt > CHURN_DELAY_MS) {
        await swarm.kill(victim)
        phase = 'killed'; phaseAt = Date.now()
        note(`node ${victim} killed with SIGKILL (no goodbye)`)
      }
      if (phase === 'killed' && seenBy(victim, 'dead')) {
        note(`every survivor marked node ${victim} dead after ${((Date.now() - phaseAt) / 1000).toFixed(1)}s; restarting it`)
        await swarm.restart(victim)
        phase = 'restarted'; phaseAt = Date.now()
      }
      if (phase === 'restarted' && all('alive')) {
        note(`node ${victim} rejoined with the same peer id after ${((Date.now() - phaseAt) / 1000).toFixed(1)}s`)
        phase = 'done'
      }
      const frame = render(rows, ids, count)
      if (process.stdout.isTTY) {
        io.out(`\x1b[2J\x1b[H${header(swarm.root, count, elapsed())}\n\n${frame}\n\n${events.slice(-8).join('\n')}\n\nCtrl-C to stop.`)
      } else if (frame !== lastFrame) {
        io.out(frame)
      }
      lastFrame = frame
      await new Promise(resolve => setTimeout(resolve, REFRESH_MS))
    }
    note('stopping: every daemon gets SIGTERM and announces its departure')
    await swarm.stopAll()
    note('all daemons stopped')
    return 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await swarm.destroy()
  }
}

async function snapshot (swarm: LocalSwarm, count: number): Promise<Row[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const node = swarm.nodes.get(i + 1)
    const row: Row = { node, index: i + 1, peers: undefined, view: new Map() }
    if (node === undefined) return row
    try {
      const signal = AbortSignal.timeout(1000)
      const [members, peers] = await Promise.all([node.client.call('swarm.members', {}, { signal }), node.client.call('swarm.peers', {}, { signal })])
      for (const m of members) row.view.set(m.id, m.state)
      row.peers = peers.length
    } catch {}
    return row
  }))
}

function header (root: string, count: number, elapsed: string): string {
  return `Shoal demo: ${count} daemons on 127.0.0.1, data in ${root}   ${elapsed}\n` +
    `Each row is one daemon's membership view. ${Object.entries(SYMBOL).map(([s, c]) => `${c} ${s}`).join('  ')}  · unknown`
}

function render (rows: Row[], ids: Map<number, string>, count: number): string {
  const cols = Array.from({ length: count }, (_, i) => `n${i + 1}`)
  return table(['NODE', 'PEER ID', 'RPC', 'PEERS', ...cols], rows.map(r => [
    `n${r.index}`,
    shortId(ids.get(r.index) ?? ''),
    r.node === undefined ? '(down)' : r.node.rpcUrl.replace(/^http:\/\/|\/rpc$/g, ''),
    r.peers === undefined ? '-' : String(r.peers),
    ...cols.map((_, i) => r.node === undefined ? ' ' : SYMBOL[r.view.get(ids.get(i + 1) ?? '') ?? ''] ?? '·')
  ]))
}
