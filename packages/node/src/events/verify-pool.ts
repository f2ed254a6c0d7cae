/**
 * Ed25519 checks of many events at once (catch-up pulls, anti-entropy), off the main thread (docs/decisions/0027):
 * the checks asked for in one turn of the event loop go, packed, to a worker thread (verify-worker.ts, on piscina),
 * which runs libsodium's verify, the same as the main thread's (ed25519.ts). They used to go one by one to libuv's
 * thread pool through node:crypto: twice libsodium's CPU per signature, plus about 20 µs of the main thread's to
 * start each (measured in a 10,000-event catch-up, docs/benchmarks.md "Event catch-up after downtime").
 * Where the checks run:
 * - fewer than MIN_OFFLOADED_CHECKS in a turn: at once on the main thread (a hop costs more than it saves);
 * - while no worker is known to be alive (one starts at the first large turn, about 100 ms here, and ends after
 *   WORKER_IDLE_MS idle), and for RETRY_AFTER_MS after a worker failed a batch or did not answer within
 *   BATCH_TIMEOUT_MS: on libuv's thread pool through node:crypto, as before, so the event loop is never blocked;
 * - otherwise on the workers, a turn split across them.
 * Whichever way, a check's verdict is the same. (Not cryptographic batch verification: each signature is checked
 * on its own.)
 */
import { verify as nodeVerify } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Piscina } from 'piscina'
import { verifyEd25519 } from './ed25519.js'
import type { Ed25519PublicKey } from './ed25519.js'
import type { VerifyBatch } from './verify-worker.js'

/** Fewer checks than this in one turn are done on the main thread. */
export const MIN_OFFLOADED_CHECKS = 16
/** One message to a worker holds at most this many checks (a bigger turn is split across the workers). */
const MAX_BATCH = 512
/** A worker idle this long ends (its thread and memory freed); the next large turn starts one again. */
const WORKER_IDLE_MS = 30_000
/** A batch a worker has not answered in this long is checked elsewhere (its worker is ended). */
const BATCH_TIMEOUT_MS = 10_000
/** After a worker failed, checks go to libuv's pool this long before a worker is tried again. */
const RETRY_AFTER_MS = 60_000
const SIGNATURE_BYTES = 64

interface Pending { message: Uint8Array, signature: Uint8Array, key: Ed25519PublicKey, resolve: (ok: boolean) => void }

export interface VerifyPoolInit {
  /** Worker threads at most; default: one less than the cores, between 1 and 4 (the main thread keeps one). */
  threads?: number
  /** The worker module; default verify-worker.js beside this one (also in the release bundle). */
  worker?: URL
  /** Told once each time the workers fail and checks fall back to libuv's pool; default: a process warning. */
  onFailure?: (err: unknown) => void
}

/** Checks done so far, by where they ran. */
export interface VerifyCounts { mainThread: number, worker: number, threadPool: number }

export class VerifyPool {
  private readonly threads: number
  private readonly worker: URL
  private readonly onFailure: (err: unknown) => void
  private pool: Piscina<VerifyBatch, Uint8Array> | undefined
  /**
   * When a worker last answered (performance.now(), ms). One that answered within half its idle time is surely
   * still alive; past that, a large turn goes to libuv's pool while a worker is started again.
   */
  private answeredAt = -Infinity
  /** Until when (performance.now(), ms) no worker is tried, after one failed. */
  private failedUntil = -Infinity
  private starting = false
  private pending: Pending[] = []
  private scheduled = false
  readonly counts: VerifyCounts = { mainThread: 0, worker: 0, threadPool: 0 }

  constructor (init: VerifyPoolInit = {}) {
    this.threads = init.threads ?? Math.max(1, Math.min(4, availableParallelism() - 1))
    this.worker = init.worker ?? new URL('./verify-worker.js', import.meta.url)
    this.onFailure = init.onFailure ?? (err => { process.emitWarning(`signature checks fall back to libuv's thread pool for ${RETRY_AFTER_MS / 1000} s: ${(err as Error)?.message ?? String(err)}`, 'ShoalVerifyPool') })
  }

