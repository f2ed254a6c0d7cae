/**
 * The paced runs the delivery benches share (events-latency, kv-replication): one message from node 1 every
 * 1/rate s whatever the previous ones are doing, timed by one Recorder for Shoal and its baseline alike.
 */
import { performance } from 'node:perf_hooks'
import { sleep } from './common.js'
import type { Cluster } from './clusters.js'
import { totalCpuMs } from './proc-cpu.js'
import type { Latency, Recorder } from './recorder.js'

/**
 * Message ids of the phases (the measured run uses 1..M): warm-up rounds, the cold start measured on its own,
 * and the steady-state warm-up that is not measured.
 */
const WARMUP_BASE = 1_000_000
const COLD_BASE = 2_000_000
const STEADY_WARMUP_BASE = 3_000_000

/** Polls `done` every 20 ms; false when `timeoutMs` passed first. */
export async function waitUntil (done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/**
 * Warm-up rounds (ids WARMUP_BASE..) until one message reaches every node within a second (meshes formed), then a
 * gossipsub heartbeat more. Throws after 30 rounds.
 */
export async function warmUp (cluster: Cluster, recorder: Recorder): Promise<void> {
  for (let k = 0; k < 30; k++) {
    const id = WARMUP_BASE + k
    recorder.markSent(id)
    await cluster.publish(id)
    if (await waitUntil(() => recorder.complete(id, id), 1000) && k >= 2) break
    if (k === 29) throw new Error('warm-up: no message reached every node')
  }
  await sleep(1500)
}

/**
 * Paced: message `first + k` leaves at start + k / rate s; then waits up to `drainMs` for every node to have them
 * all. Throws when a publish failed.
 */
async function paced (cluster: Cluster, recorder: Recorder, opts: { first: number, count: number, rate: number, drainMs: number }): Promise<void> {
  const failures: unknown[] = []
  const inFlight = new Set<Promise<void>>()
  const start = performance.now()
  for (let k = 0; k < opts.count; k++) {
    const id = opts.first + k
    const due = start + k * 1000 / opts.rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    recorder.markSent(id)
    const p = cluster.publish(id).catch(err => { failures.push(err) }).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  if (failures.length > 0) throw new Error(`${failures.length} publishes failed: ${String(failures[0])}`)
  await waitUntil(() => recorder.complete(opts.first, opts.first + opts.count - 1), opts.drainMs)
}

/** What pacedPhases measures: the steady state's latency, the cold start's, and the swarm's CPU per message. */
export interface PacedResult extends Latency {
  coldP50: number
  coldP99: number
  /** CPU time (all threads) of every node's process during the measured run, summed, per message, ms. */
  pacedCpuPerMessageMs: number
}

/**
 * After the warm-up, at `rate`: `cold` messages measured on their own (the cold start), `steadyWarmup` more not
 * measured, then the `measured` messages (ids 1..measured), with the swarm's CPU during those.
 */
export async function pacedPhases (cluster: Cluster, recorder: Recorder, opts: { rate: number, drainMs: number, cold: number, steadyWarmup: number, measured: number }): Promise<PacedResult> {
  const at = (first: number, count: number): { first: number, count: number, rate: number, drainMs: number } => ({ first, count, rate: opts.rate, drainMs: opts.drainMs })
  await paced(cluster, recorder, at(COLD_BASE, opts.cold))
  const cold = recorder.latency(COLD_BASE, COLD_BASE + opts.cold - 1)
  await paced(cluster, recorder, at(STEADY_WARMUP_BASE, opts.steadyWarmup))
  const cpu0 = await totalCpuMs(cluster.pids())
  await paced(cluster, recorder, at(1, opts.measured))
  const pacedCpuPerMessageMs = (await totalCpuMs(cluster.pids()) - cpu0) / opts.measured
  return { coldP50: cold.allP50, coldP99: cold.allP99, pacedCpuPerMessageMs, ...recorder.latency(1, opts.measured) }
}
