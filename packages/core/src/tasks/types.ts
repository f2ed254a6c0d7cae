/**
 * Records of a distributed job (docs/protocols/tasks.md; their types follow from the schemas in records.ts) and
 * their KV keys under `_shoal/job/`. Pure types and key helpers; the node's driver reads these records into a JobView and hands it to decide().
 */

export type { Cancel, Done, Failure, Final, FinalState, JobRecord, Lease } from './records.js'
import type { Cancel, Done, Failure, Final, JobRecord, Lease } from './records.js'

/**
 * Everything known about one job, as read from the KV (maps keyed by subtask index). `leases` holds the current
 * lease of each subtask (the one with the highest fencing token); `done` the result record with the highest
 * token (it counts only if that token is the current lease's: see countedDone in view.ts).
 */
export interface JobView {
  job: JobRecord
  leases: Map<number, Lease>
  failures: Map<number, Failure>
  done: Map<number, Done>
  /** Other results under the same token as `done`'s, by other members (a same-token claim race; view.ts). */
  rivals?: Map<number, Done[]>
  cancel?: Cancel
  final?: Final
}

/**
 * Units of work: leases, failures and results are per unit (a chunk of `job.chunk` subtasks); the map keys of a
 * JobView and the index in lease/fail/done keys are unit indexes. With chunk 1 a unit is a subtask.
 */
export const chunkOf = (job: JobRecord): number => job.chunk ?? 1
export const unitCount = (job: JobRecord): number => Math.ceil(job.inputs.length / chunkOf(job))
/** The subtasks [from, to) of unit u. */
export function unitRange (job: JobRecord, u: number): [number, number] {
  const size = chunkOf(job)
  return [u * size, Math.min(job.inputs.length, (u + 1) * size)]
}
/** The results of unit u's subtasks in order, from its done record. */
export function unitResults (job: JobRecord, u: number, done: Done): unknown[] {
  if (chunkOf(job) === 1) return [done.result]
  const [from, to] = unitRange(job, u)
  return Array.from({ length: to - from }, (_, k) => done.results?.[k])
}

/** An alive member (self included) and its membership capabilities. */
export interface TaskMember {
  id: string
  capabilities: string[]
}

export const JOB_PREFIX = '_shoal/job/'

export type JobKeyKind = 'job' | 'lease' | 'fail' | 'done' | 'cancel' | 'state' | 'ckpt'

export interface ParsedJobKey {
  jobId: string
  kind: JobKeyKind
  index?: number
  /** The fencing token of a lease or done key. */
  token?: number
  /** The member that wrote a checkpoint (`ckpt/<by>/<seq>`; its seq is `index`). */
  by?: string
}

export const jobKey = (id: string): string => `${JOB_PREFIX}${id}`
/**
 * One key per (subtask, fencing token): a renewal rewrites its own token's key only, so a stalled holder's late
 * renewal can never overwrite a newer claim by last-writer-wins (docs/protocols/tasks.md, "Fencing").
 */
export const leaseKey = (id: string, i: number, token: number): string => `${JOB_PREFIX}${id}/lease/${i}/${token}`
export const failKey = (id: string, i: number): string => `${JOB_PREFIX}${id}/fail/${i}`
/** One key per (subtask, token), like leases: a stale holder's result cannot overwrite the current one. */
export const doneKey = (id: string, i: number, token: number): string => `${JOB_PREFIX}${id}/done/${i}/${token}`
export const cancelKey = (id: string): string => `${JOB_PREFIX}${id}/cancel`
export const finalKey = (id: string): string => `${JOB_PREFIX}${id}/state`

/** The capability a member advertises for each handler it runs. */
export const handlerCapability = (name: string): string => `handler:${name}`

const JOB_ID = /^[0-9a-f]{32}$/
const INDEX = /^(0|[1-9][0-9]{0,8})$/
/** A member id in a key (EVENT_ORIGIN's characters; no slash). */
const MEMBER_ID = /^(?!__proto__$)[A-Za-z0-9._:-]{1,128}$/

/** Parses a key under JOB_PREFIX; undefined for anything else (wrong shape, bad id, non-canonical index). */
export function parseJobKey (key: string): ParsedJobKey | undefined {
  if (!key.startsWith(JOB_PREFIX)) return undefined
  const parts = key.slice(JOB_PREFIX.length).split('/')
  const jobId = parts[0]
  if (jobId === undefined || !JOB_ID.test(jobId)) return undefined
  if (parts.length === 1) return { jobId, kind: 'job' }
  const kind = parts[1]
  if (parts.length === 2) {
    if (kind === 'cancel' || kind === 'state') return { jobId, kind }
    return undefined
  }
  if (kind === 'ckpt') {
    const [, , by, seq] = parts
    if (parts.length === 4 && by !== undefined && MEMBER_ID.test(by) && seq !== undefined && INDEX.test(seq)) return { jobId, kind, by, index: Number(seq) }
    return undefined
  }
  const text = parts[2]
  if (text === undefined || !INDEX.test(text)) return undefined
  if (parts.length === 3 && kind === 'fail') return { jobId, kind, index: Number(text) }
  const token = parts[3]
  if (parts.length === 4 && (kind === 'lease' || kind === 'done') && token !== undefined && INDEX.test(token)) {
    return { jobId, kind, index: Number(text), token: Number(token) }
  }
  return undefined
}
