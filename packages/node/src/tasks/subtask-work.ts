/**
 * The work of one claimed subtask on this node: record the lease, run the handler, record the result (or the
 * failure, retried or final). Each step is a span (`subtask.lease`, `subtask.run`, `subtask.result`) whose
 * parent is the job's trace context (`JobRecord.trace`, the `task.submit` span), so every node that works
 * on a job adds to the one trace; the KV writes inside carry the step's span on to the nodes that apply them.
 */
import { TimeoutError, afterError, chunkOf, doneKey, failKey, leaseKey, unitRange } from '@shoal/core'
import type { Clock, Done, JobView, Logger } from '@shoal/core'
import type { KvService } from '../kv/kv-service.js'
import type { HandlerRegistry } from './handlers/index.js'
import type { Delivery } from './result-flow.js'
import { traceIdOf } from '../tracing.js'
import type { Tracing } from '../tracing.js'

export interface SubtaskWorkComponents {
  clock: Clock
  logger: Logger
  kv: KvService
  handlers: HandlerRegistry
  tracing: Tracing
  self: string
  /** False once the task service stops: a failure then is the stop, not the handler's. */
  active: () => boolean
  /** Folds a record this node wrote into its own view at once (before the KV's change event comes back). */
  absorb: (key: string, value: unknown) => void
  /**
   * Hands a chunk's result to the job's finisher over the result stream (result-flow.ts): `ok` it holds it,
   * `stale` a newer lease superseded the run, `fallback` write the done record. Absent: always the done record.
   */
  deliver?: (view: JobView, unit: number, done: Done) => Promise<Delivery>
  /** Told the run time (ms) of each chunk whose every subtask returned a result (core HandlerCosts). */
  observe?: (handler: string, wallMs: number, subtasks: number) => void
}

export interface SubtaskClaim {
  view: JobView
  index: number
  token: number
  attempt: number
  signal: AbortSignal
  /**
   * Called once the lease write has landed here or failed, or once a held-back write was dropped or skipped (the
   * driver then settles a same-token race).
   */
  onLeased?: () => void
  /**
   * Hold the lease write back this long (ms, core `leaseHoldMs`; decision 0019). At its end the write is made
   * unless the job is over or the view holds another lease of the chunk; a failure or a done record to write
   * starts it at once. Absent or 0: write now.
   */
  holdLeaseMs?: number
}

export type SubtaskOutcome = 'done' | 'error' | 'aborted'

/**
 * Subtasks of one chunk run at once, at most: a chunk is one lease, so an I/O-bound handler (sleep, exec, a
 * module awaiting the network) should not take one turn per subtask; CPU-bound handlers queue in the worker pool
 * (one worker per slot) whatever this allows, so it does not oversubscribe the CPU.
 */
const CHUNK_CONCURRENCY = 8

/**
 * How long a chunk's result waits for a second node's ack before the slot moves on anyway (the record is written
 * here and keeps replicating). A slow or flapping peer must not hold a slot for the KV's default 10 s ack wait:
 * on a loaded 5-daemon box that stalled whole jobs. 1 s covers a healthy peer's ack many times over (the KV
 * bench's write-to-visible p99 is tens of ms).
 */
const DONE_ACK_TIMEOUT_MS = 1000

/**
 * Leases, runs and records one unit (a chunk of subtasks, or one subtask): one lease record, the handler on each
 * subtask of the range, one done record with the results in order. The first handler error fails the whole unit
 * (it is retried as a unit). Never throws.
 */
