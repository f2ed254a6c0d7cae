/**
 * Chunk results streamed to a job's finisher (docs/protocols/tasks.md, "Result stream and checkpoints";
 * docs/decisions/0011-task-result-stream.md). A worker sends a finished chunk's result to the finisher over
 * /shoal/<swarm>/task-results/1.0.0 instead of replicating a done record; the finisher keeps it in memory and,
 * at most TASK_CHECKPOINT_MS later, writes it into a checkpoint record (`ckpt/<by>/<seq>`, one replicated write
 * for every result received in that interval); the final state holds the reduced answer. Pure: the wire
 * messages and records as schemas, the fencing check a streamed result must pass, how a checkpoint is folded into
 * a view, and the bookkeeping of both ends (Inbox on the finisher, Outbox on the worker) with `now` passed in.
 */
import { TASK_CHECKPOINT_MAX_UNITS, TASK_MAX_SUBTASKS } from '../constants.js'
import { checked, fail, Type } from '../schema/index.js'
import type { Static } from '../schema/index.js'
import { DONE, JOB_ID, MEMBER, TIME } from './records.js'
import { JOB_PREFIX, chunkOf, unitCount, unitRange } from './types.js'
import type { Done, JobView } from './types.js'
import { countedDone, mergeDone } from './view.js'
import { validateDone } from './validate.js'

const strict = { additionalProperties: false } as const
const UNIT = Type.Integer({ minimum: 0, maximum: TASK_MAX_SUBTASKS })
const ENTRY = Type.Object({ unit: UNIT, done: DONE }, strict)

/** `_shoal/job/<id>/ckpt/<by>/<seq>`: results of chunks the member `by` received, as done records by unit. */
export const CHECKPOINT = Type.Object({
  by: MEMBER,
  at: TIME,
  entries: Type.Array(ENTRY, { minItems: 1, maxItems: TASK_CHECKPOINT_MAX_UNITS })
}, strict)
export type Checkpoint = Static<typeof CHECKPOINT>

/** Results of a job's chunks, sent by their worker to the job's finisher (one frame; resends may batch). */
export const RESULTS_REQUEST = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('results'),
  jobId: JOB_ID,
  entries: Type.Array(ENTRY, { minItems: 1, maxItems: TASK_CHECKPOINT_MAX_UNITS })
}, strict)
export type ResultsRequest = Static<typeof RESULTS_REQUEST>

/**
 * Per entry, in order: `ok` held by the finisher (the worker may take more work); `stale` a newer lease of the
 * chunk is known (fencing: the worker records nothing); `unknown-job` the finisher has not got the job record
 * yet; `invalid` the entry breaks a rule (wrong sender, wrong count of results, an error instead of results).
 * Anything but ok/stale makes the worker write the done record itself (the replicated path).
 */
export const RESULT_ACK = Type.Union([Type.Literal('ok'), Type.Literal('stale'), Type.Literal('unknown-job'), Type.Literal('invalid')])
export type ResultAck = Static<typeof RESULT_ACK>
export const RESULTS_REPLY = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('acks'),
  acks: Type.Array(RESULT_ACK, { maxItems: TASK_CHECKPOINT_MAX_UNITS })
}, strict)
export type ResultsReply = Static<typeof RESULTS_REPLY>

export const checkpointKey = (id: string, by: string, seq: number): string => `${JOB_PREFIX}${id}/ckpt/${by}/${seq}`

/** Checks a checkpoint record (any member may have written it); each entry's done record as validateDone does. */
export function validateCheckpoint (v: unknown, path = 'checkpoint'): Checkpoint {
  const o = checked(CHECKPOINT, v, path)
  return { by: o.by, at: o.at, entries: o.entries.map((e, i) => ({ unit: e.unit, done: validateDone(e.done, `${path}.entries[${i}].done`) })) }
}

