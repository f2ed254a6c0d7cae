/**
 * A node's views of jobs, built from their KV records (docs/protocols/tasks.md): one JobView per job, holding
 * the job record, leases, failures, results, cancel and final state as the replica has them. Leases and results
 * are folded by fencing token (core's mergeLease/mergeDone), so arrival order does not matter.
 */
import {
  emptyView, mergeCheckpoint, mergeDone, validateCheckpoint, mergeFailure, mergeLease, parseJobKey, validateCancel, validateDone, validateFailure, validateFinal, validateJobRecord, validateLease
} from '@shoal/core'
import type { JobView } from '@shoal/core'

/**
 * Puts one record (undefined: deleted) into its job's view. Returns whether a view changed. Records of a job
 * not yet known are not kept: the caller reads them all once the job record arrives. The deletion of a job record
 * (a collected job, docs/protocols/tasks.md "Retention") drops the job's view. Throws on an invalid record
 * (InvalidInputError naming the field).
 */
/** Told of every result a durable record (a done record, a checkpoint entry) holds: job, unit, token. */
export type DurableResult = (jobId: string, unit: number, token: number, by: string) => void

export function absorbRecord (views: Map<string, JobView>, key: string, value: unknown, durable?: DurableResult): boolean {
  const parsed = parseJobKey(key)
  if (parsed === undefined) return false
  if (value === undefined) return parsed.kind === 'job' ? views.delete(parsed.jobId) : false
  if (parsed.kind === 'job') {
    if (views.has(parsed.jobId)) return false
    views.set(parsed.jobId, emptyView(validateJobRecord(value)))
    return true
  }
  const view = views.get(parsed.jobId)
  if (view === undefined) return false
  const i = parsed.index ?? -1
  switch (parsed.kind) {
    case 'lease': {
      const lease = validateLease(value)
      // The key names the token; a record whose body disagrees is not ours to believe.
      if (lease.token !== parsed.token) throw new Error(`lease token ${lease.token} under a key for token ${String(parsed.token)}`)
      return mergeLease(view, i, lease)
    }
    case 'fail': return mergeFailure(view, i, validateFailure(value))
    case 'done': {
      const done = validateDone(value)
      if (done.token !== parsed.token) throw new Error(`done token ${done.token} under a key for token ${String(parsed.token)}`)
      durable?.(parsed.jobId, i, done.token, done.by)
      return mergeDone(view, i, done)
    }
    case 'ckpt': {
      const checkpoint = validateCheckpoint(value)
      if (checkpoint.by !== parsed.by) throw new Error(`checkpoint by ${checkpoint.by} under a key for ${String(parsed.by)}`)
      for (const e of checkpoint.entries) durable?.(parsed.jobId, e.unit, e.done.token, e.done.by)
      return mergeCheckpoint(view, checkpoint).length > 0
    }
    case 'cancel': view.cancel = validateCancel(value); return true
    case 'state': view.final = validateFinal(value); return true
  }
  return false
}
