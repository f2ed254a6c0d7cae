/**
 * Checks for job records read from the KV (any member may have written them) and for `task.submit` params.
 * Each failure is an InvalidInputError naming the field. Validators return fresh objects with only schema fields.
 */
import { TASK_DEFAULT_RETRIES, TASK_DEFAULT_TIMEOUT_MS } from '../constants.js'
import { checked, fail, Type } from '../schema/index.js'
import { CANCEL, DONE, FAILURE, FINAL, HANDLER_NAME, INPUTS, JOB_ID, JOB_RECORD, LEASE, PRIORITY, REDUCE, RETRIES, TIMEOUT_MS, CHUNK } from './records.js'
import type { Cancel, Done, Final, Failure, JobRecord, Lease } from './records.js'
export { CANCEL, DONE, FAILURE, FINAL, HANDLER_NAME, HANDLER_NAME_PATTERN, JOB_ID, JOB_ID_PATTERN, JOB_RECORD, LEASE, TASK_MAX_PRIORITY, TASK_MAX_RETRIES, TASK_MAX_TIMEOUT_MS, TASK_MIN_PRIORITY, TASK_MIN_TIMEOUT_MS } from './records.js'

export function handlerName (v: unknown, path: string): string {
  return checked(HANDLER_NAME, v, path)
}

export function jobId (v: unknown, path: string): string {
  return checked(JOB_ID, v, path)
}

export function validateJobRecord (v: unknown, path = 'job'): JobRecord {
  const o = checked(JOB_RECORD, v, path)
  const job: JobRecord = {
    v: 1,
    id: o.id,
    handler: o.handler,
    inputs: [...o.inputs],
    reduce: o.reduce,
    retries: o.retries,
    timeoutMs: o.timeoutMs,
    priority: o.priority,
    submittedBy: o.submittedBy,
    submittedAt: o.submittedAt
  }
  if (o.trace !== undefined) job.trace = o.trace
  if (o.chunk !== undefined) job.chunk = o.chunk
  return job
}

export function validateLease (v: unknown, path = 'lease'): Lease {
  const o = checked(LEASE, v, path)
  return { holder: o.holder, token: o.token, expiresAt: o.expiresAt, attempt: o.attempt }
}

export function validateFailure (v: unknown, path = 'failure'): Failure {
  const o = checked(FAILURE, v, path)
  const failure: Failure = { attempts: o.attempts, error: o.error, retryAt: o.retryAt, by: o.by }
  if (o.token !== undefined) failure.token = o.token
  if (o.subtask !== undefined) failure.subtask = o.subtask
  return failure
}

/** A done record carries a result or an error (poison), never both; a result may be absent (the handler returned undefined). */
export function validateDone (v: unknown, path = 'done'): Done {
  const o = checked(DONE, v, path)
  const done: Done = { by: o.by, token: o.token, attempts: o.attempts }
  if (o.error !== undefined) {
    if (o.result !== undefined) fail(`${path}.result`, o.result, 'absent when error is given')
    if (o.results !== undefined) fail(`${path}.results`, o.results, 'absent when error is given')
    done.error = o.error
    if (o.subtask !== undefined) done.subtask = o.subtask
  } else {
    if (o.result !== undefined && o.results !== undefined) fail(`${path}.results`, o.results, 'absent when result is given')
    if (o.result !== undefined) done.result = o.result
    if (o.results !== undefined) done.results = [...o.results]
  }
  return done
}

export function validateFinal (v: unknown, path = 'final'): Final {
  const o = checked(FINAL, v, path)
  const final: Final = { state: o.state, by: o.by, at: o.at }
  if (o.result !== undefined) final.result = o.result
  if (o.error !== undefined) final.error = o.error
  return final
}

export function validateCancel (v: unknown, path = 'cancel'): Cancel {
  const o = checked(CANCEL, v, path)
  return { by: o.by, at: o.at }
}

interface SubmitCommon {
  handler: string
  /** undefined: the handler's own reduce (driver decides); null: the list of results; else a handler's reduce. */
  reduce?: string | null
  retries: number
  timeoutMs: number
  priority: number
  /** Subtasks per lease; undefined: sized at submit from the members and their slots. */
  chunk?: number
}

/** A normalised `task.submit`: one input, an explicit list, or one input for the handler to split into `split` parts. */
export type SubmitSpec = SubmitCommon & (
  | { kind: 'single', input: unknown }
  | { kind: 'list', inputs: unknown[] }
  | { kind: 'split', input: unknown, split: number }
)

export const SUBMIT_FIELDS = ['handler', 'input', 'inputs', 'split', 'reduce', 'retries', 'timeoutMs', 'priority', 'chunk'] as const

/**
 * Checks task.submit params: exactly one of `input` + `split`, `inputs`, or `input` alone (one subtask). A field
 * set to undefined counts as absent (JSON cannot carry it); `input: null` is an input. Errors name bare fields
 * ('split', 'inputs') unless a `path` prefix is given.
 */
/** task.submit params, field by field; which combination of input, inputs and split is validateSubmit's rule. */
export const SUBMIT_PARAMS = Type.Object({
  handler: HANDLER_NAME,
  input: Type.Optional(Type.Unknown()),
  inputs: Type.Optional(INPUTS),
  split: Type.Optional(CHUNK),
  reduce: Type.Optional(REDUCE),
  retries: Type.Optional(RETRIES),
  timeoutMs: Type.Optional(TIMEOUT_MS),
  priority: Type.Optional(PRIORITY),
  chunk: Type.Optional(CHUNK)
}, { additionalProperties: false })

export function validateSubmit (params: unknown, path = ''): SubmitSpec {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) fail(path === '' ? 'params' : path, params, 'an object')
  const o = checked(SUBMIT_PARAMS, params, path)
  const field = (name: string): string => path === '' ? name : `${path}.${name}`
  const common: SubmitCommon = {
    handler: o.handler,
    retries: o.retries ?? TASK_DEFAULT_RETRIES,
    timeoutMs: o.timeoutMs ?? TASK_DEFAULT_TIMEOUT_MS,
    priority: o.priority ?? 0
  }
  if (o.reduce !== undefined) common.reduce = o.reduce
  if (o.chunk !== undefined) common.chunk = o.chunk
  const hasInput = o.input !== undefined
  if (o.inputs !== undefined) {
    if (hasInput) fail(field('input'), o.input, 'absent when inputs is given')
    if (o.split !== undefined) fail(field('split'), o.split, 'absent when inputs is given (split needs one input)')
    return { ...common, kind: 'list', inputs: [...o.inputs] }
  }
  if (o.split !== undefined) {
    if (!hasInput) fail(field('input'), o.input, 'an input to split')
    return { ...common, kind: 'split', input: o.input, split: o.split }
  }
  if (!hasInput) fail(field('input'), o.input, 'an input (or inputs, or input with split)')
  return { ...common, kind: 'single', input: o.input }
}