export function validateResultsRequest (v: unknown, path = 'request'): ResultsRequest {
  const o = checked(RESULTS_REQUEST, v, path)
  return { v: 1, type: 'results', jobId: o.jobId, entries: o.entries.map((e, i) => ({ unit: e.unit, done: validateDone(e.done, `${path}.entries[${i}].done`) })) }
}

export function validateResultsReply (v: unknown, expected: number, path = 'reply'): ResultsReply {
  const o = checked(RESULTS_REPLY, v, path)
  if (o.acks.length !== expected) fail(`${path}.acks`, o.acks, `${expected} acks, one per entry`)
  return { v: 1, type: 'acks', acks: [...o.acks] }
}

/**
 * Folds a checkpoint into a view: each entry as a done record of its unit (mergeDone: by token), so a
 * checkpointed result counts exactly as a replicated done record would (countedDone: only under the current
 * lease's token). Entries for units outside the job are ignored. Returns the units whose entry was taken.
 */
export function mergeCheckpoint (view: JobView, checkpoint: Checkpoint): number[] {
  const taken: number[] = []
  const units = unitCount(view.job)
  for (const { unit, done } of checkpoint.entries) {
    if (unit < units && mergeDone(view, unit, done)) taken.push(unit)
  }
  return taken
}

/**
 * Whether the finisher takes a result streamed to it by `from` for `unit` (fencing as for done records): the
 * sender must be the result's `by`, the unit must exist, a success carries exactly the unit's results (an error,
 * poison, is never streamed: it is replicated as a done record), and its token must not be below the current
 * lease's (a stale holder's result is refused: `stale`). A token above every lease seen is taken: the lease
 * write precedes the result (the worker waits for it) and is still on its way here.
 */
export function acceptResult (view: JobView, unit: number, done: Done, from: string): ResultAck {
  if (done.by !== from || done.error !== undefined || unit >= unitCount(view.job)) return 'invalid'
  if (chunkOf(view.job) === 1) {
    if (done.results !== undefined) return 'invalid'
  } else {
    const [a, b] = unitRange(view.job, unit)
    if (done.result !== undefined || done.results?.length !== b - a) return 'invalid'
  }
  // Only an older token is refused. The same token by another holder may be the winner of a same-token claim
  // race whose lease has not reached this node yet (the stream is faster than replication): taken, and counted
  // only once (if ever) the view's lease names its writer (countedDone).
  const lease = view.leases.get(unit)
  if (lease !== undefined && done.token < lease.token) return 'stale'
  return 'ok'
}

/**
 * The checkpoint entries for `units` (received here, not yet in a checkpoint): the counted result of each, in
 * unit order, split into records of at most `maxUnits` entries and about `maxBytes` of JSON each (a record must
 * fit the KV value limit). A unit whose result no longer counts (a newer lease superseded it) is left out.
 */
