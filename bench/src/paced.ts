/**
 * The paced runs the delivery benches share (events-latency, kv-replication): one message from node 1 every
 * 1/rate s whatever the previous ones are doing, timed by one Recorder for Shoal and its baseline alike.
 */
import { performance } from 'node:perf_hooks'
import { sleep } from './common.js'
import type { Cluster } from './clusters.js'
import type { Recorder } from './recorder.js'

/**
 * Message ids of the phases (the measured run uses 1..M): warm-up rounds, the cold start measured on its own,
 * and the steady-state warm-up that is not measured.
 */
export const WARMUP_BASE = 1_000_000
export const COLD_BASE = 2_000_000
export const STEADY_WARMUP_BASE = 3_000_000

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
export async function paced (cluster: Cluster, recorder: Recorder, opts: { first: number, count: number, rate: number, drainMs: number }): Promise<void> {
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
