/**
 * Records of a distributed job as schemas (docs/protocols/tasks.md): the one definition each record's type
 * (`Static`) and its check (validate.ts) follow from. Any member may write these records, so every field is bounded.
 */
import { TASK_MAX_ERROR_CHARS, TASK_MAX_SUBTASKS } from '../constants.js'
import { EVENT_ORIGIN } from '../events/event.js'
import { Type } from '../schema/index.js'
import type { Static } from '../schema/index.js'

/** `primes`, a module handler's name, or `exec:<allowlisted name>`. */
export const HANDLER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/
export const JOB_ID_PATTERN = /^[0-9a-f]{32}$/
export const TASK_MAX_RETRIES = 100
export const TASK_MIN_TIMEOUT_MS = 100
export const TASK_MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000
export const TASK_MIN_PRIORITY = -1000
export const TASK_MAX_PRIORITY = 1000
export const MAX_TRACE_CHARS = 128

const strict = { additionalProperties: false } as const
export const HANDLER_NAME = Type.String({ pattern: HANDLER_NAME_PATTERN.source, expected: `a handler name matching ${String(HANDLER_NAME_PATTERN)}` })
export const JOB_ID = Type.String({ pattern: JOB_ID_PATTERN.source, expected: 'a job id of 32 lowercase hex characters' })
export const TIME = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
export const COUNT = TIME
export const MEMBER = EVENT_ORIGIN
export const ERROR_TEXT = Type.String({ minLength: 1, maxLength: TASK_MAX_ERROR_CHARS })
export const RETRIES = Type.Integer({ minimum: 0, maximum: TASK_MAX_RETRIES })
export const TIMEOUT_MS = Type.Integer({ minimum: TASK_MIN_TIMEOUT_MS, maximum: TASK_MAX_TIMEOUT_MS })
export const PRIORITY = Type.Integer({ minimum: TASK_MIN_PRIORITY, maximum: TASK_MAX_PRIORITY })
export const REDUCE = Type.Union([HANDLER_NAME, Type.Null()])
export const INPUTS = Type.Array(Type.Unknown(), { minItems: 1, maxItems: TASK_MAX_SUBTASKS, expected: `a list of 1 to ${TASK_MAX_SUBTASKS} inputs` })
export const SUBTASK = Type.Integer({ minimum: 0, maximum: TASK_MAX_SUBTASKS })
export const CHUNK = Type.Integer({ minimum: 1, maximum: TASK_MAX_SUBTASKS })

export const JOB_RECORD = Type.Object({
  v: Type.Literal(1),
  id: JOB_ID,
  handler: HANDLER_NAME,
  inputs: { ...INPUTS, description: 'one per subtask (explicit list, or the handler\'s split at submit time)' },
  reduce: { ...REDUCE, description: 'null: the result is the list of subtask results in order' },
  retries: { ...RETRIES, description: 'application errors allowed per subtask before it is poison' },
  timeoutMs: { ...TIMEOUT_MS, description: 'whole job, ms; past it the finisher fails the job' },
  priority: { ...PRIORITY, description: 'higher first' },
  submittedBy: MEMBER,
  submittedAt: TIME,
  trace: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TRACE_CHARS })),
  chunk: Type.Optional({ ...CHUNK, description: 'subtasks per lease (one contiguous range of inputs, leased, run and recorded as one unit); absent: 1. Chosen at submit from the members and their slots (docs/decisions/0006-chunked-job-leases.md)' })
}, strict)
export const LEASE = Type.Object({
  holder: MEMBER,
  token: { ...COUNT, description: 'fencing token: the previous lease\'s token + 1, 0 for the first claim' },
  expiresAt: TIME,
  attempt: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'failure attempts + 1' })
}, strict)
export const FAILURE = Type.Object({
  token: Type.Optional({ ...COUNT, description: 'the fencing token of the lease whose run failed: a failure by the current lease\'s holder releases that lease at once (the retry waits for retryAt, not for the lease to expire); absent in records written before tokens were checked' }),
  attempts: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  error: ERROR_TEXT,
  retryAt: TIME,
  by: MEMBER,
  subtask: Type.Optional({ ...SUBTASK, description: 'the subtask (job-wide index) whose handler failed; absent: the unit\'s first' })
}, strict)
/** A done record carries a result or an error (poison), never both: that rule is validateDone's. */
export const DONE = Type.Object({
  result: Type.Optional(Type.Unknown({ description: 'the subtask\'s result, for a job of one subtask per chunk' })),
  results: Type.Optional(Type.Array(Type.Unknown(), { maxItems: TASK_MAX_SUBTASKS, description: 'the chunk\'s results in order, for a job with chunk > 1 (a result may be null: undefined has no JSON)' })),
  error: Type.Optional({ ...ERROR_TEXT, description: 'present when the subtask gave up (poison)' }),
  subtask: Type.Optional({ ...SUBTASK, description: 'with error: the subtask (job-wide index) whose handler failed' }),
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

export type JobRecord = Static<typeof JOB_RECORD>
export type Lease = Static<typeof LEASE>
export type Failure = Static<typeof FAILURE>
export type Done = Static<typeof DONE>
export type Final = Static<typeof FINAL>
export type FinalState = Final['state']
export type Cancel = Static<typeof CANCEL>