export function checkpointEntries (view: JobView, units: Iterable<number>, maxUnits = TASK_CHECKPOINT_MAX_UNITS, maxBytes = 256 * 1024): Array<Array<{ unit: number, done: Done }>> {
  const out: Array<Array<{ unit: number, done: Done }>> = []
  let current: Array<{ unit: number, done: Done }> = []
  let bytes = 0
  for (const unit of [...units].sort((a, b) => a - b)) {
    const done = countedDone(view, unit)
    if (done === undefined || done.error !== undefined) continue
    const size = JSON.stringify(done).length + 16
    if (current.length > 0 && (current.length >= maxUnits || bytes + size > maxBytes)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push({ unit, done })
    bytes += size
  }
  if (current.length > 0) out.push(current)
  return out
}

/**
 * The finisher's side: results received (or produced here) per job that no checkpoint holds yet. A job's
 * checkpoint is due once its oldest such result has waited `intervalMs`; a job that finishes sooner writes none
 * (its final state holds the answer).
 */
export class Inbox {
  private readonly jobs = new Map<string, { units: Set<number>, since: number, inFlight: boolean }>()

  add (jobId: string, unit: number, now: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined) this.jobs.set(jobId, { units: new Set([unit]), since: now, inFlight: false })
    else {
      if (job.units.size === 0) job.since = now
      job.units.add(unit)
    }
  }

  /** True when no job has a result waiting for a checkpoint or a checkpoint in flight: nothing comes due until add(). */
  get idle (): boolean {
    for (const job of this.jobs.values()) if (job.inFlight || job.units.size > 0) return false
    return true
  }

  /** Jobs whose checkpoint is due now (none in flight for them). */
  due (now: number, intervalMs: number): string[] {
    const out: string[] = []
    for (const [jobId, job] of this.jobs) if (!job.inFlight && job.units.size > 0 && now - job.since >= intervalMs) out.push(jobId)
    return out
  }

  /** The units to write now; the job's checkpoint is in flight until written() or failed(). */
  take (jobId: string): number[] {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.inFlight) return []
    job.inFlight = true
    const units = [...job.units]
    job.units.clear()
    return units
  }

  written (jobId: string): void {
    const job = this.jobs.get(jobId)
    if (job !== undefined) job.inFlight = false
  }

  /** A checkpoint write failed: its units wait again (due at once). */
  failed (jobId: string, units: number[], now: number, intervalMs: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined) return
    job.inFlight = false
    job.since = job.units.size === 0 ? now - intervalMs : Math.min(job.since, now - intervalMs)
    for (const u of units) job.units.add(u)
  }

  /** A durable record (anyone's checkpoint, a done record) holds these units: nothing to write for them. */
  covered (jobId: string, units: Iterable<number>): void {
    const job = this.jobs.get(jobId)
    if (job !== undefined) for (const u of units) job.units.delete(u)
  }

  pending (jobId: string): number {
    return this.jobs.get(jobId)?.units.size ?? 0
  }

  /** The job ended (final state) or was collected. */
  drop (jobId: string): void {
    this.jobs.delete(jobId)
  }
}

export interface Sent { unit: number, done: Done, to: string, at: number }

/**
 * The worker's side: results this node streamed to a finisher, kept until a durable record (a checkpoint, a
 * done record) holds them or the job ends. When the finisher changes (it died, or a member ranked above it
 * joined) or a result has waited `resendMs` without a checkpoint (the finisher restarted and lost it), the result
 * is sent again: a finisher that dies loses no result whose worker is alive.
 */
export class Outbox {
  private readonly jobs = new Map<string, Map<number, Sent>>()

  sent (jobId: string, entry: Sent): void {
    let job = this.jobs.get(jobId)
    if (job === undefined) this.jobs.set(jobId, job = new Map())
    job.set(entry.unit, entry)
  }

  /**
   * A durable record holds `unit`'s result under `token`, written by `by`: ours is no longer needed if that token
   * is later than ours, or it is ours (the same token by another member is a same-token race's other result,
   * which may be the one that does not count).
   */
  covered (jobId: string, unit: number, token: number, by: string): void {
    const job = this.jobs.get(jobId)
    const sent = job?.get(unit)
    if (job === undefined || sent === undefined || sent.done.token > token || (sent.done.token === token && sent.done.by !== by)) return
    job.delete(unit)
    if (job.size === 0) this.jobs.delete(jobId)
  }

  /** Results of `jobId` to send (again) to `finisher` now: sent to another member, or unconfirmed for resendMs. */
  resend (jobId: string, finisher: string, now: number, resendMs: number): Sent[] {
    const job = this.jobs.get(jobId)
    if (job === undefined) return []
    return [...job.values()].filter(s => s.to !== finisher || now - s.at >= resendMs)
  }

  jobIds (): string[] {
    return [...this.jobs.keys()]
  }

  /** True when no result waits for a durable record. */
  get empty (): boolean {
    return this.jobs.size === 0
  }

  size (jobId: string): number {
    return this.jobs.get(jobId)?.size ?? 0
  }

  drop (jobId: string): void {
    this.jobs.delete(jobId)
  }
}
