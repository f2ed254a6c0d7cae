/**
 * Checks for job records read from the KV (any member may have written them) and for `task.submit` params.
 * Each failure is an InvalidInputError naming the field. Validators return fresh objects with only schema fields.
 */
import { TASK_DEFAULT_RETRIES, TASK_DEFAULT_TIMEOUT_MS, TASK_MAX_ERROR_CHARS, TASK_MAX_SUBTASKS } from '../constants.js'
import { validateOrigin } from '../events/event.js'
import { fail, list, oneOf, onlyKeys, record, safeInt, string } from '../validate.js'
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

const time = (v: unknown, path: string): number => safeInt(v, path)
const member = (v: unknown, path: string): string => validateOrigin(v, path)
const errorText = (v: unknown, path: string): string => string(v, path, TASK_MAX_ERROR_CHARS)

export function handlerName (v: unknown, path: string): string {
  if (typeof v !== 'string' || !HANDLER_NAME_PATTERN.test(v)) fail(path, v, `a handler name matching ${String(HANDLER_NAME_PATTERN)}`)
  return v
}

export function jobId (v: unknown, path: string): string {
  if (typeof v !== 'string' || !JOB_ID_PATTERN.test(v)) fail(path, v, 'a job id of 32 lowercase hex characters')
  return v
}

const retries = (v: unknown, path: string): number => safeInt(v, path, 0, TASK_MAX_RETRIES)
const timeoutMs = (v: unknown, path: string): number => safeInt(v, path, TASK_MIN_TIMEOUT_MS, TASK_MAX_TIMEOUT_MS)
const priority = (v: unknown, path: string): number => safeInt(v, path, TASK_MIN_PRIORITY, TASK_MAX_PRIORITY)
const reduceName = (v: unknown, path: string): string | null => v === null ? null : handlerName(v, path)

function inputsList (v: unknown, path: string): unknown[] {
  const items = list(v, path, TASK_MAX_SUBTASKS)
  if (items.length === 0) fail(path, v, `a list of 1 to ${TASK_MAX_SUBTASKS} inputs`)
  return items
}

export function validateJobRecord (v: unknown, path = 'job'): JobRecord {
  const o = record(v, path)
  onlyKeys(o, path, ['v', 'id', 'handler', 'inputs', 'reduce', 'retries', 'timeoutMs', 'priority', 'submittedBy', 'submittedAt', 'trace', 'chunk'])
  if (o.v !== 1) fail(`${path}.v`, o.v, '1')
  const job: JobRecord = {
    v: 1,
    id: jobId(o.id, `${path}.id`),
    handler: handlerName(o.handler, `${path}.handler`),
    inputs: [...inputsList(o.inputs, `${path}.inputs`)],
    reduce: reduceName(o.reduce, `${path}.reduce`),
    retries: retries(o.retries, `${path}.retries`),
    timeoutMs: timeoutMs(o.timeoutMs, `${path}.timeoutMs`),
    priority: priority(o.priority, `${path}.priority`),
    submittedBy: member(o.submittedBy, `${path}.submittedBy`),
    submittedAt: time(o.submittedAt, `${path}.submittedAt`)
  }
  if (o.trace !== undefined) job.trace = string(o.trace, `${path}.trace`, MAX_TRACE_CHARS)
  if (o.chunk !== undefined) job.chunk = safeInt(o.chunk, `${path}.chunk`, 1, TASK_MAX_SUBTASKS)
  return job
}

export function validateLease (v: unknown, path = 'lease'): Lease {
  const o = record(v, path)
  onlyKeys(o, path, ['holder', 'token', 'expiresAt', 'attempt'])
  return {
    holder: member(o.holder, `${path}.holder`),
    token: safeInt(o.token, `${path}.token`),
    expiresAt: time(o.expiresAt, `${path}.expiresAt`),
    attempt: safeInt(o.attempt, `${path}.attempt`, 1)
  }
}

export function validateFailure (v: unknown, path = 'failure'): Failure {
  const o = record(v, path)
  onlyKeys(o, path, ['token', 'attempts', 'error', 'retryAt', 'by', 'subtask'])
  const failure: Failure = {
    attempts: safeInt(o.attempts, `${path}.attempts`, 1),
    error: errorText(o.error, `${path}.error`),
    retryAt: time(o.retryAt, `${path}.retryAt`),
    by: member(o.by, `${path}.by`)
  }
  if (o.token !== undefined) failure.token = safeInt(o.token, `${path}.token`)
  if (o.subtask !== undefined) failure.subtask = safeInt(o.subtask, `${path}.subtask`, 0, TASK_MAX_SUBTASKS)
  return failure
}

