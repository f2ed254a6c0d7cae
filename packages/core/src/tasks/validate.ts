/**
 * Checks for job records read from the KV (any member may have written them) and for `task.submit` params.
 * Each failure is an InvalidInputError naming the field. Validators return fresh objects with only schema fields.
 */
import { TASK_DEFAULT_RETRIES, TASK_DEFAULT_TIMEOUT_MS, TASK_MAX_ERROR_CHARS, TASK_MAX_SUBTASKS } from '../constants.js'
import { EVENT_ORIGIN } from '../events/event.js'
import { checked, fail, Type } from '../schema/index.js'
import type { Cancel, Done, Final, Failure, JobRecord, Lease } from './types.js'

/** `primes`, a module handler's name, or `exec:<allowlisted name>`. */
export const HANDLER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/
export const JOB_ID_PATTERN = /^[0-9a-f]{32}$/
export const TASK_MAX_RETRIES = 100
export const TASK_MIN_TIMEOUT_MS = 100
export const TASK_MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000
export const TASK_MIN_PRIORITY = -1000
export const TASK_MAX_PRIORITY = 1000
const MAX_TRACE_CHARS = 128

const strict = { additionalProperties: false } as const
export const HANDLER_NAME = Type.String({ pattern: HANDLER_NAME_PATTERN.source, expected: `a handler name matching ${String(HANDLER_NAME_PATTERN)}` })
export const JOB_ID = Type.String({ pattern: JOB_ID_PATTERN.source, expected: 'a job id of 32 lowercase hex characters' })
const TIME = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const COUNT = TIME
const MEMBER = EVENT_ORIGIN
const ERROR_TEXT = Type.String({ minLength: 1, maxLength: TASK_MAX_ERROR_CHARS })
const RETRIES = Type.Integer({ minimum: 0, maximum: TASK_MAX_RETRIES })
const TIMEOUT_MS = Type.Integer({ minimum: TASK_MIN_TIMEOUT_MS, maximum: TASK_MAX_TIMEOUT_MS })
const PRIORITY = Type.Integer({ minimum: TASK_MIN_PRIORITY, maximum: TASK_MAX_PRIORITY })
const REDUCE = Type.Union([HANDLER_NAME, Type.Null()])
const INPUTS = Type.Array(Type.Unknown(), { minItems: 1, maxItems: TASK_MAX_SUBTASKS, expected: `a list of 1 to ${TASK_MAX_SUBTASKS} inputs` })
const SUBTASK = Type.Integer({ minimum: 0, maximum: TASK_MAX_SUBTASKS })
const CHUNK = Type.Integer({ minimum: 1, maximum: TASK_MAX_SUBTASKS })

export const JOB_RECORD = Type.Object({
  v: Type.Literal(1),
  id: JOB_ID,
  handler: HANDLER_NAME,
  inputs: INPUTS,
  reduce: REDUCE,
  retries: RETRIES,
  timeoutMs: TIMEOUT_MS,
  priority: PRIORITY,
  submittedBy: MEMBER,
  submittedAt: TIME,
  trace: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TRACE_CHARS })),
  chunk: Type.Optional(CHUNK)
}, strict)
export const LEASE = Type.Object({ holder: MEMBER, token: COUNT, expiresAt: TIME, attempt: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, strict)
export const FAILURE = Type.Object({
  token: Type.Optional(COUNT),
  attempts: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  error: ERROR_TEXT,
  retryAt: TIME,
  by: MEMBER,
  subtask: Type.Optional(SUBTASK)
}, strict)
/** A done record carries a result or an error (poison), never both: that rule is validateDone's. */
export const DONE = Type.Object({
  result: Type.Optional(Type.Unknown()),
  results: Type.Optional(Type.Array(Type.Unknown(), { maxItems: TASK_MAX_SUBTASKS })),
  error: Type.Optional(ERROR_TEXT),
  subtask: Type.Optional(SUBTASK),
  by: MEMBER,
  token: COUNT,
  attempts: COUNT
}, strict)
export const FINAL = Type.Object({
  state: Type.Union([Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')], { expected: 'one of done, failed, cancelled' }),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(ERROR_TEXT),
  by: MEMBER,
  at: TIME
}, strict)
export const CANCEL = Type.Object({ by: MEMBER, at: TIME }, strict)

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
}, strict)

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
