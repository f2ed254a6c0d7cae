import { readToken } from '@shoal/node'
import { LocalSwarm } from '../local-swarm.js'
import type { LocalNode } from '../local-swarm.js'
import { parse, UsageError, str } from '../args.js'
import { table } from '../output.js'
import type { Io } from '../output.js'

export const DEMO_HELP = `Usage: shoal demo [--nodes N] [--duration SECONDS] [--no-churn]

Starts N daemons (default 5) on 127.0.0.1 with data in a temp folder: node 1 first, the others given
only node 1's address. A live table shows what each node sees of the swarm. Then: a KV write on node 2
shows up on every node; node N is killed with SIGKILL and restarted once the others have marked it
dead; a job counting primes runs across the swarm, a worker is killed with SIGKILL a quarter of the way
in, and the job still gives the right answer (checked against a local count). --no-churn skips both
kills. Stops cleanly on Ctrl-C or after --duration seconds (default: run until Ctrl-C). Nodes are named
by the last 6 characters of their peer id, as on the dashboard.`

const SYMBOL: Record<string, string> = { alive: '●', suspect: '◐', dead: '✖', left: '○' }
const REFRESH_MS = 500
/** Without a terminal to redraw, a person reading the output hears from the demo at least this often. */
const QUIET_MS = 10_000
/** Story lines kept on screen: the whole story (about a dozen lines) with room to spare. */
const STORY_LINES = 20

/** A node's name everywhere the demo shows it: the last 6 characters of its peer id, as the dashboard names it (dom.js `short`). */
export function nodeName (peerId: string): string {
  return peerId.slice(-6)
}
/** After the swarm forms, wait this long before killing a node, so people can see the steady state. */
const CHURN_DELAY_MS = 3000

export interface Row { node: LocalNode | undefined, index: number, peers: number | undefined, view: Map<string, string> }
interface JobProgress { done: number, subtasks: number, workers: number, state: string }

/** The demo job: count the primes below this, split into this many subtasks. */
const JOB_RANGE = 50_000_000
const JOB_SUBTASKS = 250

interface ScenarioInit {
  swarm: LocalSwarm
  ids: Map<number, string>
  count: number
  churn: boolean
  note: (text: string) => void
  live: { rows: Row[], job?: JobProgress }
  stopped: () => boolean
  /** The last line of the story: what the person can do now that it is over. */
  epilogue: string
}

/**
 * What the demo shows, step by step: the swarm forming, a KV write seen everywhere, a node killed and
 * coming back, and a job that finishes with the right answer although a worker is killed halfway.
 */
