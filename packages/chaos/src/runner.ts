/**
 * One chaos run, start to end: prepare the environment (root: namespaces, tmpfs, libfaketime; otherwise the
 * fallbacks, said out loud), start the cluster, run the clients and the nemesis for the duration, heal
 * everything, kill -9 a minority that includes the latest replicated writers (invariant 3), wait for the
 * survivors to agree, restart the killed nodes, wait for everyone to agree, read every node's state, check.
 * Everything lands in <outDir>/<seed>/: history.jsonl, schedule.txt, violations.jsonl, summary.txt, logs/.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ChaosCluster, LIBFAKETIME } from './cluster.js'
import { checkAll } from './checkers/index.js'
import { waitForConvergence, percentile } from './converge.js'
import { History, showOp } from './history.js'
import { CHAOS_SUM_MODULE } from './jobs-model.js'
import { runNemesis } from './nemesis.js'
import { renderTable } from './report.js'
import type { RunSummary } from './report.js'
import { baseClockOffsets, generateSchedule, showFault } from './schedule.js'
import { ensureDebianPackages, isRoot, tryRun } from './sh.js'
import { FAULT_KINDS } from './types.js'
import type { FaultKind, Op, Violation } from './types.js'
import { runClients } from './workload.js'
import { replicatedWrite } from './checkers/common.js'

export interface RunOptions {
  nodes: number
  durationMs: number
  seed: number
  faults: FaultKind[]
  outDir: string
  /** 'auto': namespaces when root; 'off': always debug.partition. */
  netns?: 'auto' | 'off'
  /** Name prefix of namespaces and links (default 'chaos'); two runs at once on one machine need two prefixes. */
  netnsPrefix?: string
  keys?: number
  thinkMs?: number
  /** How long to wait for replicas to agree after the heal (and again after the restart); default 60 s. */
  convergenceDeadlineMs?: number
  log?: (line: string) => void
}

/** Tight enough that a 20 s skew is past it, so future-dated records happen in every run with skew. */
export const CHAOS_MAX_CLOCK_DRIFT_MS = 5000
/** The issue's bound: every replica equal within 5 s p99 of the last heal. */
export const CONVERGENCE_BUDGET_MS = 5000
/** How long the harness waits for agreement before it calls it a violation. */
const CONVERGENCE_DEADLINE_MS = 60_000
const SUSPICION_MS = 3000
/** A 7-node swarm forms in a few seconds on a quiet box; at load average 30+ it took over 60 s. */
const FORM_DEADLINE_MS = 180_000

export function nodeConfig (i: number, modulePath: string): Record<string, unknown> {
  return {
    events: { maxClockDriftMs: CHAOS_MAX_CLOCK_DRIFT_MS, digestIntervalMs: 1000 },
    kv: { antiEntropyIntervalMs: 2000 },
    // Mixed fleet: slots 1, 2, 4 by turns; the chaos-sum handler only on odd nodes.
    tasks: { slots: [1, 2, 4][i % 3]!, ...(i % 2 === 1 ? { modules: { 'chaos-sum': modulePath } } : {}) }
  }
}

