/**
 * The jobs bench's in-process baselines: a trivial async handler called in a plain loop, and a plain
 * worker_threads pool running the daemon's segmented-sieve function (packages/node's builtin-work.js) per range.
 */
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import type { PoolRequest, PoolResponse } from './tasks-pool-worker.js'

export interface Range { from: number, to: number }

/** The daemon's primes work module, found next to @shoal/node's entry point (dist/src/index.js). */
export const WORK_URL = new URL('./tasks/handlers/builtin-work.js', import.meta.resolve('@shoal/node')).href

const WORKER_PATH = fileURLToPath(new URL('./tasks-pool-worker.js', import.meta.url))

/** The same split as the built-in primes handler: n contiguous ranges, the first (to - from) % n one longer. */
export function splitRange (from: number, to: number, n: number): Range[] {
  const size = Math.floor((to - from) / n)
  const extra = (to - from) % n
  const out: Range[] = []
  let at = from
  for (let i = 0; i < n; i++) {
    const end = at + size + (i < extra ? 1 : 0)
    out.push({ from: at, to: end })
    at = end
  }
  return out
}

/**
 * Equivalent of the built-in `sleep` handler's run (validate `ms`, an abortable setTimeout, return { slept }).
 * The real one is not reachable: @shoal/node does not export createHandlerRegistry.
 */
export async function trivialHandler (input: unknown, signal: AbortSignal): Promise<{ slept: number }> {
  const ms = typeof input === 'object' && input !== null ? (input as { ms?: unknown }).ms : undefined
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) throw new TypeError('sleep: ms must be a non-negative integer')
  if (signal.aborted) throw new Error('aborted')
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(new Error('aborted')) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  return { slept: ms }
}

/** Milliseconds per call of trivialHandler({ ms: 0 }) over `count` sequential calls. */
export async function localLoopMsPerCall (count: number): Promise<number> {
  const signal = new AbortController().signal
  const t0 = performance.now()
  for (let i = 0; i < count; i++) await trivialHandler({ ms: 0 }, signal)
  return (performance.now() - t0) / count
}

/**
 * Runs countPrimes over every range on `size` fresh workers (one warm-up range each first, untimed, so module
 * loading is not counted; the daemons' pools are warmed the same way); returns the total and the timed wall time.
 */
export async function localPoolPrimes (ranges: readonly Range[], size: number, deadlineMs: number): Promise<{ count: number, wallMs: number }> {
  const workers = Array.from({ length: size }, () => new Worker(WORKER_PATH, { workerData: { workUrl: WORK_URL } }))
  let timer: NodeJS.Timeout | undefined
  try {
    const failed = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`local pool gave up after ${deadlineMs} ms`)) }, deadlineMs)
      for (const w of workers) {
        w.once('error', err => { reject(err) })
        w.once('exit', code => { reject(new Error(`pool worker exited with code ${code}`)) })
      }
    })
    failed.catch(() => {})
    const ask = async (w: Worker, req: PoolRequest): Promise<number> => await Promise.race([failed, new Promise<number>(resolve => {
      const onMessage = (res: PoolResponse): void => { if (res.i === req.i) { w.off('message', onMessage); resolve(res.count) } }
      w.on('message', onMessage)
      w.postMessage(req)
    })])
    await Promise.all(workers.map(async w => await ask(w, { i: -1, from: 0, to: 100_000 })))
    let next = 0
    let count = 0
    const t0 = performance.now()
    await Promise.all(workers.map(async w => {
      while (next < ranges.length) {
        const i = next++
        const c = await ask(w, { i, ...ranges[i]! }) // not `count += await`: that reads count before the wait
        count += c
      }
    }))
    return { count, wallMs: performance.now() - t0 }
  } finally {
    clearTimeout(timer)
    for (const w of workers) w.removeAllListeners('exit')
    await Promise.all(workers.map(async w => await w.terminate()))
  }
}
