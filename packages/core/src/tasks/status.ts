/**
 * A job's status as `task.status` reports it, derived from the view alone. Counts subtasks, not records, so a
 * subtask run twice (at-least-once execution) counts once.
 */
import { firstPoison } from './scheduler.js'
import { unitCount, unitRange } from './types.js'
import type { JobView, TaskMember } from './types.js'
import { countedDone, leaseLive } from './view.js'

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobStatus {
  state: JobState
  subtasks: number
  counts: { pending: number, running: number, done: number, failed: number }
  perMember: Record<string, { running: number, done: number }>
  /** Runs started: one per claim (lease token + 1), or the done record's attempts when no lease is known. */
  attempts: number
  /**
   * Leases superseded because the holder died or the lease expired, approximated as the sum over subtasks of
   * max(0, lease.token - failure.attempts): every claim after the first is a retry after a handler error (counted
   * by failure.attempts) or a takeover. Two nodes claiming at once with the same token, or a failure record lost
   * to a race, make it undercount or overcount by one; it is an operator's gauge, not an exact figure.
   */
  lostWorkers: number
  /**
   * Per subtask, its poison error or else its latest handler error, by index, with the attempt that failed
   * (1-based) and, for a retry, when it is due (ms since the epoch).
   */
  errors: Array<{ index: number, error: string, attempt: number, retryAt?: number }>
  result?: unknown
  error?: string
}

export function jobStatus (view: JobView, now: number, members: readonly TaskMember[]): JobStatus {
  const n = view.job.inputs.length
  const alive = new Set(members.map(m => m.id))
  const counts = { pending: 0, running: 0, done: 0, failed: 0 }
  const perMember: Record<string, { running: number, done: number }> = Object.create(null)
  const entry = (id: string): { running: number, done: number } => (perMember[id] ??= { running: 0, done: 0 })
  for (const m of members) entry(m.id)
  let attempts = 0
  let lostWorkers = 0
  let activity = false
  const errors: JobStatus['errors'] = []

  // Per unit (a chunk of subtasks, or one subtask); counts are in subtasks, attempts and lost workers in units.
  for (let i = 0, units = unitCount(view.job); i < units; i++) {
    const [from, to] = unitRange(view.job, i)
    const size = to - from
    const lease = view.leases.get(i)
    const failure = view.failures.get(i)
    const done = countedDone(view, i)
    if (lease !== undefined || failure !== undefined || done !== undefined) activity = true
    attempts += lease !== undefined ? lease.token + 1 : done?.attempts ?? 0
    if (lease !== undefined) lostWorkers += Math.max(0, lease.token - (failure?.attempts ?? 0))
    if (done !== undefined) {
      if (done.error !== undefined) {
        counts.failed += size
        errors.push({ index: done.subtask ?? from, error: done.error, attempt: done.attempts })
      } else {
        counts.done += size
        entry(done.by).done += size
      }
      continue
    }
    if (failure !== undefined) errors.push({ index: failure.subtask ?? from, error: failure.error, attempt: failure.attempts, retryAt: failure.retryAt })
    if (view.final?.state === 'done' && lease !== undefined) {
      // The job ended done, so this chunk's result counted; fencing counts a result only under the current lease,
      // so the newest lease this node saw names who computed it (its result went to the finisher, not here).
      counts.done += size
      entry(lease.holder).done += size
    } else if (lease !== undefined && leaseLive(view, i, now, alive)) {
      counts.running += size
      entry(lease.holder).running += size
    } else {
      counts.pending += size
    }
  }

  // A job that ended done has every subtask's result, whether or not this node saw each one: results stream to
  // the finisher, and a node that was neither it nor a chunk's worker learns them from checkpoints, or not at all
  // when the job ended before its first checkpoint (decision 0011). perMember credits a chunk whose result this
  // node never saw to its lease holder (above); a chunk with no lease seen here is counted done, credited to nobody.
  if (view.final?.state === 'done') {
    counts.done += counts.pending + counts.running
    counts.pending = 0
    counts.running = 0
  }
  const status: JobStatus = {
    state: view.final?.state ?? (view.cancel !== undefined ? 'cancelled' : firstPoison(view) !== undefined ? 'failed' : activity ? 'running' : 'pending'),
    subtasks: n,
    counts,
    perMember: { ...perMember },
    attempts,
    lostWorkers,
    errors
  }
  if (view.final?.result !== undefined) status.result = view.final.result
  if (view.final?.error !== undefined) status.error = view.final.error
  return status
}
