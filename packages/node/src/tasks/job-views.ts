/**
 * A node's views of jobs, built from their KV records (docs/protocols/tasks.md): one JobView per job, holding
 * the job record, leases, failures, results, cancel and final state as the replica has them.
 */
import {
  parseJobKey, validateCancel, validateDone, validateFailure, validateFinal, validateJobRecord, validateLease
} from '@shoal/core'
import type { JobView } from '@shoal/core'

/**
 * Puts one record (undefined: deleted) into its job's view. Returns whether a view changed. Records of a job
 * not yet known are not kept: the caller reads them all once the job record arrives. Throws on an invalid
 * record (InvalidInputError naming the field).
 */
export function absorbRecord (views: Map<string, JobView>, key: string, value: unknown): boolean {
  const parsed = parseJobKey(key)
  if (parsed === undefined || value === undefined) return false
  if (parsed.kind === 'job') {
    if (views.has(parsed.jobId)) return false
    views.set(parsed.jobId, { job: validateJobRecord(value), leases: new Map(), failures: new Map(), done: new Map() })
    return true
  }
  const view = views.get(parsed.jobId)
  if (view === undefined) return false
  const i = parsed.index ?? -1
  switch (parsed.kind) {
    case 'lease': view.leases.set(i, validateLease(value)); break
    case 'fail': view.failures.set(i, validateFailure(value)); break
    case 'done': view.done.set(i, validateDone(value)); break
    case 'cancel': view.cancel = validateCancel(value); break
    case 'state': view.final = validateFinal(value); break
  }
  return true
}
