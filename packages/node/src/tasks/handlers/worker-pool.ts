/**
 * A worker_threads pool: run(module, exportName, input) calls the export in a worker and resolves with its result.
 * Workers start on demand up to `size` and stay for reuse; when all are busy, runs queue in order. A run whose
 * export throws fails with its message (the error crosses as { message }). Aborting a run rejects it at once; its
 * worker gets `abortGraceMs` to end the call on its own (its result is dropped) and is then terminated (the next run
 * starts a fresh one), so a short call cut off by a lost lease does not cost a new worker and its warmed-up code.
 * A worker that crashes or exits fails its run and is replaced the same way. Idle workers are unref'd, so the pool
 * alone never keeps the process alive; close() terminates them all.
 */
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
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
  workers: number
  busy: number
  queued: number
}

export interface WorkerPool {
  /**
   * Calls `exportName(input, ctx)` from the module at `modulePath` (a path, absolute or cwd-relative, or a file URL)
   * in a worker. `ctx` must be structured-cloneable; the worker adds a `signal` that never fires (abort kills the
   * worker instead).
   */
  run(modulePath: string | URL, exportName: string, input: unknown, signal?: AbortSignal, ctx?: Record<string, unknown>): Promise<unknown>
  stats(): WorkerPoolStats
  close(): Promise<void>
}

const ENTRY = new URL('./worker-entry.js', import.meta.url)

interface Job {
  request: WorkerRequest
  resolve(value: unknown): void
  reject(err: unknown): void
  signal?: AbortSignal
  onAbort?: () => void
  slot?: Slot
  /** Rejected by an abort while its worker was running it: the worker's answer is dropped. */
  aborted?: boolean
}

interface Slot {
  worker: Worker
  job?: Job
  /** Terminates the worker of an aborted run that did not end within the grace. */
  grace?: NodeJS.Timeout
}

export function moduleUrl (modulePath: string | URL): string {
  if (modulePath instanceof URL) return modulePath.href
  if (modulePath.startsWith('file:')) return modulePath
  return pathToFileURL(resolve(modulePath)).href
}

class Pool implements WorkerPool {
  private readonly size: number
  private readonly abortGraceMs: number
  private readonly log: Logger
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  private nextId = 1
  private closed = false

  constructor (components: WorkerPoolComponents, init: WorkerPoolInit) {
    const size = init.size ?? availableParallelism()
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be a positive integer, got ${size}`)
    this.size = size
    const grace = init.abortGraceMs ?? ABORT_GRACE_MS
    if (!Number.isFinite(grace) || grace < 0) throw new RangeError(`worker pool abortGraceMs must be a number >= 0, got ${grace}`)
    this.abortGraceMs = grace
    this.log = components.logger
  }

  async run (modulePath: string | URL, exportName: string, input: unknown, signal?: AbortSignal, ctx?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new UnavailableError('worker pool is closed')
    if (signal?.aborted === true) throw abortError(signal, 'run')
    const request: WorkerRequest = { id: this.nextId++, moduleUrl: moduleUrl(modulePath), exportName, input }
    if (ctx !== undefined) request.ctx = ctx
    return await new Promise((resolve, reject) => {
      const job: Job = { request, resolve, reject }
      if (signal !== undefined) {
        job.signal = signal
        job.onAbort = () => { this.abort(job) }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.queue.push(job)
      this.dispatch()
    })
  }

  stats (): WorkerPoolStats {
    const busy = this.slots.filter(s => s.job !== undefined).length
    return { size: this.size, workers: this.slots.length, busy, queued: this.queue.length }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const err = new UnavailableError('worker pool closed')
    for (const job of this.queue.splice(0)) this.settle(job, err)
    const slots = this.slots.splice(0)
    for (const slot of slots) {
      clearTimeout(slot.grace)
      if (slot.job !== undefined) this.settle(slot.job, err)
    }
    await Promise.all(slots.map(async s => await s.worker.terminate()))
  }

  private dispatch (): void {
    while (!this.closed && this.queue.length > 0) {
      let slot = this.slots.find(s => s.job === undefined)
      if (slot === undefined) {
        if (this.slots.length >= this.size) return
        slot = this.spawn()
      }
      const job = this.queue.shift()
      if (job === undefined) return
      slot.job = job
      job.slot = slot
      slot.worker.ref()
      slot.worker.postMessage(job.request)
    }
  }

  private spawn (): Slot {
    const slot: Slot = { worker: new Worker(ENTRY) }
    slot.worker.on('message', (res: WorkerResponse) => { this.onMessage(slot, res) })
    slot.worker.on('error', err => { this.lose(slot, `worker crashed: ${err.message}`) })
    slot.worker.on('exit', code => { this.lose(slot, `worker exited with code ${code}`) })
    this.slots.push(slot)
    this.log.debug({ workers: this.slots.length }, 'worker started')
    return slot
  }

  private onMessage (slot: Slot, res: WorkerResponse): void {
    const job = slot.job
    if (job === undefined || job.request.id !== res.id || !this.slots.includes(slot)) return
    slot.job = undefined
    clearTimeout(slot.grace)
    slot.worker.unref()
    if (job.aborted === true) this.log.debug({ id: job.request.id }, 'an aborted run ended within the grace; its worker stays')
    else if (res.ok) this.settle(job, undefined, res.result)
    else this.settle(job, new HandlerError(res.error.message, res.error.code === undefined ? undefined : { code: res.error.code }))
    this.dispatch()
  }

  /** A worker died on its own: fail its run, forget it, and let the next run start a replacement. */
  private lose (slot: Slot, why: string): void {
    if (!this.remove(slot)) return
    this.log.warn({ why }, 'worker lost')
    clearTimeout(slot.grace)
    void slot.worker.terminate()
    if (slot.job !== undefined) this.settle(slot.job, new HandlerError(why))
    this.dispatch()
  }

  private abort (job: Job): void {
    const err = abortError(job.signal ?? AbortSignal.abort(), 'run')
    const queued = this.queue.indexOf(job)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      this.settle(job, err)
      return
    }
    const slot = job.slot
    if (slot === undefined || slot.job !== job || job.aborted === true) return
    job.aborted = true
    this.settle(job, err)
    // The worker stays busy (no run is dispatched to it) until the call ends, or is terminated after the grace.
    const terminate = (): void => {
      if (slot.job !== job || !this.remove(slot)) return
      this.log.debug({ id: job.request.id }, 'an aborted run did not end within the grace; terminating its worker')
      void slot.worker.terminate()
      this.dispatch()
    }
    if (this.abortGraceMs === 0) terminate()
    else slot.grace = setTimeout(terminate, this.abortGraceMs).unref()
  }

  private remove (slot: Slot): boolean {
    const i = this.slots.indexOf(slot)
    if (i < 0) return false
    this.slots.splice(i, 1)
    return true
  }

  private settle (job: Job, err: unknown, result?: unknown): void {
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort)
    if (err !== undefined) job.reject(err)
    else job.resolve(result)
  }
}

export function createWorkerPool (components: WorkerPoolComponents, init: WorkerPoolInit = {}): WorkerPool {
  return new Pool(components, init)
}
