/**
 * Checks for job records read from the KV (any member may have written them) and for `task.submit` params.
 * Each failure is an InvalidInputError naming the field. Validators return fresh objects with only schema fields.
 */
import { TASK_DEFAULT_RETRIES, TASK_DEFAULT_TIMEOUT_MS } from '../constants.js'
import { checked, fail, Type } from '../schema/index.js'
import { CANCEL, DONE, FAILURE, FINAL, HANDLER_NAME, INPUTS, JOB_ID, JOB_RECORD, LEASE, PRIORITY, RETRIES, TIMEOUT_MS, CHUNK } from './records.js'
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
  /** 'handler': the handler's own reduce; 'list': the results in order; undefined: 'list' for inputs, else 'handler'. */
  reduce?: 'handler' | 'list'
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
/**
 * task.submit params, field by field: the one shape the node checks and the RPC method publishes (OpenRPC,
 * docs/rpc.md). Which combination of input, inputs and split is validateSubmit's rule.
 */
export const SUBMIT_PARAMS = Type.Object({
  handler: { ...HANDLER_NAME, description: 'primes, wordcount, hash, sleep, a module handler from config, or exec:<allowlisted name>' },
  input: Type.Optional(Type.Unknown({ description: 'the one input: a single subtask, or with split, the input the handler splits' })),
  inputs: Type.Optional({ ...INPUTS, description: 'one subtask per input' }),
  split: Type.Optional({ ...CHUNK, description: 'split input into this many subtasks with the handler\'s own split' }),
  reduce: Type.Optional(Type.Enum(['handler', 'list'], { expected: "'handler' or 'list'", description: "'handler': the handler's own reduce (default with split and with input alone); 'list': the results in order (default with inputs)" })),
  retries: Type.Optional(RETRIES),
  timeoutMs: Type.Optional(TIMEOUT_MS),
  priority: Type.Optional(PRIORITY),
  chunk: Type.Optional({ ...CHUNK, description: 'subtasks per lease (one lease and one result record per chunk); default: sized from the members and their slots, about 2 chunks per slot, and larger for a handler this node measured as cheap (about 50 ms of work a chunk)' })
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
