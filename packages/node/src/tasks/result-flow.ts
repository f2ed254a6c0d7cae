/**
 * Chunk results on their way to the job's finisher (docs/protocols/tasks.md, "Result stream and checkpoints";
 * docs/decisions/0011-task-result-stream.md). On a worker: a finished chunk's result is sent to the finisher over
 * the result stream and kept (core's Outbox) until a checkpoint holding it comes back through the KV, then
 * forgotten; it is sent again to a new finisher, or after TASK_RESULT_RESEND_MS without a checkpoint. On the
 * finisher (or any node that was sent results): each result passes core's acceptResult (fencing), goes into the
 * job's view at once, and waits in core's Inbox for its checkpoint, written TASK_CHECKPOINT_MS after the oldest
 * waiting result, unless the job's final state comes first.
 */
import { Inbox, Outbox, acceptResult, checkpointEntries, checkpointKey, constants, mergeDone } from '@shoal/core'
import type { Clock, Done, JobView, Logger, ResultAck, ResultsReply, ResultsRequest } from '@shoal/core'
import type { KvService } from '../kv/kv-service.js'
import type { ResultTransport } from './result-stream.js'

/**
 * How long a worker waits for the finisher's ack before it writes the chunk's done record itself (the replicated
 * path). The same bound as the done record's second ack had (decision 0009): a healthy finisher answers in
 * milliseconds; a slow or unreachable one must not hold a slot.
 */
const SEND_TIMEOUT_MS = 1_000

/** First wait before asking a finisher that did not know the job again; doubled up to the max (20+40+...+320 ms). */
const UNKNOWN_JOB_RETRY_MS = 20
const UNKNOWN_JOB_RETRY_MAX_MS = 320
/**
 * How long a finisher holds a result for a job whose record has not reached it yet before it answers
 * `unknown-job` (below SEND_TIMEOUT_MS, so the sender still hears the answer). The record is usually milliseconds
 * behind: with an immediate `unknown-job`, 8 of 10 jobs of 500 subtasks on 3 daemons had a worker wait out a
 * 20 ms retry (measured; not on those jobs' critical path, so their time did not change).
 */
export const UNKNOWN_JOB_WAIT_MS = 250

/** What became of a result handed to deliver(). */
export type Delivery = 'ok' | 'stale' | 'fallback'

export interface ResultFlowComponents {
  clock: Clock
  logger: Logger
  kv: Pick<KvService, 'put'>
  /** Absent: every result takes the replicated path (a done record), as before this protocol. */
  transport?: ResultTransport
  self: string
  view: (jobId: string) => JobView | undefined
  /** Resolves with the job's view once this node holds its record, or undefined when `signal` ends first. */
  known: (jobId: string, signal: AbortSignal) => Promise<JobView | undefined>
  /** The job's finisher as this node sees it now (core finisherOf: the submitter while a member, else the ranking). */
  finisher: (jobId: string) => string | undefined
  /** Folds a record this node wrote into its views at once. */
  absorb: (key: string, value: unknown) => void
  /** A view changed outside absorb (a result was taken): wake waiters, decide again. */
  changed: () => void
}

export class ResultFlow {
  private readonly inbox = new Inbox()
  private readonly outbox = new Outbox()
  /** Next checkpoint sequence number per job for this node's own `ckpt/<self>/<seq>` keys. */
  private readonly seqs = new Map<string, number>()
  private readonly resending = new Set<string>()
  private readonly controller = new AbortController()

  constructor (private readonly components: ResultFlowComponents) {}

  async start (): Promise<void> {
    await this.components.transport?.start(async (req, from) => await this.receive(req, from))
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.components.transport?.stop()
  }