export async function runChaos (o: RunOptions): Promise<RunSummary> {
  const log = o.log ?? ((line: string) => { process.stdout.write(line + '\n') })
  const dir = resolve(o.outDir, String(o.seed))
  await unmountUnder(dir)
  await rm(dir, { recursive: true, force: true })
  await mkdir(join(dir, 'logs'), { recursive: true })
  const root = isRoot()
  const missing = await ensureDebianPackages([
    { command: 'ip', pkg: 'iproute2' }, { command: 'iptables', pkg: 'iptables' }, { command: 'faketime', pkg: 'faketime' }
  ], log)
  const netns = root && o.netns !== 'off' && !missing.includes('iproute2') && !missing.includes('iptables')
  const clocks = existsSync(LIBFAKETIME)
  const tmpfs = root
  if (!netns) log(`partitions: FALLBACK to the daemon's debug.partition (${root ? 'namespaces turned off' : 'not root'}): connections are refused by the gater, packets are not dropped`)
  if (!clocks) log(`clock skew: UNAVAILABLE (${LIBFAKETIME} missing; apt-get install faketime as root): skew faults are skipped`)
  if (!tmpfs) log('full disk: UNAVAILABLE (tmpfs needs root): disk faults are skipped')
  const available = new Set<FaultKind>(FAULT_KINDS.filter(k => (k !== 'skew' || clocks) && (k !== 'disk' || tmpfs)))

  const modulePath = join(dir, 'chaos-sum.mjs')
  await writeFile(modulePath, CHAOS_SUM_MODULE)
  const jobNode = 1 + (o.seed % o.nodes)
  const schedule = generateSchedule({ seed: o.seed, nodes: o.nodes, durationMs: o.durationMs, faults: o.faults, suspicionMs: SUSPICION_MS, jobNode })
  await writeFile(join(dir, 'schedule.txt'), schedule.map(showFault).join('\n') + '\n')
  // Fixed offsets of at most a quarter of the drift bound, so two nodes' clocks differ by at most half of it and
  // invariant 2 (which compares writes more than the bound apart) keeps a margin.
  const baseOffsetMs = clocks && o.faults.includes('skew') ? baseClockOffsets(o.seed, o.nodes, CHAOS_MAX_CLOCK_DRIFT_MS / 4) : undefined
  if (baseOffsetMs !== undefined) await writeFile(join(dir, 'schedule.txt'), `fixed clock offsets (ms): ${JSON.stringify(baseOffsetMs)}\n` + schedule.map(showFault).join('\n') + '\n')
  const history = new History(join(dir, 'history.jsonl'))
  const cluster = await ChaosCluster.create({
    nodes: o.nodes, dir, netns, clocks, ...(tmpfs ? { tmpfsMb: 96 } : {}), ...(baseOffsetMs !== undefined ? { baseOffsetMs } : {}), prefix: o.netnsPrefix ?? 'chaos', subnet: subnetFor(o.netnsPrefix ?? 'chaos'),
    config: i => nodeConfig(i, modulePath), log
  })
  const onSignal = (): void => { void cluster.destroy().then(() => process.exit(130)) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    log(`starting ${o.nodes} daemons (${netns ? 'one network namespace each' : 'loopback'}) in ${dir}`)
    await cluster.start()
    await waitFormed(cluster, FORM_DEADLINE_MS)
    log(`swarm formed; running clients and nemesis for ${Math.round(o.durationMs / 1000)} s (seed ${o.seed}, ${schedule.length} faults scheduled)`)
    const stop = new AbortController()
    const startedAt = Date.now()
    const clients = runClients(cluster, history, { seed: o.seed, keys: o.keys ?? 8, thinkMs: o.thinkMs ?? 60, callTimeoutMs: 12_000, jobNode, partialHandler: 'chaos-sum' }, stop.signal)
    const nemesis = runNemesis({ cluster, history, available, log }, schedule, startedAt, stop.signal)
    await new Promise(resolve => setTimeout(resolve, o.durationMs))
    stop.abort()
    const [nem] = await Promise.all([nemesis, clients])

    log('workload stopped; healing everything')
    await cluster.healAll()
    const healAt = Date.now()
    history.note({ phase: 'heal-all' })

    // Invariant 3: kill -9 a minority, the latest replicated writers first, before replicas had time to agree.
    const minority = Math.floor((o.nodes - 1) / 2)
    const killed = latestReplicatedWriters(history.ops, cluster.indexes, minority)
    history.note({ phase: 'durability-kill', nodes: killed })
    for (const i of killed) await cluster.kill(i)
    const survivorsIdx = cluster.indexes.filter(i => !killed.includes(i))
    const deadline = o.convergenceDeadlineMs ?? CONVERGENCE_DEADLINE_MS
    const surv = await waitForConvergence(cluster, survivorsIdx, healAt, deadline)
    log(`survivors ${surv.converged ? `agree ${surv.afterMs} ms after the heal` : 'did NOT agree before the deadline'}`)
    const restartAt = Date.now()
    for (const i of killed) await cluster.restart(i)
    await waitFormed(cluster, 60_000).catch(err => log(`after restart: ${(err as Error).message}`))
    const fin = await waitForConvergence(cluster, cluster.indexes, restartAt, deadline)
    log(`all nodes ${fin.converged ? `agree ${fin.afterMs} ms after the restart` : 'did NOT agree before the deadline'}`)
    await history.close()

    const p50 = percentile(surv.perKeyMs, 0.5)
    const p99 = percentile(surv.perKeyMs, 0.99)
    const violations = checkAll({
      ops: history.ops, members: o.nodes, peerIds: cluster.peerIds, maxClockDriftMs: CHAOS_MAX_CLOCK_DRIFT_MS,
      survivors: surv.states, killed, final: fin.states, wipes: cluster.wipeLog,
      convergence: { converged: surv.converged && fin.converged, afterMs: p99, deadlineMs: deadline, budgetMs: CONVERGENCE_BUDGET_MS, differences: [...surv.differences, ...fin.differences] }
    })
    await writeFile(join(dir, 'violations.jsonl'), violations.map(v => JSON.stringify(v)).join('\n') + (violations.length > 0 ? '\n' : ''))
    await writeFile(join(dir, 'final-state.json'), JSON.stringify({ survivors: surv.states, final: fin.states }, null, 1))
    const summary: RunSummary = {
      seed: o.seed, nodes: o.nodes, durationMs: o.durationMs,
      mode: { network: netns ? 'netns+iptables' : 'debug.partition', clocks, tmpfs },
      injected: nem.injected, skipped: nem.skipped, shapes: nem.shapes, dropped: nem.dropped, selected: o.faults, ops: history.ops, violations,
      convergence: { survivorsMs: surv.afterMs, finalMs: fin.afterMs, p50, p99, converged: surv.converged && fin.converged },
      killedForDurability: killed, crashes: cluster.crashes, dir
    }
    for (const v of violations) log(showViolation(v))
    const table = renderTable(summary)
    await writeFile(join(dir, 'summary.txt'), table + '\n')
    log(table)
    return summary
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await cluster.destroy()
    await rm(join(dir, 'nodes'), { recursive: true, force: true }).catch(() => undefined)
  }
}