  /**
   * Whether `signature` is `key`'s over `message`: false, never a throw, for a wrong-size signature. Resolves once
   * the turn's checks it joined are done (after the current turn of the event loop).
   */
  async verify (message: Uint8Array, signature: Uint8Array, key: Ed25519PublicKey): Promise<boolean> {
    if (signature.length !== SIGNATURE_BYTES) return false
    return await new Promise<boolean>(resolve => {
      this.pending.push({ message, signature, key, resolve })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.flush() })
      }
    })
  }

  /** Ends the worker threads; checks asked for later start one again. */
  async close (): Promise<void> {
    const pool = this.pool
    this.pool = undefined
    this.answeredAt = -Infinity
    await pool?.destroy()
  }

  private flush (): void {
    this.scheduled = false
    const all = this.pending
    this.pending = []
    if (all.length < MIN_OFFLOADED_CHECKS) {
      this.counts.mainThread += all.length
      for (const p of all) p.resolve(verifyHere(p))
      return
    }
    const now = performance.now()
    if (now < this.failedUntil || now - this.answeredAt > WORKER_IDLE_MS / 2) {
      if (now >= this.failedUntil) this.start()
      this.counts.threadPool += all.length
      for (const p of all) void onThreadPool(p)
      return
    }
    const size = Math.min(MAX_BATCH, Math.ceil(all.length / this.threads))
    for (let i = 0; i < all.length; i += size) void this.offload(all.slice(i, i + size))
  }

  private async offload (batch: Pending[]): Promise<void> {
    let pool: Piscina<VerifyBatch, Uint8Array> | undefined
    let results: Uint8Array | undefined
    try {
      pool = this.piscina()
      const packed = pack(batch)
      results = await pool.run(packed, {
        transferList: [packed.messages.buffer, packed.offsets.buffer, packed.signatures.buffer, packed.keys.buffer] as ArrayBuffer[],
        signal: AbortSignal.timeout(BATCH_TIMEOUT_MS)
      })
    } catch (err) {
      this.failed(pool, err)
    }
    if (results !== undefined && results.length === batch.length) {
      this.answeredAt = performance.now()
      this.counts.worker += batch.length
      batch.forEach((p, i) => { p.resolve(results[i] === 1) })
      return
    }
    if (results !== undefined) this.failed(pool, new Error(`a worker answered ${results.length} verdicts for ${batch.length} checks`))
    this.counts.threadPool += batch.length
    for (const p of batch) void onThreadPool(p)
  }

  /** Starts a worker (or keeps one) with an empty batch; `answeredAt` once it answers. */
  private start (): void {
    if (this.starting) return
    this.starting = true
    let pool: Piscina<VerifyBatch, Uint8Array> | undefined
    try {
      pool = this.piscina()
    } catch (err) {
      this.starting = false
      this.failed(undefined, err)
      return
    }
    pool.run(pack([]), { signal: AbortSignal.timeout(BATCH_TIMEOUT_MS) })
      .then(() => { if (this.pool === pool) this.answeredAt = performance.now() }, (err: unknown) => { this.failed(pool, err) })
      .finally(() => { this.starting = false })
  }

  /**
   * A worker of `pool` failed (did not load, died, or timed out): no worker is tried for RETRY_AFTER_MS, and the
   * pool is ended (a new one is made then). Not when `pool` is no longer the current one (close() ended it).
   */
  private failed (pool: Piscina<VerifyBatch, Uint8Array> | undefined, err: unknown): void {
    if (pool !== undefined && pool !== this.pool) return
    if (performance.now() >= this.failedUntil) this.onFailure(err)
    this.failedUntil = performance.now() + RETRY_AFTER_MS
    this.answeredAt = -Infinity
    this.pool = undefined
    pool?.destroy().catch(() => {})
  }

  private piscina (): Piscina<VerifyBatch, Uint8Array> {
    if (this.pool !== undefined) return this.pool
    const pool = new Piscina<VerifyBatch, Uint8Array>({
      filename: this.worker.href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: WORKER_IDLE_MS,
      atomics: 'disabled',
      recordTiming: false
    })
    // A worker that fails outside a batch (its module does not load): piscina reports it here, and an
    // EventEmitter 'error' with no listener would end the process.
    pool.on('error', (err: unknown) => { this.failed(pool, err) })
    this.pool = pool
    return pool
  }
}

function verifyHere (p: Pending): boolean {
  try {
    return verifyEd25519(p.message, p.signature, p.key)
  } catch {
    return false
  }
}

/** One check on libuv's thread pool through node:crypto (asynchronous: the event loop goes on meanwhile). */
async function onThreadPool (p: Pending): Promise<void> {
  try {
    const ok = await new Promise<boolean>(resolve => { nodeVerify(null, p.message, p.key.keyObject(), p.signature, (err, valid) => { resolve(err === null && valid) }) })
    p.resolve(ok)
  } catch {
    p.resolve(false)
  }
}

/** The batch as the worker takes it: each part in a buffer of its own, so that all four can be transferred. */
function pack (batch: Pending[]): VerifyBatch {
  const offsets = new Uint32Array(batch.length + 1)
  let total = 0
  batch.forEach((p, i) => { total += p.message.byteLength; offsets[i + 1] = total })
  const messages = new Uint8Array(total)
  const signatures = new Uint8Array(batch.length * SIGNATURE_BYTES)
  const keys = new Uint8Array(batch.length * 32)
  batch.forEach((p, i) => {
    messages.set(p.message, offsets[i])
    signatures.set(p.signature, i * SIGNATURE_BYTES)
    keys.set(p.key.raw, i * 32)
  })
  return { messages, offsets, signatures, keys }
}

/** The process's one pool: its threads start with the first large turn of checks and end when idle. */
export const verifyPool = new VerifyPool()
