/**
 * jobStatus: subtasks counted once whatever records exist; lost workers approximated from lease tokens.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { jobStatus } from '../src/tasks/status.js'
import type { JobView, TaskMember } from '../src/tasks/types.js'

const T0 = 1000
const members: TaskMember[] = [{ id: 'n1', capabilities: [] }, { id: 'n2', capabilities: [] }]
const base = (): JobView => ({
  job: { v: 1, id: 'ab'.repeat(16), handler: 'primes', inputs: [0, 1, 2, 3], reduce: null, retries: 3, timeoutMs: 60_000, priority: 0, submittedBy: 'n1', submittedAt: T0 },
  leases: new Map(), failures: new Map(), done: new Map()
})
const t = suite('tasks status')

t('pending job', () => {
  const s = jobStatus(base(), T0, members)
  assert.is(s.state, 'pending')
  assert.equal(s.counts, { pending: 4, running: 0, done: 0, failed: 0 })
  assert.equal(s.perMember, { n1: { running: 0, done: 0 }, n2: { running: 0, done: 0 } })
})

t('running job with a takeover, a retry and a dead holder', () => {
  const v = base()
  v.leases.set(0, { holder: 'n1', token: 0, expiresAt: T0 + 10, attempt: 1 })
  v.done.set(0, { result: 2, by: 'n1', token: 0, attempts: 1 })
  v.leases.set(1, { holder: 'n2', token: 2, expiresAt: T0 + 10, attempt: 2 }) // 1 error + 1 takeover
  v.failures.set(1, { attempts: 1, error: 'boom', retryAt: T0, by: 'n1' })
  v.leases.set(2, { holder: 'gone', token: 0, expiresAt: T0 + 10, attempt: 1 })
  const s = jobStatus(v, T0 + 1, members)
  assert.is(s.state, 'running')
  assert.equal(s.counts, { pending: 2, running: 1, done: 1, failed: 0 })
  assert.equal(s.perMember, { n1: { running: 0, done: 1 }, n2: { running: 1, done: 0 } })
  assert.is(s.attempts, 1 + 3 + 1)
  assert.is(s.lostWorkers, 1)
  assert.equal(s.errors, [{ index: 1, error: 'boom', attempt: 1, retryAt: T0 }])
})

t('final and cancelled states', () => {
  const v = base()
  v.final = { state: 'done', result: 9, by: 'n2', at: T0 }
  assert.equal([jobStatus(v, T0, members).state, jobStatus(v, T0, members).result], ['done', 9])
  const c = base()
  c.cancel = { by: 'n1', at: T0 }
  assert.is(jobStatus(c, T0, members).state, 'cancelled')
  const p = base()
  p.done.set(3, { error: 'poison', by: 'n1', token: 3, attempts: 4 })
  const s = jobStatus(p, T0, members)
  assert.equal([s.state, s.counts.failed, s.errors], ['failed', 1, [{ index: 3, error: 'poison', attempt: 4 }]])
})

t.run()
