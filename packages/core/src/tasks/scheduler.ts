/**
 * Who runs what (docs/protocols/tasks.md, "Deciding who runs what"). decide() runs on every node on every tick
 * or job change and returns effects; the driver performs them (writes the lease, then runs; writes final; ...)
 * and applies its own writes to the view before the next call. Pure: `now` comes in, nothing is read.
 */
import { TASK_BACKOFF_BASE_MS, TASK_BACKOFF_MAX_MS, TASK_MAX_ERROR_CHARS } from '../constants.js'
import { rank } from './rendezvous.js'
import { handlerCapability } from './types.js'
import type { Done, Failure, Final, JobView, Lease, TaskMember } from './types.js'

export interface DecideContext {
  self: string
  now: number
  /** Alive members, self included. */
  members: readonly TaskMember[]
  /** Subtasks this node can start now (its own pool; it assumes others have room). */
  freeSlots: number
  /** Subtask indexes of this job this node runs now. */
  running: ReadonlySet<number>
  leaseMs: number
}

export type TaskAction =
  | { type: 'claim', index: number, lease: Lease }
  | { type: 'renew', index: number, lease: Lease }
  | { type: 'abort', index: number, reason: 'lost-lease' | 'job-ended' }
  | { type: 'finish', final: Final }
  | { type: 'reduce' }

/** Retry delay after the n-th handler error: 200 ms x 2^(n-1), at most 30 s. */
export function backoff (attempts: number): number {
  const n = Math.max(1, Math.floor(attempts))
  if (n > 20) return TASK_BACKOFF_MAX_MS
  return Math.min(TASK_BACKOFF_BASE_MS * 2 ** (n - 1), TASK_BACKOFF_MAX_MS)
}

/** A lease is live while it has not expired and its holder is alive. */
export function isLive (lease: Lease | undefined, now: number, alive: ReadonlySet<string>): boolean {
  return lease !== undefined && lease.expiresAt > now && alive.has(lease.holder)
}

/** The member that writes the job's final state: rank(jobId, alive members)[0]. */
export function finisherOf (jobId: string, members: readonly TaskMember[]): string | undefined {
  return rank(jobId, members.map(m => m.id))[0]
}

/** Alive members that run the handler, ranked for subtask i. */
export function candidatesFor (view: JobView, index: number, members: readonly TaskMember[]): string[] {
  const cap = handlerCapability(view.job.handler)
  return rank(`${view.job.id}/${index}`, members.filter(m => m.capabilities.includes(cap)).map(m => m.id))
}

/** The lowest-index poison subtask, if any. */
export function firstPoison (view: JobView): { index: number, error: string } | undefined {
  let found: { index: number, error: string } | undefined
  for (const [index, done] of view.done) {
    if (done.error !== undefined && index < view.job.inputs.length && (found === undefined || index < found.index)) found = { index, error: done.error }
  }
  return found
}

export const isTimedOut = (view: JobView, now: number): boolean => now > view.job.submittedAt + view.job.timeoutMs

export function allDone (view: JobView): boolean {
  for (let i = 0; i < view.job.inputs.length; i++) {
    const done = view.done.get(i)
    if (done === undefined || done.error !== undefined) return false
  }
  return true
}

