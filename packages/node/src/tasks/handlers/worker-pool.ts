/**
 * A worker_threads pool on piscina: run(module, exportName, input) calls the export in a worker and resolves with
 * its result. Workers start on demand up to `size` and stay for reuse (idle ones are unref'd, so the pool alone
 * never keeps the process alive); when all are busy, runs queue in order. A run whose export throws fails with its
 * message and code (worker-entry.ts carries them across). Aborting a run rejects it at once: a run not started yet
 * is skipped when its turn comes; a started one's worker gets `abortGraceMs` to end the call on its own (its result
 * is dropped) and is then terminated (piscina starts a fresh one), so a short call cut off by a lost lease does not
 * cost a new worker and its warmed-up code (docs/decisions/0021-abort-grace-in-the-worker-pool.md). A worker that
 * crashes or exits fails its run and is replaced the same way. close() terminates them all.
 */
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
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
  /** Every run's terminator (aborts its piscina task), for close(). */
  private readonly inFlight = new Set<AbortController>()
  private closed = false

  constructor (components: WorkerPoolComponents, init: WorkerPoolInit) {
    const size = init.size ?? availableParallelism()
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be a positive integer, got ${size}`)
    const grace = init.abortGraceMs ?? ABORT_GRACE_MS
    if (!Number.isFinite(grace) || grace < 0) throw new RangeError(`worker pool abortGraceMs must be a number >= 0, got ${grace}`)
    this.size = size
    this.abortGraceMs = grace
    this.log = components.logger
  }

  private piscina (): Piscina<WorkerRequest, WorkerResponse> {
    if (this.pool !== undefined) return this.pool
    // minThreads 1, not 0: piscina replaces a terminated or crashed worker only up to minThreads, and with none
    // left the runs queued behind it would wait for the next run() to start a worker. Atomics off: an idle worker
    // then waits on its event loop instead of blocking in Atomics.wait, which measured slower here (primes below 2e8
    // on one daemon: 397-433 ms against 349-405 ms once warm), and lets a handler's own timers run between calls.
    this.pool = new Piscina({ filename: ENTRY.href, minThreads: 1, maxThreads: this.size, idleTimeout: Infinity, concurrentTasksPerWorker: 1, atomics: 'disabled', recordTiming: false })
    // A worker that fails with no run of ours on it: piscina reports it here (an EventEmitter 'error' with no
    // listener would throw).
    this.pool.on('error', (err: unknown) => { this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'worker lost') })
    return this.pool
  }

  async run (modulePath: string | URL, exportName: string, input: unknown, signal?: AbortSignal, ctx?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new UnavailableError('worker pool is closed')
    if (signal?.aborted === true) throw abortError(signal, 'run')
    const cancelled = new SharedArrayBuffer(4)
    const request: WorkerRequest = { moduleUrl: moduleUrl(modulePath), exportName, input, cancelled }
    if (ctx !== undefined) request.ctx = ctx
    const terminator = new AbortController()
    this.inFlight.add(terminator)
    const task = this.piscina().run(request, { signal: terminator.signal })
    let grace: NodeJS.Timeout | undefined
    const settled = task.finally(() => {
      clearTimeout(grace)
      this.inFlight.delete(terminator)
    })
    settled.catch(() => {}) // the caller's promise below carries the outcome; an aborted run's is dropped
    if (signal === undefined) return answer(await settled.catch(err => { throw this.lost(err, terminator) }))
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(abortError(signal, 'run'))
        // Skipped if not started yet; a started call gets the grace, then its worker is terminated.
        Atomics.store(new Int32Array(cancelled), 0, 1)
        if (this.abortGraceMs === 0) terminator.abort()
        else grace = setTimeout(() => { terminator.abort() }, this.abortGraceMs).unref()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      settled.then(
        res => { signal.removeEventListener('abort', onAbort); if (!signal.aborted) { try { resolve(answer(res)) } catch (err) { reject(err) } } },
        err => { signal.removeEventListener('abort', onAbort); if (!signal.aborted) reject(this.lost(err, terminator)) }
      )
    })
  }

  stats (): WorkerPoolStats {
    return { size: this.size, workers: this.pool?.threads.length ?? 0, inFlight: this.inFlight.size, queued: this.pool?.queueSize ?? 0 }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const terminator of this.inFlight) terminator.abort()
    await this.pool?.destroy()
  }

  /** Why a run failed without answering: the pool closed, or its worker died (piscina replaces it). */
  private lost (err: unknown, terminator: AbortController): Error {
    if (this.closed || terminator.signal.aborted) return new UnavailableError('worker pool closed')
    const message = (err as Error)?.message ?? String(err)
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
