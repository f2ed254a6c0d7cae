/**
 * Job record and task.submit validation: normalised specs for each submit shape and errors naming the field.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { TASK_DEFAULT_RETRIES, TASK_DEFAULT_TIMEOUT_MS, TASK_MAX_SUBTASKS } from '../src/constants.js'
import { InvalidInputError } from '../src/errors.js'
import { cancelKey, doneKey, failKey, finalKey, jobKey, leaseKey, parseJobKey } from '../src/tasks/types.js'
import { validateCancel, validateDone, validateFailure, validateFinal, validateJobRecord, validateLease, validateSubmit } from '../src/tasks/validate.js'

const ID = 'ab'.repeat(16)

function expectInvalid (fn: () => unknown, field: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError at ${field}, got ${String(caught)}`)
  assert.is((caught as InvalidInputError).data?.field, field, (caught as Error).message)
}

const submit = suite('tasks validateSubmit')
const defaults = { retries: TASK_DEFAULT_RETRIES, timeoutMs: TASK_DEFAULT_TIMEOUT_MS, priority: 0 }

submit('input alone is one subtask; defaults filled in', () => {
  assert.equal(validateSubmit({ handler: 'sleep', input: { ms: 5 } }), { handler: 'sleep', ...defaults, kind: 'single', input: { ms: 5 } })
  assert.equal(validateSubmit({ handler: 'sleep', input: null }), { handler: 'sleep', ...defaults, kind: 'single', input: null })
})

submit('input + split', () => {
  assert.equal(validateSubmit({ handler: 'primes', input: { from: 0, to: 100 }, split: 4, reduce: 'handler', retries: 0, timeoutMs: 1000, priority: -5 }),
    { handler: 'primes', retries: 0, timeoutMs: 1000, priority: -5, reduce: 'handler', kind: 'split', input: { from: 0, to: 100 }, split: 4 })
  expectInvalid(() => validateSubmit({ handler: 'primes', input: 1, split: 0 }), 'split')
  expectInvalid(() => validateSubmit({ handler: 'primes', input: 1, split: TASK_MAX_SUBTASKS + 1 }), 'split')
  expectInvalid(() => validateSubmit({ handler: 'primes', input: 1, split: 1.5 }), 'split')
  expectInvalid(() => validateSubmit({ handler: 'primes', split: 3 }), 'input')
})

submit('inputs list', () => {
  assert.equal(validateSubmit({ handler: 'hash', inputs: [['a'], ['b']], reduce: 'list' }), { handler: 'hash', ...defaults, reduce: 'list', kind: 'list', inputs: [['a'], ['b']] })
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: [['a']], reduce: null }), 'reduce')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: [['a']], reduce: 'primes' }), 'reduce')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: [] }), 'inputs')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: 'x' }), 'inputs')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: new Array(TASK_MAX_SUBTASKS + 1).fill(0) }), 'inputs')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: [1], split: 2 }), 'split')
  expectInvalid(() => validateSubmit({ handler: 'hash', inputs: [1], input: 2 }), 'input')
})

submit('errors name the field', () => {
  expectInvalid(() => validateSubmit({ input: 1 }), 'handler')
  expectInvalid(() => validateSubmit({ handler: 'Bad Name', input: 1 }), 'handler')
  expectInvalid(() => validateSubmit({ handler: 'x'.repeat(65), input: 1 }), 'handler')
  expectInvalid(() => validateSubmit({ handler: 'sleep' }), 'input')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, retries: 101 }), 'retries')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, timeoutMs: 99 }), 'timeoutMs')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, timeoutMs: 7 * 86_400_000 + 1 }), 'timeoutMs')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, priority: 1001 }), 'priority')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, reduce: 5 }), 'reduce')
  expectInvalid(() => validateSubmit({ handler: 'sleep', input: 1, extra: true }), 'extra')
  expectInvalid(() => validateSubmit([1]), 'params')
  expectInvalid(() => validateSubmit({ handler: 'sleep' }, 'params'), 'params.input')
})

const records = suite('tasks record validators')
const job = { v: 1, id: ID, handler: 'primes', inputs: [1, 2], reduce: null, retries: 3, timeoutMs: 600_000, priority: 0, submittedBy: 'n1', submittedAt: 5 }

records('job record', () => {
  assert.equal(validateJobRecord(job), job)
  assert.equal(validateJobRecord({ ...job, trace: 't' }), { ...job, trace: 't' })
  expectInvalid(() => validateJobRecord({ ...job, v: 2 }), 'job.v')
  expectInvalid(() => validateJobRecord({ ...job, id: ID.toUpperCase() }), 'job.id')
  expectInvalid(() => validateJobRecord({ ...job, id: 'ab' }), 'job.id')
  expectInvalid(() => validateJobRecord({ ...job, inputs: [] }), 'job.inputs')
  expectInvalid(() => validateJobRecord({ ...job, retries: -1 }), 'job.retries')
  expectInvalid(() => validateJobRecord({ ...job, priority: -1001 }), 'job.priority')
  expectInvalid(() => validateJobRecord({ ...job, submittedBy: 'a/b' }), 'job.submittedBy')
  expectInvalid(() => validateJobRecord({ ...job, more: 1 }), 'job.more')
})

records('lease, failure, done, final, cancel', () => {
  assert.equal(validateLease({ holder: 'n1', token: 0, expiresAt: 9, attempt: 1 }), { holder: 'n1', token: 0, expiresAt: 9, attempt: 1 })
  expectInvalid(() => validateLease({ holder: 'n1', token: -1, expiresAt: 9, attempt: 1 }), 'lease.token')
  expectInvalid(() => validateLease({ holder: 'n1', token: 0, expiresAt: 9, attempt: 0 }), 'lease.attempt')
  assert.equal(validateFailure({ attempts: 1, error: 'e', retryAt: 3, by: 'n2' }), { attempts: 1, error: 'e', retryAt: 3, by: 'n2' })
  expectInvalid(() => validateFailure({ attempts: 1, error: '', retryAt: 3, by: 'n2' }), 'failure.error')
  assert.equal(validateDone({ result: [1], by: 'n1', token: 2, attempts: 1 }), { result: [1], by: 'n1', token: 2, attempts: 1 })
  assert.equal(validateDone({ by: 'n1', token: 2, attempts: 1 }), { by: 'n1', token: 2, attempts: 1 })
  expectInvalid(() => validateDone({ result: 1, error: 'e', by: 'n1', token: 2, attempts: 1 }), 'done.result')
  assert.equal(validateFinal({ state: 'done', result: 7, by: 'n1', at: 1 }), { state: 'done', result: 7, by: 'n1', at: 1 })
  expectInvalid(() => validateFinal({ state: 'exploded', by: 'n1', at: 1 }), 'final.state')
  assert.equal(validateCancel({ by: 'n1', at: 1 }), { by: 'n1', at: 1 })
  expectInvalid(() => validateCancel({ by: 'n1' }), 'cancel.at')
})

records('keys round-trip through parseJobKey', () => {
  assert.equal(parseJobKey(jobKey(ID)), { jobId: ID, kind: 'job' })
  assert.equal(parseJobKey(leaseKey(ID, 12, 3)), { jobId: ID, kind: 'lease', index: 12, token: 3 })
  assert.equal(parseJobKey(failKey(ID, 0)), { jobId: ID, kind: 'fail', index: 0 })
  assert.equal(parseJobKey(doneKey(ID, 9999, 0)), { jobId: ID, kind: 'done', index: 9999, token: 0 })
  assert.equal(parseJobKey(cancelKey(ID)), { jobId: ID, kind: 'cancel' })
  assert.equal(parseJobKey(finalKey(ID)), { jobId: ID, kind: 'state' })
  for (const bad of ['other/x', `_shoal/job/${ID}/lease`, `_shoal/job/${ID}/lease/01`, `_shoal/job/${ID}/lease/-1`, `_shoal/job/${ID}/what`, '_shoal/job/xyz', `_shoal/job/${ID}/done/1`, `_shoal/job/${ID}/lease/1`, `_shoal/job/${ID}/done/1/02`, `_shoal/job/${ID}/fail/1/2`, `_shoal/job/${ID}/done/1/2/3`]) {
    assert.is(parseJobKey(bad), undefined, bad)
  }
})

submit.run()
records.run()