/** A done record carries a result or an error (poison), never both; a result may be absent (the handler returned undefined). */
export function validateDone (v: unknown, path = 'done'): Done {
  const o = record(v, path)
  onlyKeys(o, path, ['result', 'results', 'error', 'subtask', 'by', 'token', 'attempts'])
  const done: Done = { by: member(o.by, `${path}.by`), token: safeInt(o.token, `${path}.token`), attempts: safeInt(o.attempts, `${path}.attempts`) }
  if (o.error !== undefined) {
    if (o.result !== undefined) fail(`${path}.result`, o.result, 'absent when error is given')
    if (o.results !== undefined) fail(`${path}.results`, o.results, 'absent when error is given')
    done.error = errorText(o.error, `${path}.error`)
    if (o.subtask !== undefined) done.subtask = safeInt(o.subtask, `${path}.subtask`, 0, TASK_MAX_SUBTASKS)
  } else {
    if (o.result !== undefined && o.results !== undefined) fail(`${path}.results`, o.results, 'absent when result is given')
    if (o.result !== undefined) done.result = o.result
    if (o.results !== undefined) done.results = [...list(o.results, `${path}.results`, TASK_MAX_SUBTASKS)]
  }
  return done
}

export function validateFinal (v: unknown, path = 'final'): Final {
  const o = record(v, path)
  onlyKeys(o, path, ['state', 'result', 'error', 'by', 'at'])
  const final: Final = { state: oneOf(o.state, `${path}.state`, ['done', 'failed', 'cancelled'] as const), by: member(o.by, `${path}.by`), at: time(o.at, `${path}.at`) }
  if (o.result !== undefined) final.result = o.result
  if (o.error !== undefined) final.error = errorText(o.error, `${path}.error`)
  return final
}

export function validateCancel (v: unknown, path = 'cancel'): Cancel {
  const o = record(v, path)
  onlyKeys(o, path, ['by', 'at'])
  return { by: member(o.by, `${path}.by`), at: time(o.at, `${path}.at`) }
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
export function validateSubmit (params: unknown, path = ''): SubmitSpec {
  const o = record(params, path === '' ? 'params' : path)
  const field = (name: string): string => path === '' ? name : `${path}.${name}`
  for (const k of Object.keys(o)) {
    if (!(SUBMIT_FIELDS as readonly string[]).includes(k)) fail(field(k), o[k], `no such field (allowed: ${SUBMIT_FIELDS.join(', ')})`)
  }
  const common: SubmitCommon = {
    handler: handlerName(o.handler, field('handler')),
    retries: o.retries === undefined ? TASK_DEFAULT_RETRIES : retries(o.retries, field('retries')),
    timeoutMs: o.timeoutMs === undefined ? TASK_DEFAULT_TIMEOUT_MS : timeoutMs(o.timeoutMs, field('timeoutMs')),
    priority: o.priority === undefined ? 0 : priority(o.priority, field('priority'))
  }
  if (o.reduce !== undefined) common.reduce = reduceName(o.reduce, field('reduce'))
  if (o.chunk !== undefined) common.chunk = safeInt(o.chunk, field('chunk'), 1, TASK_MAX_SUBTASKS)
  const hasInput = o.input !== undefined
  if (o.inputs !== undefined) {
    if (hasInput) fail(field('input'), o.input, 'absent when inputs is given')
    if (o.split !== undefined) fail(field('split'), o.split, 'absent when inputs is given (split needs one input)')
    return { ...common, kind: 'list', inputs: [...inputsList(o.inputs, field('inputs'))] }
  }
  if (o.split !== undefined) {
    const split = safeInt(o.split, field('split'), 1, TASK_MAX_SUBTASKS)
    if (!hasInput) fail(field('input'), o.input, 'an input to split')
    return { ...common, kind: 'split', input: o.input, split }
  }
  if (!hasInput) fail(field('input'), o.input, 'an input (or inputs, or input with split)')
  return { ...common, kind: 'single', input: o.input }
}