/** Unmounts tmpfs data dirs a killed earlier run left under `dir` (rm cannot remove a mount point). */
async function unmountUnder (dir: string): Promise<void> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '')
  for (const line of mounts.split('\n')) {
    const target = line.split(' ')[1]
    if (target !== undefined && target.startsWith(dir + '/')) await tryRun('umount', ['-l', target])
  }
}

/** 10.77.0.0/24 for the default prefix; another prefix gets its own /24 in 10.77.0.0/16 (a stable hash). */
export function subnetFor (prefix: string): string {
  if (prefix === 'chaos') return '10.77.0'
  let h = 0
  for (const c of prefix) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return `10.77.${1 + (h % 250)}`
}

/** A violation with its history excerpt, as printed. */
export function showViolation (v: Violation): string {
  return [`VIOLATION ${v.invariant}: ${v.message}`, ...v.ops.map(op => `    ${showOp(op)}`)].join('\n')
}

/** Up to `count` nodes, those that acknowledged the most recent replicated writes first. */
export function latestReplicatedWriters (ops: Op[], nodes: number[], count: number): number[] {
  const out: number[] = []
  const writes = ops.filter(op => op.kind === 'kv.put' && op.outcome === 'ok' && replicatedWrite(op)).sort((a, b) => b.completeAt - a.completeAt)
  for (const w of writes) {
    if (out.length >= count) break
    if (!out.includes(w.node)) out.push(w.node)
  }
  for (const n of nodes) if (out.length < count && !out.includes(n)) out.push(n)
  return out
}

async function waitFormed (cluster: ChaosCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const counts = await Promise.all(cluster.indexes.map(async i => {
      const c = cluster.client(i)
      if (c === undefined) return -1
      return (await c.call('swarm.members', { state: 'alive' }, { timeoutMs: 5000 }).catch(() => [])).length
    }))
    if (counts.every(n => n === cluster.indexes.length)) return
    last = counts.join(',')
    if (Date.now() > deadline) throw new Error(`swarm not formed after ${timeoutMs} ms (alive counts ${last})`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}
