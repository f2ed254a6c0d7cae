/**
 * Distributed jobs: (1) subtasks/s of a trivial handler (`sleep {ms: 0}`) on 1, 3 and 5 daemons, and the
 * per-subtask overhead beside the same kind of call in a local loop; (2) a CPU-bound `primes` job on 1 and 3
 * daemons beside a plain worker_threads pool in this process running the same sieve over the same ranges.
 * Prints one Markdown section.
 */
import { availableParallelism, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { SMOKE, log, nodes, withSwarm } from './common.js'
import { localLoopMsPerCall, localPoolPrimes, splitRange } from './tasks-local.js'
import { median, ms, rate, ratio, table } from './stats.js'
import { diff, sample } from './tasks-counters.js'
import type { Counters } from './tasks-counters.js'

const SIZES = SMOKE ? [1, 3] : [1, 3, 5]
const M = SMOKE ? 60 : 500
/** A job of trivial subtasks long enough (hundreds of ms) for the other daemons to take chunks from the submitter. */
const M_BIG = SMOKE ? 240 : 5000
const BIG_REPS = SMOKE ? 1 : 3
const WARMUP_SUBTASKS = 20
const LOOP_REPS = 3
const PRIMES_TO = SMOKE ? 5_000_000 : 200_000_000
const PRIMES_SPLIT = SMOKE ? 20 : 200
/** Known prime counts, a check on all three runs besides their agreeing with each other. */
const KNOWN_PI: Record<number, number> = { 5_000_000: 348_513, 200_000_000: 11_078_937 }
const JOB_DEADLINE_MS = SMOKE ? 60_000 : 300_000
/** Each timed job runs this many times on the same swarm; tables give the median (and the range). */
const REPS = SMOKE ? 1 : 5
const PRIMES_REPS = SMOKE ? 1 : 5
const CORES = availableParallelism()
/** The box is shared with other work: the load when the run started goes into the report. */
const loadAtStart = loadavg()[0]!

interface JobRun { wallMs: number, result: unknown, workers: number, cost?: Counters, subtasks: number, minMs?: number, maxMs?: number }

/** One job submitted to `node`; `all` (every node) is asked who worked, and with `count` sampled for the cost. */
async function runJob (node: LocalNode, params: { handler: string, input: unknown, split: number }, all?: LocalNode[], count = true): Promise<JobRun> {
  const before = all === undefined || !count ? undefined : await sample(all)
  const t0 = performance.now()
  const { jobId } = await node.client.call('task.submit', params, { timeoutMs: 30_000 })
  const r = await node.client.call('task.result', { jobId, wait: true, timeoutMs: JOB_DEADLINE_MS }, { timeoutMs: JOB_DEADLINE_MS + 10_000 })
  const wallMs = performance.now() - t0
  if (r.state !== 'done') throw new Error(`${params.handler} job ended ${r.state}: ${r.error ?? ''}`)
  // Who did the work: results stream to the finisher (decision 0011), so a node sees its own results and those
  // in checkpoints; the union over every node's status names each member that ran subtasks.
  const workers = new Set<string>()
  for (const n of all ?? [node]) {
    const s = await n.client.call('task.status', { jobId }, { timeoutMs: 5000 })
    for (const [id, m] of Object.entries(s.perMember)) if (m.done > 0) workers.add(id)
  }
  const cost = all === undefined || before === undefined ? undefined : diff(before, await sample(all))
  return { wallMs, result: r.result, workers: workers.size, subtasks: params.split, ...(cost !== undefined ? { cost } : {}) }
}

/**
 * The same job `reps` times in a row: the median wall time and its range; the cost (sampled around all of them)
 * per job; the members that worked in any of them.
 */
async function runJobs (node: LocalNode, params: { handler: string, input: unknown, split: number }, all: LocalNode[], reps: number, count = true): Promise<JobRun> {
  const before = count ? await sample(all) : undefined
  const runs: JobRun[] = []
  for (let r = 0; r < reps; r++) runs.push(await runJob(node, params, all, false))
  const walls = runs.map(r => r.wallMs)
  const cost = before === undefined ? undefined : perJob(diff(before, await sample(all)), reps)
  return { ...runs.at(-1)!, wallMs: median(walls), minMs: Math.min(...walls), maxMs: Math.max(...walls), workers: Math.max(...runs.map(r => r.workers)), ...(cost !== undefined ? { cost } : {}) }
}

const perJob = (c: Counters, reps: number): Counters => ({ cpuMs: c.cpuMs / reps, writes: c.writes / reps, signatures: c.signatures / reps, verifies: c.verifies / reps })

/** Primes on the daemons and on the local pool, run by turns (daemons, then pool, each round): the box's speed drifts within minutes. */
interface PrimesRounds { daemon: JobRun, pool: Array<Awaited<ReturnType<typeof localPoolPrimes>>>, ratios: number[] }

interface SwarmOutcome { n: number, trivial: JobRun, small: JobRun, big: JobRun, primes?: PrimesRounds }

async function onSwarm (n: number): Promise<SwarmOutcome> {
  return await withSwarm(n, async swarm => {
    const first = nodes(swarm)[0]!
    log(`tasks: ${n} daemon(s), warm-up`)
    await runJob(first, { handler: 'sleep', input: { ms: 0 }, split: WARMUP_SUBTASKS })
    // A small primes job submitted to every daemon starts every daemon's worker pool (as the local pool's workers
    // are started before its clock runs): the submitter runs a job this short itself (decision 0018), so one job
    // on node 1 would start node 1's pool only.
    for (const node of nodes(swarm)) await runJob(node, { handler: 'primes', input: { from: 0, to: 100_000 }, split: 2 * CORES })
    // The same job at a quarter of the size: the per-job costs should stay put, the per-subtask ones shrink.
    const small = await runJobs(first, { handler: 'sleep', input: { ms: 0 }, split: Math.ceil(M / 4) }, nodes(swarm), REPS)
    log(`tasks: ${n} daemon(s), ${REPS} x ${M} sleep subtasks`)
    const trivial = await runJobs(first, { handler: 'sleep', input: { ms: 0 }, split: M }, nodes(swarm), REPS)
    log(`tasks: ${n} daemon(s), trivial median ${ms(trivial.wallMs)} (${ms(trivial.minMs!)}-${ms(trivial.maxMs!)})`)
    const big = await runJobs(first, { handler: 'sleep', input: { ms: 0 }, split: M_BIG }, nodes(swarm), BIG_REPS)
    log(`tasks: ${n} daemon(s), ${BIG_REPS} x ${M_BIG} sleep subtasks: median ${ms(big.wallMs)}, ${big.workers} of ${n} worked`)
    if (n > 3) return { n, trivial, small, big }
    log(`tasks: ${n} daemon(s), ${PRIMES_REPS} x primes below ${PRIMES_TO} split ${PRIMES_SPLIT}, each beside a local pool run`)
    const params = { handler: 'primes', input: { from: 0, to: PRIMES_TO }, split: PRIMES_SPLIT }
    const runs: JobRun[] = []
    const pool: PrimesRounds['pool'] = []
    for (let r = 0; r < PRIMES_REPS; r++) {
      runs.push(await runJob(first, params, nodes(swarm), false))
      pool.push(await localPoolPrimes(splitRange(0, PRIMES_TO, PRIMES_SPLIT), CORES, JOB_DEADLINE_MS))
    }
    const walls = runs.map(r => r.wallMs)
    const daemon: JobRun = { ...runs.at(-1)!, wallMs: median(walls), minMs: Math.min(...walls), maxMs: Math.max(...walls), workers: Math.max(...runs.map(r => r.workers)) }
    if (!runs.every(r => r.result === daemon.result)) throw new Error(`prime counts of the daemon runs disagree: ${runs.map(r => String(r.result)).join(', ')}`)
    const ratios = runs.map((r, i) => r.wallMs / pool[i]!.wallMs)
    log(`tasks: ${n} daemon(s), primes median ${ms(daemon.wallMs)} -> ${String(daemon.result)}; per-round ratios to the pool ${ratios.map(x => x.toFixed(2)).join(', ')}`)
    return { n, trivial, small, big, primes: { daemon, pool, ratios } }
  })
}

const outcomes: SwarmOutcome[] = []
for (const n of SIZES) outcomes.push(await onSwarm(n))

const loop: number[] = []
for (let r = 0; r < LOOP_REPS; r++) loop.push(await localLoopMsPerCall(M))
const perCall = median(loop)
log(`tasks: local loop ${perCall.toFixed(3)} ms per call`)

const range = (r: { minMs?: number, maxMs?: number }): string => r.minMs === undefined || r.maxMs === undefined || REPS === 1 ? '' : ` (${ms(r.minMs)}-${ms(r.maxMs)})`
// Every local pool run and every daemon job counted the same primes.
const counts = outcomes.flatMap(o => o.primes === undefined ? [] : [...o.primes.pool.map(p => p.count), o.primes.daemon.result])
if (!counts.every(c => c === counts[0])) throw new Error(`prime counts disagree: ${counts.join(', ')}`)
const known = KNOWN_PI[PRIMES_TO]
if (known !== undefined && counts[0] !== known) throw new Error(`prime count ${String(counts[0])}, expected ${known}`)

const trivialRows = outcomes.map(({ n, trivial }) => {
  const slots = n * CORES
  const each = trivial.wallMs / M
  const fair = (trivial.wallMs * slots) / M
  return [String(n), String(slots), `${trivial.workers} of ${n}`, `${ms(trivial.wallMs)}${range(trivial)}`, rate(M / (trivial.wallMs / 1000), 'subtasks/s'),
    ms(each), ms(fair), ratio(each, perCall), ratio(fair, perCall)]
})
const throughput = (run: JobRun): number => run.subtasks / (run.wallMs / 1000)
const one = outcomes.find(o => o.n === 1)
const vsOne = (run: JobRun, pick: (o: SwarmOutcome) => JobRun): string => one === undefined ? '-' : ratio(throughput(run), throughput(pick(one)))
const sizeRows = outcomes.map(o => [String(o.n), rate(throughput(o.trivial), 'subtasks/s'), `${o.trivial.workers} of ${o.n}`, vsOne(o.trivial, x => x.trivial),
  `${ms(o.big.wallMs)}${range(o.big)}`, rate(throughput(o.big), 'subtasks/s'), `${o.big.workers} of ${o.n}`, vsOne(o.big, x => x.big)])
const per = (v: number, n: number): string => (v / n).toFixed(v / n < 10 ? 2 : 1)
const costRows = outcomes.flatMap(({ n, small, trivial, big }) => [small, trivial, big].map(run => {
  const c = run.cost!
  return [String(n), run.subtasks.toLocaleString('en-US'), rate(run.subtasks / (run.wallMs / 1000), 'subtasks/s'), `${per(c.cpuMs, run.subtasks)} ms`,
    Number.isInteger(c.writes) ? String(c.writes) : c.writes.toFixed(1), per(c.writes, run.subtasks), per(c.signatures, run.subtasks), per(c.verifies, run.subtasks)]
}))
const primesRows = outcomes.flatMap(({ n, primes }) => {
  if (primes === undefined) return []
  const { daemon, pool, ratios } = primes
  const poolWalls = pool.map(p => p.wallMs)
  const spread = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : ''
  return [[`${n} daemon${n === 1 ? '' : 's'} (${n * CORES} slots, ${daemon.workers} of ${n} worked)`, `${ms(daemon.wallMs)}${range(daemon)}`,
    `${ms(median(poolWalls))}${range({ minMs: Math.min(...poolWalls), maxMs: Math.max(...poolWalls) })}`, Number(daemon.result).toLocaleString('en-US'), `${median(ratios).toFixed(2)}x${spread}`]]
})

const n3 = outcomes.find(o => o.n === 3)
process.stdout.write(`## Distributed jobs: subtask overhead and CPU-bound work${SMOKE ? ' (smoke)' : ''}

Method: N daemons on 127.0.0.1 (LocalSwarm, default \`tasks.slots\` = one per core, so ${CORES} slots each); each swarm
first runs an untimed warm-up (a ${WARMUP_SUBTASKS}-subtask sleep job, and a small primes job submitted to each daemon,
which runs it itself, so every daemon's worker pool has started, as the local pool's workers have). Timing runs
from \`task.submit\` on node 1 to \`task.result\` (\`wait: true\`) answering there. Each timed job runs ${REPS} times in a
row on the same swarm (primes ${PRIMES_REPS} times, by turns with the local pool): a wall time is the median, with the fastest
and slowest run in brackets, and a cost is the total over the runs divided by their number.

**Trivial handler.** One job of M = ${M.toLocaleString('en-US')} subtasks of \`sleep {ms: 0}\` (\`split: ${M}\`). "Per subtask" is wall time / M;
"slot-time per subtask" is wall time x total slots / M, the fairer figure when several run at once. Baseline: the
same kind of call made ${M.toLocaleString('en-US')} times in a sequential loop in the bench process (median of ${LOOP_REPS} loops): ${ms(perCall)} per
call. That baseline is an equivalent function written in the bench (validate \`ms\`, an abortable \`setTimeout\`,
return \`{slept}\`), not the daemon's handler object: \`@shoal/node\` does not export \`createHandlerRegistry\`. Most of
its time is Node's 1 ms minimum \`setTimeout\`, which the daemons' handler pays too. The job's submitter runs its
first chunks itself and the others take chunks from it only once its slots have been full for 100 ms; chunks of a
handler it has measured as cheap hold about 50 ms of work (docs/decisions/0018-submitter-first-and-cost-sized-chunks.md).
A job this small therefore stays on node 1: "members that ran subtasks" says so, and what the other daemons cost is
the replication of the job's records (the next table). Once node 1 has measured the handler, it expects such a job
to end within 100 ms and writes no lease for it: the job costs its job record and its final state
(docs/decisions/0019-held-back-submitter-leases.md).

${table(['N', 'slots', 'members that ran subtasks', 'wall time', 'throughput', 'per subtask', 'slot-time per subtask', 'per subtask / local call', 'slot-time / local call'], trivialRows)}

**Throughput against the job's size.** The same handler in a job of ${M_BIG.toLocaleString('en-US')} subtasks (\`split: ${M_BIG}\`, ${BIG_REPS} runs,
the median), long enough for the other daemons to take chunks from the submitter. A job of ${M} measures what one short
job costs from submit to result (its records, their replication, the other daemons' share of the ${CORES} cores); a job
that spreads measures what the swarm can do. "vs 1 daemon" is the throughput over the 1-daemon swarm's for the
same job. On one box more daemons add no cores, but these subtasks wait on timers, not on a core: each slot runs 8
of a chunk's subtasks at a time, each at least Node's 1 ms \`setTimeout\`, so 1 daemon runs this job on a fraction
of one core (CPU per subtask x subtasks / wall time, next table), and a job that spreads over more daemons' slots
finishes sooner on the same box.

${table(['N', `job of ${M}: throughput`, 'ran it', 'vs 1 daemon', `job of ${M_BIG.toLocaleString('en-US')}: wall time`, 'throughput', 'ran it', 'vs 1 daemon'], sizeRows)}

**Cost per subtask, swarm-wide.** Sampled on every daemon before the first run of a job and after the last, per job (bench/src/tasks-counters.ts):
CPU is user + system time of all daemon processes (/proc/<pid>/stat, worker threads included); replicated writes
are successful KV puts and deletes (\`shoal_kv_operations_total\`), each one signed event applied on every node and
fsync'd on the node that wrote it, so "writes" is also the writers' fsync count; signatures are events published
(\`shoal_events_published_total\`); checks are Ed25519 verifications of received events
(\`shoal_events_signature_checks_total\`, outcomes valid and invalid; a node verifies each event once, however many
copies of it arrive: by gossip, by a push asking its ack, by repair).
Jobs lease chunks of subtasks (docs/decisions/0006-chunked-job-leases.md) and send each chunk's result to the
job's finisher over a stream, which keeps them in a checkpoint record every 0.5 s while the job runs (none for a
job shorter than that) and in the final state (docs/decisions/0011-task-result-stream.md), so the writes per job
do not grow with the job's size and the per-subtask figures fall as jobs grow.

${table(['N', 'subtasks', 'throughput', 'CPU per subtask', 'replicated writes (job)', 'writes per subtask', 'signatures per subtask', 'signature checks per subtask'], costRows)}

**CPU-bound primes.** Primes below ${PRIMES_TO.toLocaleString('en-US')} split into ${PRIMES_SPLIT} ranges (\`primes\` with \`split: ${PRIMES_SPLIT}\`), on 1 daemon and on
3 daemons. Baseline: a plain \`worker_threads\` pool of os.availableParallelism() = ${CORES} workers in the bench process
running the daemon's own segmented-sieve function (packages/node's \`builtin-work.js\`, \`countPrimes\`) over the same
${PRIMES_SPLIT} ranges, each worker pulling the next range; the machine's limit for this work. The two take turns: each
of the ${PRIMES_REPS} rounds runs the job on the daemons, then the pool once (the box's speed drifts by a third within
minutes); "vs local pool" is the median of the rounds' ratios, with the lowest and highest in brackets, and the
pool's wall time is that of the rounds beside the daemons'. All counts agree
(checked${known === undefined ? '' : `, and equal to the known pi(${PRIMES_TO.toLocaleString('en-US')}) = ${known.toLocaleString('en-US')}`}).

${table(['run', 'wall time', 'local pool, same rounds', 'primes counted', 'vs local pool (per round)'], primesRows)}

This machine has ${CORES} cores: the ${n3 === undefined ? 3 : n3.n} daemons all run on the same ${CORES} cores (${3 * CORES} worker slots competing for them), so
more daemons cannot beat the local pool here. The table shows the jobs layer's overhead (leases, results and
checkpoints and their replication, the daemons' own event loops), not a scaling win; a speed-up needs daemons on
separate machines.

The box is shared: its 1-minute load average was ${loadAtStart.toFixed(1)} when this run started and ${loadavg()[0]!.toFixed(1)} when it ended.
`)
process.exit(0)