  /**
   * Hands a finished chunk's result (a success) to the job's finisher and, once it holds it, into this node's own
   * view. `stale`: the finisher knows a newer lease of the chunk (record nothing). `fallback`: no finisher took it
   * (unreachable, no transport, an older node, a job it does not know yet): the caller writes the done record.
   */
  async deliver (view: JobView, unit: number, done: Done): Promise<Delivery> {
    const jobId = view.job.id
    const to = this.components.finisher(jobId)
    if (to === undefined) return 'fallback'
    let ack: ResultAck
    if (to === this.components.self) ack = this.take(view, unit, done, this.components.self)
    else {
      if (this.components.transport === undefined) return 'fallback'
      try {
        const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)])
        // The job record is written on two nodes before task.submit answers; the finisher may be a third that
        // has not got it yet (a short job's first chunks finish in milliseconds): ask again a few times first.
        for (let wait = UNKNOWN_JOB_RETRY_MS; ; wait *= 2) {
          ack = (await this.components.transport.send(to, { v: 1, type: 'results', jobId, entries: [{ unit, done }] }, signal)).acks[0]!
          if (ack !== 'unknown-job' || wait > UNKNOWN_JOB_RETRY_MAX_MS) break
          await new Promise(resolve => setTimeout(resolve, wait))
        }
      } catch (err) {
        this.components.logger.debug({ jobId, unit, to, err: (err as Error).message }, 'could not stream a chunk result; writing its done record')
        return 'fallback'
      }
      if (ack === 'ok') {
        this.outbox.sent(jobId, { unit, done, to, at: this.components.clock.now() })
        mergeDone(view, unit, done)
      }
    }
    return ack === 'ok' ? 'ok' : ack === 'stale' ? 'stale' : 'fallback'
  }

  /** The result stream's handler: each entry through take(), one ack each. */
  async receive (req: ResultsRequest, from: string): Promise<ResultsReply> {
    // A job whose record is still on its way here is waited for (briefly) rather than refused.
    const view = this.components.view(req.jobId) ??
      await this.components.known(req.jobId, AbortSignal.any([this.controller.signal, AbortSignal.timeout(UNKNOWN_JOB_WAIT_MS)]))
    const acks = req.entries.map(({ unit, done }): ResultAck => view === undefined ? 'unknown-job' : this.take(view, unit, done, from))
    return { v: 1, type: 'acks', acks }
  }

  /** A result for this node to hold until a checkpoint: fencing first (acceptResult), then into the view. */
  private take (view: JobView, unit: number, done: Done, from: string): ResultAck {
    // A job already over needs no more results; the sender forgets it once it sees the final state.
    if (view.final !== undefined) return 'ok'
    const ack = acceptResult(view, unit, done, from)
    if (ack !== 'ok') return ack
    mergeDone(view, unit, done)
    this.inbox.add(view.job.id, unit, this.components.clock.now())
    this.components.changed()
    return ack
  }

  /**
   * A durable record holds `unit`'s result under `token` by `by` (a checkpoint entry, or a done record): the
   * finisher has nothing to checkpoint for it, and the worker forgets its own result if that record holds it.
   */
  covered (jobId: string, unit: number, token: number, by: string): void {
    this.inbox.covered(jobId, [unit])
    this.outbox.covered(jobId, unit, token, by)
  }

  /** A checkpoint of this node's was seen (its own write, or one from before a restart): seqs go on after it. */
  ownCheckpoint (jobId: string, seq: number): void {
    this.seqs.set(jobId, Math.max(this.seqs.get(jobId) ?? 0, seq + 1))
  }

  /** Whether this node holds results of the job that no checkpoint has yet. */
  holds (jobId: string): boolean {
    return this.inbox.pending(jobId) > 0
  }

  /** True when a round has nothing to do: no checkpoint can come due and no result waits to be sent again. */
  get idle (): boolean {
    return this.inbox.idle && this.outbox.empty
  }

  /**
   * One round (the driver's tick): write the checkpoints that are due, skipping jobs whose final state is being
   * written (`finishing`), and send again what a new finisher, or a finisher that took too long to checkpoint,
   * should have.
   */
  round (finishing: (jobId: string) => boolean): void {
    const now = this.components.clock.now()
    for (const jobId of this.inbox.due(now, constants.TASK_CHECKPOINT_MS)) {
      const view = this.components.view(jobId)
      if (view === undefined || view.final !== undefined) { this.inbox.drop(jobId); continue }
      if (finishing(jobId)) continue
      void this.checkpoint(view)
    }
    for (const jobId of this.outbox.jobIds()) {
      const view = this.components.view(jobId)
      if (view === undefined || view.final !== undefined) { this.outbox.drop(jobId); continue }
      const to = this.components.finisher(jobId)
      if (to === undefined || this.resending.has(jobId)) continue
      const entries = this.outbox.resend(jobId, to, now, constants.TASK_RESULT_RESEND_MS)
      if (entries.length > 0) void this.resend(view, to, entries.slice(0, constants.TASK_CHECKPOINT_MAX_UNITS))
    }
  }

  private async checkpoint (view: JobView): Promise<void> {
    const jobId = view.job.id
    const units = this.inbox.take(jobId)
    try {
      for (const entries of checkpointEntries(view, units)) {
        const seq = this.seqs.get(jobId) ?? 0
        this.seqs.set(jobId, seq + 1)
        const key = checkpointKey(jobId, this.components.self, seq)
        const record = { by: this.components.self, at: this.components.clock.now(), entries }
        await this.components.kv.put(key, record, { system: true, trace: view.job.trace })
        this.components.absorb(key, record)
      }
      this.inbox.written(jobId)
    } catch (err) {
      this.inbox.failed(jobId, units, this.components.clock.now(), constants.TASK_CHECKPOINT_MS)
      this.components.logger.warn({ jobId, err: (err as Error).message }, 'could not write a job checkpoint; will retry')
    }
  }

  private async resend (view: JobView, to: string, entries: Array<{ unit: number, done: Done }>): Promise<void> {
    const jobId = view.job.id
    this.resending.add(jobId)
    try {
      let acks: ResultAck[]
      if (to === this.components.self) acks = entries.map(e => this.take(view, e.unit, e.done, this.components.self))
      else {
        if (this.components.transport === undefined) return
        const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)])
        acks = (await this.components.transport.send(to, { v: 1, type: 'results', jobId, entries: entries.map(e => ({ unit: e.unit, done: e.done })) }, signal)).acks
      }
      const now = this.components.clock.now()
      entries.forEach((e, i) => {
        // ok: held there now. stale: a newer lease superseded it (someone re-runs it). Anything else: tried again
        // after TASK_RESULT_RESEND_MS (the new finisher may not have the job record yet).
        if (acks[i] === 'stale') this.outbox.covered(jobId, e.unit, e.done.token, e.done.by)
        else this.outbox.sent(jobId, { unit: e.unit, done: e.done, to, at: now })
      })
    } catch (err) {
      this.components.logger.debug({ jobId, to, err: (err as Error).message }, 'could not send chunk results again; will retry')
      const now = this.components.clock.now()
      for (const e of entries) this.outbox.sent(jobId, { unit: e.unit, done: e.done, to, at: now })
    } finally {
      this.resending.delete(jobId)
    }
  }
}