export async function workOnSubtask (c: SubtaskWorkComponents, claim: SubtaskClaim): Promise<SubtaskOutcome> {
  const { view, index, token, attempt, signal } = claim
  const jobId = view.job.id
  const [from, to] = unitRange(view.job, index)
  const parent = view.job.trace
  const traceId = traceIdOf(parent)
  const attributes = { 'shoal.job': jobId, 'shoal.subtask': from, 'shoal.chunk': index, 'shoal.subtasks': to - from, 'shoal.attempt': attempt, 'shoal.handler': view.job.handler }
  const span = <T>(name: string, work: (trace: string | undefined) => Promise<T>): Promise<T> =>
    c.tracing.run(name, { parent, attributes }, async s => await work(s.traceparent))
  let failedAt = from
  let lease: HeldLeaseWrite | undefined
  const ours = (current: { holder: string, token: number } | undefined): boolean => current?.holder === c.self && current.token === token
  try {
    // The lease write (signed, fsync'd, replicated) overlaps the run: nothing of the run is recorded before the
    // lease is, since the done record waits for it below, so fencing is unchanged; a run whose lease write fails
    // records a failure, as before. Saves the lease write's latency per chunk (decision 0009). The submitter of a
    // job it runs in one round and expects to end within moments holds the write back (decision 0019; core
    // `leaseHoldMs`), and makes it at the hold's end while the view still holds this claim and the job is not
    // over: a chunk that ended meanwhile gets its lease too if the job goes on, so the others see it taken (they
    // would run it again otherwise, its result being in the finisher's memory until a checkpoint).
    const wanted = (): boolean => ours(view.leases.get(index)) && view.final === undefined && view.cancel === undefined && c.active()
    const held = heldLeaseWrite(c.clock, claim.holdLeaseMs ?? 0, wanted,
      async () => await span('subtask.lease', async trace => await c.kv.put(leaseKey(jobId, index, token), view.leases.get(index), { system: true, trace })))
    lease = held
    held.written.then(() => claim.onLeased?.(), () => claim.onLeased?.()) // awaited below too
    const handler = c.handlers.get(view.job.handler)
    if (handler === undefined) throw new Error(`handler '${view.job.handler}' is not available on this node`)
    const results = new Array<unknown>(to - from)
    const startedAt = performance.now()
    await span('subtask.run', async () => {
      let next = from
      const failed: { first?: { at: number, err: unknown } } = {}
      const lane = async (): Promise<void> => {
        while (next < to && failed.first === undefined && !signal.aborted) {
          const i = next++
          try {
            results[i - from] = await handler.run(view.job.inputs[i], { signal, jobId, index: i, attempt })
          } catch (err) {
            const prev = failed.first as { at: number, err: unknown } | undefined // set by another lane meanwhile
            if (prev === undefined || i < prev.at) failed.first = { at: i, err }
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(CHUNK_CONCURRENCY, to - from) }, lane))
      if (failed.first !== undefined) {
        failedAt = failed.first.at
        throw failed.first.err
      }
    })
    // Measured on the monotonic clock, not the node's (a skewed or stepped wall clock must not size chunks).
    if (!signal.aborted) c.observe?.(view.job.handler, performance.now() - startedAt, to - from)
    // Ended within the hold: the result goes to the finisher (this node, the submitter) now, judged against the
    // view's lease (this node's claim) as always; the lease is written at the hold's end only if the job is not
    // over by then. Otherwise the result waits for its lease write, as it always did.
    if (signal.aborted) held.drop()
    if (!held.pending()) await held.written
    // Fencing: a run whose lease was superseded meanwhile (the driver aborts it) records nothing; nor does one
    // whose lease lost a same-token race (the view holds the KV's winner once our write has landed here).
    const current = view.leases.get(index)
    if (signal.aborted || !ours(current)) {
      c.logger.debug({ jobId, index, token, aborted: signal.aborted, holder: current?.holder, current: current?.token }, 'chunk run ended without its lease; records nothing')
      return 'aborted'
    }
    const done: Done = chunkOf(view.job) === 1
      ? { ...(results[0] !== undefined ? { result: results[0] } : {}), by: c.self, token, attempts: attempt }
      : { results: results.map(r => r === undefined ? null : r), by: c.self, token, attempts: attempt }
    // Held by someone else before this slot takes more work, so a kill -9 right after cannot take a finished chunk
    // with it and a lost worker costs at most the chunk it was running: the finisher's ack over the result stream
    // (it checkpoints the result within TASK_CHECKPOINT_MS; decision 0011), or else the done record on two nodes
    // (acks 2, as the job record). Too few acks in time still leaves the record written here and replicating.
    const delivery = await span('subtask.result', async trace => {
      const how = await (c.deliver?.(view, index, done) ?? 'fallback')
      if (how !== 'fallback') return how
      // A done record is never written ahead of its lease, held back or not.
      held.flush()
      if (await held.written.then(() => false, () => true)) throw new Error('the chunk\'s lease could not be written')
      await c.kv.put(doneKey(jobId, index, token), done, { system: true, trace, acks: 2, timeoutMs: DONE_ACK_TIMEOUT_MS }).catch((err: unknown) => {
        if (!(err instanceof TimeoutError)) throw err
      })
      c.absorb(doneKey(jobId, index, token), done)
      return how
    })
    if (delivery === 'stale') {
      c.logger.debug({ jobId, index, token }, 'the finisher knows a newer lease of this chunk; records nothing')
      return 'aborted'
    }
  } catch (err) {
    // A failure is recorded after the lease it releases (the run may have failed while the lease write was on its
    // way); a held-back lease write starts now, unless the run was aborted.
    if (signal.aborted || !c.active()) lease?.drop()
    else lease?.flush()
    const leaseWritten = await lease?.written.then(() => true, () => false)
    if (signal.aborted || !c.active()) return 'aborted'
    // Fencing, as for a result: a run whose lease lost a same-token race records no failure either. The winner's run
    // is this attempt; a second failure record would count one attempt twice (the loser's run fails as fast as the
    // winner's) and could poison the subtask a retry early. A run whose lease write failed records its failure.
    if (leaseWritten === true && !ours(view.leases.get(index))) return 'aborted'
    const message = (err as Error)?.message ?? String(err)
    const next = afterError(view, index, message, c.self, c.clock.now(), token, failedAt)
    c.logger.info({ jobId, index: failedAt, attempt, err: message, ...(traceId !== undefined ? { traceId } : {}) }, next.write === 'done' ? 'subtask failed for good' : 'subtask failed; will retry')
    const [key, value] = next.write === 'done' ? [doneKey(jobId, index, token), next.done] : [failKey(jobId, index), next.failure]
    await span('subtask.result', async trace => {
      await c.kv.put(key, value, { system: true, trace })
      c.absorb(key, value)
    }).catch(e => { c.logger.warn({ jobId, index, err: (e as Error).message, ...(traceId !== undefined ? { traceId } : {}) }, 'could not record a subtask failure') })
    return 'error'
  }
  c.logger.debug({ jobId, index, attempt, ...(traceId !== undefined ? { traceId } : {}) }, 'subtask done')
  return 'done'
}

