/**
 * A worker_threads pool on piscina: run(module, exportName, input) calls the export in a worker and resolves with
 * its result. Its workers stay for reuse (idle ones are unref'd, so the pool alone never keeps the process alive);
 * when all are busy, runs queue in order. A run whose export throws fails with its
 * message and code (worker-entry.ts carries them across). Aborting a run rejects it at once: a run not started yet
 * is skipped when its turn comes; a started one's worker gets `abortGraceMs` to end the call on its own (its result
 * is dropped) and is then terminated and replaced, so a short call cut off by a lost lease does not cost a new worker
 * and its warmed-up code (docs/decisions/0021-abort-grace-in-the-worker-pool.md). A worker that crashes or exits
 * fails its run and is replaced the same way. The first run starts all `size` workers. close() terminates them.
 */
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import PQueue from 'p-queue'
import { Piscina } from 'piscina'
import { UnavailableError } from '@shoal/core'
import type { Logger } from '@shoal/core'
import { abortError } from './abort.js'
import { HandlerError } from './errors.js'
import type { WorkerRequest, WorkerResponse } from './worker-entry.js'

export interface WorkerPoolInit {
  /** Most workers alive at once; default os.availableParallelism(). */
  size?: number
  /**
   * How long an aborted run's worker may take to end the call on its own before it is terminated, in ms; default
   * ABORT_GRACE_MS. The worker takes no other run meanwhile.
   */
  abortGraceMs?: number
}

/**
 * Default `abortGraceMs`: 100 ms. Starting a replacement worker costs tens of ms of CPU, and its code starts cold
 * again; a call that would end within this time costs less to let end.
 */
export const ABORT_GRACE_MS = 100

export interface WorkerPoolComponents {
  logger: Logger
}

export interface WorkerPoolStats {
  size: number
  /** Workers alive. */
  workers: number
  /** Runs handed to a worker or waiting for one, aborted runs still in their grace included. */
  inFlight: number
  /** Of those, runs waiting for a worker. */
  queued: number
}

export interface WorkerPool {
  /**
   * Calls `exportName(input, ctx)` from the module at `modulePath` (a path, absolute or cwd-relative, or a file URL)
   * in a worker. `ctx` must be structured-cloneable; the worker adds a `signal` that never fires (abort ends the
   * call from outside instead).
   */
  run(modulePath: string | URL, exportName: string, input: unknown, signal?: AbortSignal, ctx?: Record<string, unknown>): Promise<unknown>
  stats(): WorkerPoolStats
  close(): Promise<void>
}

const ENTRY = new URL('./worker-entry.js', import.meta.url)
/** Slots of a run's `flags` (worker-entry.ts). */
const CANCELLED = 0
const STARTED = 1

export function moduleUrl (modulePath: string | URL): string {
  if (modulePath instanceof URL) return modulePath.href
  if (modulePath.startsWith('file:')) return modulePath
  return pathToFileURL(resolve(modulePath)).href
}

class Pool implements WorkerPool {
  private readonly size: number
  private readonly abortGraceMs: number
  private readonly log: Logger
  /** Made by the first run: a node that never runs a CPU-bound handler starts no thread. */
  private pool: Piscina<WorkerRequest, WorkerResponse> | undefined
  /**
   * Runs wait here, in order, until a worker is free, and are handed to piscina only then: piscina's own queue
   * keeps tasks with a signal apart from those without, and started a mix of them out of order.
   */
  private readonly queue: PQueue
  private closed = false