async function scenario (s: ScenarioInit): Promise<void> {
  const { swarm, ids, count, note, live } = s
  const name = (index: number): string => nodeName(ids.get(index) ?? '')
  const until = async (probe: () => boolean | Promise<boolean>, pollMs = REFRESH_MS): Promise<void> => {
    while (!s.stopped() && !(await probe())) await new Promise(resolve => setTimeout(resolve, pollMs))
    if (s.stopped()) throw new Error('stopped')
  }
  const seenBy = (index: number, state: string): boolean =>
    live.rows.length > 0 && live.rows.filter(r => r.node !== undefined && r.index !== index).every(r => r.view.get(ids.get(index)!) === state)
  const allAlive = (): boolean => [...ids.keys()].every(i => seenBy(i, 'alive'))

  await until(allAlive)
  note(`swarm formed: every node sees all ${count} alive`)

  const writer = swarm.nodes.get(2)!
  await writer.client.call('kv.put', { key: 'demo/greeting', value: 'hello, swarm' })
  const kvAt = Date.now()
  await until(async () => (await Promise.all([...swarm.nodes.values()].map(async n => await n.client.call('kv.get', { key: 'demo/greeting' }).then(() => true, () => false)))).every(Boolean), 50)
  note(`a KV write on node ${name(2)} is visible on all ${count} nodes after ${Date.now() - kvAt} ms`)

  const victim = count
  if (s.churn) {
    await new Promise(resolve => setTimeout(resolve, CHURN_DELAY_MS))
    await swarm.kill(victim)
    const killedAt = Date.now()
    note(`node ${name(victim)} killed with SIGKILL (no goodbye); the others notice when it stops answering probes`)
    await until(() => seenBy(victim, 'dead'))
    note(`every survivor marked node ${name(victim)} dead after ${((Date.now() - killedAt) / 1000).toFixed(1)}s; restarting it`)
    await swarm.restart(victim)
    const restartedAt = Date.now()
    await until(allAlive)
    note(`node ${name(victim)} rejoined with the same peer id after ${((Date.now() - restartedAt) / 1000).toFixed(1)}s`)
  }

  const submitter = swarm.nodes.get(1)!
  const { jobId } = await submitter.client.call('task.submit', { handler: 'primes', input: { from: 0, to: JOB_RANGE }, split: JOB_SUBTASKS })
  note(`job ${jobId.slice(0, 8)}: counting the primes below ${JOB_RANGE.toLocaleString('en')} in ${JOB_SUBTASKS} subtasks`)
  let killedWorker = !s.churn
  for (;;) {
    const st = await submitter.client.call('task.status', { jobId })
    live.job = { done: st.counts.done, subtasks: st.subtasks, workers: Object.values(st.perMember).filter(m => m.done + m.running > 0).length, state: st.state }
    if (!killedWorker && st.counts.done >= st.subtasks / 4) {
      const busiest = Object.entries(st.perMember).filter(([id]) => id !== submitter.peerId).sort((a, b) => b[1].running - a[1].running)[0]
      const node = [...swarm.nodes.values()].find(n => n.peerId === busiest?.[0])
      if (node !== undefined) {
        await swarm.kill(node.index)
        note(`worker node ${name(node.index)} killed with SIGKILL at ${Math.round(100 * st.counts.done / st.subtasks)}% (it held ${busiest![1].running} subtasks)`)
      }
      killedWorker = true
    }
    if (st.state === 'done' || st.state === 'failed' || st.state === 'cancelled') break
    if (s.stopped()) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const result = await submitter.client.call('task.result', { jobId })
  const expected = countPrimesBelow(JOB_RANGE)
  note(result.state === 'done'
    ? `job done: ${String(result.result)} primes (a local count says ${expected}: ${result.result === expected ? 'right' : 'WRONG'})`
    : `job ${result.state}: ${result.error ?? ''}`)
  note(s.epilogue)
}

/** An independent local count (a plain sieve), to check the swarm's answer. */
function countPrimesBelow (n: number): number {
  const composite = new Uint8Array(n)
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}

function renderJob (job: JobProgress): string {
  const width = 40
  const filled = job.subtasks === 0 ? width : Math.round(width * job.done / job.subtasks)
  return `job: [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${job.done}/${job.subtasks} subtasks, ${job.workers} workers, ${job.state}`
}

export interface DemoOptions { help: boolean, count: number, durationS: number, churn: boolean }

/** The demo's flags, checked: `--nodes` 2..20, `--duration` seconds >= 0 (0 = until Ctrl-C), `--no-churn`. */
export function demoOptions (argv: string[]): DemoOptions {
  const { values } = parse('demo', argv, {
    nodes: { type: 'string', default: '5' },
    duration: { type: 'string', default: '0' },
    churn: { type: 'boolean', default: true }
  })
  const count = Number(str(values.nodes))
  const durationS = Number(str(values.duration))
  if (!Number.isInteger(count) || count < 2 || count > 20) throw new UsageError(`shoal demo: --nodes must be an integer from 2 to 20, got '${str(values.nodes) ?? ''}'`)
  if (!Number.isFinite(durationS) || durationS < 0) throw new UsageError(`shoal demo: --duration must be a number of seconds (0 = until Ctrl-C), got '${str(values.duration) ?? ''}'`)
  return { help: values.help === true, count, durationS, churn: values.churn === true }
}

export async function demoCommand (argv: string[], io: Io): Promise<number> {
  const opts = demoOptions(argv)
  if (opts.help) { io.out(DEMO_HELP); return 0 }
  const { count, durationS } = opts

  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn', '--swarm', 'demo'] })
  const started = Date.now()
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`
  const tty = process.stdout.isTTY === true
  // Set-up lines stay at the top of the screen; story lines below the table. While the screen is redrawn
  // (a terminal, during the run) a note joins the next frame; before and after, and without a terminal, it is
  // printed as a line at once, so nothing said is lost or left undrawn.
  const pinned: string[] = []
  const story: string[] = []
  let drawing = false
  let lastOutput = Date.now()
  const say = (text: string): void => { io.out(text); lastOutput = Date.now() }
  const line = (text: string): string => `${elapsed().padStart(6)}  ${text}`
  const note = (text: string): void => { story.push(line(text)); if (!tty || !drawing) say(line(text)) }
  const pin = (text: string): void => { pinned.push(line(text)); if (!tty || !drawing) say(line(text)) }
  let stopRequested = false
  const stop = (): void => { stopRequested = true }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  try {
    pin(`starting ${count} daemons in ${swarm.root}…`)
    const first = await swarm.start(1)
    await Promise.all(Array.from({ length: count - 1 }, async (_, i) => await swarm.start(i + 2, { bootstrap: [first.addrs[0]!] })))
    const ids = new Map<number, string>([...swarm.nodes.values()].sort((a, b) => a.index - b.index).map(n => [n.index, n.peerId]))
    pin(`all ${count} daemons running: ${[...ids.values()].map(nodeName).join(', ')}; the others know only ${nodeName(first.peerId)}'s address`)
    const dashboard = first.rpcUrl.replace(/rpc$/, '')
    pin(`dashboard: ${dashboard} (token: ${(await readToken(first.dataDir)).slice(0, 64)})`)

    const live: { rows: Row[], job?: JobProgress } = { rows: [] }
    const epilogue = `the story is over; the swarm keeps running so you can explore the dashboard (${dashboard}). ` +
      (durationS === 0 ? 'Ctrl-C stops it.' : `It stops by itself at ${durationS}s, or on Ctrl-C.`)
    let storyOver = false
    const scene = scenario({ swarm, ids, count, churn: opts.churn, note, live, stopped: () => stopRequested, epilogue })
      .catch(err => { note(`scenario stopped: ${(err as Error).message}`) })
      .finally(() => { storyOver = true })
    let lastFrame = ''
    drawing = tty
    while (!stopRequested && (durationS === 0 || Date.now() - started < durationS * 1000)) {
      live.rows = await snapshot(swarm, count)
      const frame = render(live.rows, ids, count) + (live.job === undefined ? '' : `\n\n${renderJob(live.job)}`)
      const left = durationS === 0 ? 'Ctrl-C to stop.' : `Stops in ${Math.max(0, Math.ceil(durationS - (Date.now() - started) / 1000))}s, or on Ctrl-C.`
      if (tty) {
        io.out(`\x1b[2J\x1b[H${header(count, elapsed())}\n${pinned.join('\n')}\n\n${frame}\n\n${story.slice(-STORY_LINES).join('\n')}\n\n${left}`)
      } else if (frame !== lastFrame) {
        say(frame)
      } else if (Date.now() - lastOutput >= QUIET_MS) {
        const alive = live.rows.filter(r => r.node !== undefined).length
        say(line(`${storyOver ? 'still running' : 'working'}: ${alive} of ${count} daemons up. ${left}`))
      }
      lastFrame = frame
      await new Promise(resolve => setTimeout(resolve, REFRESH_MS))
    }
    stopRequested = true
    await scene
    drawing = false
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

function header (count: number, elapsed: string): string {
  return `Shoal demo: ${count} daemons on 127.0.0.1   ${elapsed}\n` +
    `Each row is one daemon's membership view; nodes are named by the end of their peer id, as on the dashboard. ` +
    `${Object.entries(SYMBOL).map(([s, c]) => `${c} ${s}`).join('  ')}  · unknown`
}

/** The live table: one row per daemon, one column per node it may see, all named by nodeName. */
export function render (rows: Row[], ids: Map<number, string>, count: number): string {
  const cols = Array.from({ length: count }, (_, i) => nodeName(ids.get(i + 1) ?? ''))
  return table(['NODE', 'RPC', 'PEERS', ...cols], rows.map(r => [
    nodeName(ids.get(r.index) ?? ''),
    r.node === undefined ? '(down)' : r.node.rpcUrl.replace(/^http:\/\/|\/rpc$/g, ''),
    r.peers === undefined ? '-' : String(r.peers),
    ...cols.map((_, i) => r.node === undefined ? ' ' : SYMBOL[r.view.get(ids.get(i + 1) ?? '') ?? ''] ?? '·')
  ]))
}
