/**
 * Ed25519 checks of many events at once (catch-up pulls, anti-entropy), off the main thread: the checks asked for
 * in one turn of the event loop go, packed, to a worker thread (verify-worker.ts, on piscina), which runs
 * libsodium's verify, the same as the main thread's (ed25519.ts). They used to go one by one to libuv's thread
 * pool through node:crypto: twice libsodium's CPU per signature, plus about 20 µs of the main thread's to start
 * each (measured in a 10,000-event catch-up, docs/benchmarks.md "Event catch-up after downtime"). A handful at
 * once is checked on the main thread instead: a hop to the worker costs more than it saves. So are the checks
 * asked for while the worker starts (about 100 ms on this box), and all of them if it cannot.
 */
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Piscina } from 'piscina'
import { verifyEd25519 } from './ed25519.js'
import type { Ed25519PublicKey } from './ed25519.js'
import type { VerifyBatch } from './verify-worker.js'

/** Fewer checks than this in one turn are done on the main thread. */
export const MIN_OFFLOADED_CHECKS = 16
/** One message to a worker holds at most this many checks (a bigger turn is split across the threads). */
const MAX_BATCH = 512
/** A worker idle this long ends (its thread and memory freed); the next batch starts one again. */
const IDLE_TIMEOUT_MS = 30_000
const SIGNATURE_BYTES = 64

interface Pending { message: Uint8Array, signature: Uint8Array, key: Ed25519PublicKey, resolve: (ok: boolean) => void }

export interface BatchVerifierInit {
  /** Worker threads at most; default: one less than the cores, between 1 and 4 (the main thread keeps one). */
  threads?: number
  /** The worker module; default verify-worker.js beside this one (also in the release bundle). */
  worker?: URL
}

export class BatchVerifier {
  private readonly threads: number
  private readonly worker: URL
  private pool: Piscina<VerifyBatch, Uint8Array> | undefined
  /** Set when a worker could not run a batch: from then on every check runs on the main thread. */
  private broken = false
  /**
   * When a worker last answered (performance.now(), ms). Until one has, lately enough to be still alive (they end
   * when idle), checks run on the main thread: starting one takes about 100 ms on this box.
   */
  private answeredAt = -Infinity
  private starting = false
  private pending: Pending[] = []
  private scheduled = false
  /** Checks done so far: on the main thread, and on a worker. */
  readonly counts = { here: 0, offloaded: 0 }

  constructor (init: BatchVerifierInit = {}) {
    this.threads = init.threads ?? Math.max(1, Math.min(4, availableParallelism() - 1))
    this.worker = init.worker ?? new URL('./verify-worker.js', import.meta.url)
  }

  /**
   * Whether `signature` is `key`'s over `message`: false, never a throw, for a wrong-size signature. Resolves once
   * the batch it joined is checked (after the current turn of the event loop).
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

  /** Ends the worker threads (checks asked for later start them again). */
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
    if (all.length < MIN_OFFLOADED_CHECKS || this.broken || performance.now() - this.answeredAt > IDLE_TIMEOUT_MS / 2) {
      if (all.length >= MIN_OFFLOADED_CHECKS) this.start()
      this.counts.here += all.length
      for (const p of all) p.resolve(verifyHere(p))
      return
    }
    const size = Math.min(MAX_BATCH, Math.ceil(all.length / this.threads))
    for (let i = 0; i < all.length; i += size) void this.offload(all.slice(i, i + size))
  }

  private async offload (batch: Pending[]): Promise<void> {
    let results: Uint8Array | undefined
    try {
      const packed = pack(batch)
      results = await this.piscina().run(packed, { transferList: [packed.messages.buffer, packed.offsets.buffer, packed.signatures.buffer, packed.keys.buffer] as ArrayBuffer[] })
    } catch {
      // A worker that cannot start (or died): the checks are done here, now and from now on.
      this.broken = true
    }
    const answered = results !== undefined && results.length === batch.length
    if (answered) this.answeredAt = performance.now()
    this.counts[answered ? 'offloaded' : 'here'] += batch.length
    batch.forEach((p, i) => { p.resolve(answered ? results![i] === 1 : verifyHere(p)) })
  }

  /** Starts a worker (or keeps one) with an empty batch; `answeredAt` when it answers, `broken` if it cannot. */
  private start (): void {
    if (this.starting || this.broken) return
    this.starting = true
    this.piscina().run(pack([])).then(() => { this.answeredAt = performance.now() }, () => { this.broken = true }).finally(() => { this.starting = false })
  }

  private piscina (): Piscina<VerifyBatch, Uint8Array> {
    if (this.pool !== undefined) return this.pool
    this.pool = new Piscina<VerifyBatch, Uint8Array>({
      filename: this.worker.href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_TIMEOUT_MS,
      atomics: 'disabled',
      recordTiming: false
    })
    // A worker that fails outside a batch (its module does not load): piscina reports it here, and an
    // EventEmitter 'error' with no listener would end the process.
    this.pool.on('error', () => { this.broken = true })
    return this.pool
  }
}

function verifyHere (p: Pending): boolean {
  try {
    return verifyEd25519(p.message, p.signature, p.key)
  } catch {
    return false
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

/** The process's one verifier: its threads start with the first large batch and end when idle. */
export const batchVerifier = new BatchVerifier()