  constructor (components: WorkerPoolComponents, init: WorkerPoolInit) {
    const size = init.size ?? availableParallelism()
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be a positive integer, got ${size}`)
    const grace = init.abortGraceMs ?? ABORT_GRACE_MS
    if (!Number.isFinite(grace) || grace < 0) throw new RangeError(`worker pool abortGraceMs must be a number >= 0, got ${grace}`)
    this.size = size
    this.abortGraceMs = grace
    this.log = components.logger
    this.queue = new PQueue({ concurrency: size })
  }

  private piscina (): Piscina<WorkerRequest, WorkerResponse> {
    if (this.pool !== undefined) return this.pool
    // minThreads = maxThreads: piscina replaces a terminated or crashed worker only up to minThreads; below that,
    // a run would wait for a busy worker or the next run() although a slot is free. Atomics off: an idle worker
    // waits on its event loop instead of blocking in Atomics.wait, which measured slower here (primes below 2e8 on
    // one daemon: 397-433 ms against 349-405 ms once warm), and lets a handler's own timers run between calls.
    this.pool = new Piscina({
      filename: ENTRY.href,
      minThreads: this.size,
      maxThreads: this.size,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
      recordTiming: false
    })
    // A worker that fails with no run of ours on it: piscina reports it here (an EventEmitter 'error' with no
    // listener would throw).
    this.pool.on('error', (err: unknown) => { this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'worker lost') })
    return this.pool
  }

  async run (modulePath: string | URL, exportName: string, input: unknown, signal?: AbortSignal, ctx?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new UnavailableError('worker pool is closed')
    if (signal?.aborted === true) throw abortError(signal, 'run')
    const flags = new SharedArrayBuffer(8)
    const request: WorkerRequest = { moduleUrl: moduleUrl(modulePath), exportName, input, flags }
    if (ctx !== undefined) request.ctx = ctx
    // Aborting piscina's signal terminates the worker the task was handed to, started or not (even one still
    // starting up), so it is aborted only for a call that has begun.
    const terminator = new AbortController()
    let grace: NodeJS.Timeout | undefined
    // The queue's slot is held until the worker is done with the call (or ended), an aborted call's grace included.
    const settled = this.queue.add(async () => {
      if (this.closed) throw new UnavailableError('worker pool closed')
      if (signal?.aborted === true) return { ok: false, error: { message: 'cancelled before it started' } } satisfies WorkerResponse
      return await this.piscina().run(request, { signal: terminator.signal })
    }).finally(() => { clearTimeout(grace) })
    settled.catch(() => {}) // the caller's promise below carries the outcome; an aborted run's is dropped
    if (signal === undefined) return answer(await settled.catch(err => { throw this.lost(err) }))
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(abortError(signal, 'run'))
        // Cancelled, then (after the grace) started? With sequentially consistent stores and loads on both sides
        // (worker-entry.ts sets `started` before it reads `cancelled`), either the worker sees the cancel and skips
        // the call, or this sees that it began and ends it.
        const f = new Int32Array(flags)
        Atomics.store(f, CANCELLED, 1)
        const end = (): void => { if (Atomics.load(f, STARTED) === 1) terminator.abort() }
        if (this.abortGraceMs === 0) end()
        else grace = setTimeout(end, this.abortGraceMs).unref()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      settled.then(
        res => { signal.removeEventListener('abort', onAbort); if (!signal.aborted) { try { resolve(answer(res)) } catch (err) { reject(err) } } },
        err => { signal.removeEventListener('abort', onAbort); if (!signal.aborted) reject(this.lost(err)) }
      )
    })
  }

  stats (): WorkerPoolStats {
    return { size: this.size, workers: this.pool?.threads.length ?? 0, inFlight: this.queue.size + this.queue.pending, queued: this.queue.size }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    // piscina's destroy() fails the running runs and waits for the workers to exit; the waiting ones then find the
    // pool closed (lost() makes them all UnavailableError).
    await this.pool?.destroy()
  }

  /**
   * Why a run failed without answering: the pool closed, its input could not be sent to a worker, or its worker
   * died (piscina replaces it).
   */
  private lost (err: unknown): Error {
    if (this.closed) return new UnavailableError('worker pool closed')
    const message = (err as Error)?.message ?? String(err)
    if ((err as Error)?.name === 'DataCloneError') return new HandlerError(`input could not be sent to a worker: ${message}`)
    const exited = /^worker exited with code: (.*)$/.exec(message)
    const why = exited !== null ? `worker exited with code ${exited[1]!}` : `worker crashed: ${message}`
    this.log.warn({ why }, 'worker lost')
    return new HandlerError(why)
  }
}

/** A worker's answer as the run's outcome: its result, or its error (message and code) as a HandlerError. */
function answer (res: WorkerResponse): unknown {
  if (res.ok) return res.result
  throw new HandlerError(res.error.message, res.error.code === undefined ? undefined : { code: res.error.code })
}

export function createWorkerPool (components: WorkerPoolComponents, init: WorkerPoolInit = {}): WorkerPool {
  return new Pool(components, init)
}