export function decide (view: JobView, ctx: DecideContext): TaskAction[] {
  const actions: TaskAction[] = []
  const { job } = view
  const { self, now, leaseMs } = ctx
  const ended = view.final !== undefined || view.cancel !== undefined

  // Aborts first: the driver stops work before anything else.
  for (const index of [...ctx.running].sort((a, b) => a - b)) {
    const lease = view.leases.get(index)
    if (ended) actions.push({ type: 'abort', index, reason: 'job-ended' })
    else if (lease === undefined || lease.holder !== self) actions.push({ type: 'abort', index, reason: 'lost-lease' })
  }
  if (view.final !== undefined) return actions

  const isFinisher = finisherOf(job.id, ctx.members) === self
  if (view.cancel !== undefined) {
    if (isFinisher) actions.push({ type: 'finish', final: { state: 'cancelled', by: self, at: now } })
    return actions
  }

  // Renew what this node runs and still holds, once 1/3 of the lease has passed.
  for (const index of [...ctx.running].sort((a, b) => a - b)) {
    const lease = view.leases.get(index)
    if (lease !== undefined && lease.holder === self && lease.expiresAt - now <= leaseMs * 2 / 3) {
      actions.push({ type: 'renew', index, lease: { ...lease, expiresAt: now + leaseMs } })
    }
  }

  const poison = firstPoison(view)
  const timedOut = isTimedOut(view, now)
  if (isFinisher) {
    if (poison !== undefined) {
      actions.push({ type: 'finish', final: { state: 'failed', error: `subtask ${poison.index} failed: ${poison.error}`.slice(0, TASK_MAX_ERROR_CHARS), by: self, at: now } })
    } else if (allDone(view)) {
      actions.push({ type: 'reduce' })
    } else if (timedOut) {
      actions.push({ type: 'finish', final: { state: 'failed', error: `timed out after ${job.timeoutMs} ms`, by: self, at: now } })
    }
  }
  // A job that will fail anyway (poison or past its deadline) starts no new work.
  if (poison !== undefined || timedOut) return actions

  actions.push(...claims(view, ctx))
  return actions
}

function claims (view: JobView, ctx: DecideContext): TaskAction[] {
  const { job } = view
  const { self, now, leaseMs } = ctx
  const out: TaskAction[] = []
  if (ctx.freeSlots <= 0) return out
  const cap = handlerCapability(job.handler)
  if (!ctx.members.some(m => m.id === self && m.capabilities.includes(cap))) return out
  const alive = new Set(ctx.members.map(m => m.id))

  for (let index = 0; index < job.inputs.length && out.length < ctx.freeSlots; index++) {
    if (view.done.has(index) || ctx.running.has(index)) continue
    const lease = view.leases.get(index)
    if (isLive(lease, now, alive)) continue
    const failure = view.failures.get(index)
    if (failure !== undefined && failure.retryAt > now) continue
    const k = candidatesFor(view, index, ctx.members).indexOf(self)
    if (k < 0) continue
    // A dead holder's lease counts as expired now; the k-th candidate waits k * leaseMs / 2 for those before it.
    const expired = lease === undefined ? 0 : alive.has(lease.holder) ? lease.expiresAt : Math.min(lease.expiresAt, now)
    const claimableSince = Math.max(job.submittedAt, expired, failure?.retryAt ?? 0)
    if (now < claimableSince + k * leaseMs / 2) continue
    out.push({
      type: 'claim',
      index,
      lease: { holder: self, token: lease === undefined ? 0 : lease.token + 1, expiresAt: now + leaseMs, attempt: (failure?.attempts ?? 0) + 1 }
    })
  }
  return out
}

export type AfterError = { write: 'fail', failure: Failure } | { write: 'done', done: Done }

/**
 * What a worker writes when its handler threw on subtask `index`: `fail/<i>` with attempts + 1 and a backoff, or,
 * once attempts exceed the job's retries, `done/<i>` with the error (poison).
 */
export function afterError (view: JobView, index: number, error: string, by: string, now: number): AfterError {
  const attempts = (view.failures.get(index)?.attempts ?? 0) + 1
  const text = error.slice(0, TASK_MAX_ERROR_CHARS)
  if (attempts > view.job.retries) {
    return { write: 'done', done: { error: text, by, token: view.leases.get(index)?.token ?? 0, attempts } }
  }
  return { write: 'fail', failure: { attempts, error: text, retryAt: now + backoff(attempts), by } }
}

/** What a worker writes when its handler returned: `done/<i>` with the result, its lease token and attempt. */
export function afterResult (view: JobView, index: number, result: unknown, by: string): Done {
  const lease = view.leases.get(index)
  const done: Done = { by, token: lease?.token ?? 0, attempts: lease?.attempt ?? (view.failures.get(index)?.attempts ?? 0) + 1 }
  if (result !== undefined) done.result = result
  return done
}