/** A lease write that may be held back (decision 0019): `written` settles once it landed or failed, or was let go. */
interface HeldLeaseWrite {
  written: Promise<unknown>
  /** Still held back: neither started nor let go. */
  pending: () => boolean
  /** Never make a write not started yet (the run was aborted). */
  drop: () => void
  /** Start a held-back write now (before recording a failure or a done record). */
  flush: () => void
}

/**
 * `write` now when `holdMs` is 0, else after `holdMs` on `clock`, and then only if `wanted()` says so (the view
 * still holds this claim's lease, and the job goes on): a rival's lease of the chunk seen meanwhile is not
 * overwritten by a late write, and a job already over needs no lease.
 */
function heldLeaseWrite (clock: Clock, holdMs: number, wanted: () => boolean, write: () => Promise<unknown>): HeldLeaseWrite {
  if (!(holdMs > 0)) return { written: write(), pending: () => false, drop: () => {}, flush: () => {} }
  let decided = false
  let decide!: (go: boolean) => void
  const gate = new Promise<boolean>(resolve => { decide = go => { decided = true; resolve(go) } })
  const timer = clock.setTimer(() => { decide(wanted()) }, holdMs)
  return {
    written: gate.then(async go => { if (go) await write() }),
    pending: () => !decided,
    drop: () => { timer.cancel(); if (!decided) decide(false) },
    flush: () => { timer.cancel(); if (!decided) decide(true) }
  }
}
