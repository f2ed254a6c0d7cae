/**
 * Fencing tokens bind (issue 9, kind 8) and a failure releases its own lease (issue 12), as transcripts: records
 * folded into a view in a given order, then decide()/allDone()/jobStatus() on it. Every case here passed on the
 * code before tokens were checked only by luck of arrival order, or not at all (noted per test).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RankMemo } from '../src/tasks/rank-memo.js'
import { allDone, decide } from '../src/tasks/scheduler.js'
import type { DecideContext, TaskAction } from '../src/tasks/scheduler.js'
import { jobStatus } from '../src/tasks/status.js'
import { doneKey, handlerCapability, leaseKey } from '../src/tasks/types.js'
import type { Done, JobView, Lease, TaskMember } from '../src/tasks/types.js'
import { collectable, countedDone, emptyView, mergeDone, mergeLease } from '../src/tasks/view.js'

const JOB = '0123456789abcdef0123456789abcdef'
/** The job was submitted to a node that has since left: finisher and candidates follow the ranking alone (submitter-first is tested apart). */
const SUBMITTER = 'gone'
const T0 = 1_000_000
const L = 10_000
const CAP = handlerCapability('primes')
const m = (id: string): TaskMember => ({ id, capabilities: [CAP] })
const ALL = [m('n1'), m('n2'), m('n3')] // finisher n2; subtask 0 ranks n2, n3, n1 (tasks-scheduler.test.ts)
const view = (n = 1): JobView => emptyView({ v: 1, id: JOB, handler: 'primes', inputs: Array.from({ length: n }, (_, i) => i), reduce: null, retries: 3, timeoutMs: 600_000, priority: 0, submittedBy: SUBMITTER, submittedAt: T0 })
const lease = (holder: string, token: number, expiresAt: number, attempt = 1): Lease => ({ holder, token, expiresAt, attempt })
const done = (by: string, token: number, result: unknown = 7): Done => ({ result, by, token, attempts: 1 })
function ctx (self: string, o: Partial<DecideContext> = {}): DecideContext {
  return { self, now: T0, members: ALL, freeSlots: 4, running: new Map(), leaseMs: L, ...o }
}

const t = suite('tasks fencing')

t('keys carry the token: a renewal of token 0 and a claim of token 1 are different records', () => {
  assert.is.not(leaseKey(JOB, 0, 0), leaseKey(JOB, 0, 1))
  assert.is.not(doneKey(JOB, 0, 0), doneKey(JOB, 0, 1))
})

t('a stalled holder\'s late renewal never replaces a newer claim, whatever the arrival order', () => {
  // n2 held token 0, stalled past expiry; n3 claimed token 1; n2 woke and renewed token 0 (later expiry).
  const newer = lease('n3', 1, T0 + L + L)
  const stale = lease('n2', 0, T0 + 3 * L)
  for (const order of [[newer, stale], [stale, newer]]) {
    const v = view()
    for (const l of order) mergeLease(v, 0, l)
    assert.equal(v.leases.get(0), newer)
    const now = T0 + L + 1
    // The current holder keeps running; the stale one is told it lost (before: the renewal won by LWW, and n3 aborted).
    assert.equal(decide(v, ctx('n3', { now, running: new Map([[0, 1]]) })), [])
    assert.equal(decide(v, ctx('n2', { now, running: new Map([[0, 0]]) })), [{ type: 'abort', index: 0, reason: 'lost-lease' }] as TaskAction[])
  }
})

t('a node whose view names it holder under another token aborts rather than renews', () => {
  const v = view()
  mergeLease(v, 0, lease('n2', 2, T0 + 1)) // n2 claimed again (token 2) while an old run (token 1) still runs
  assert.equal(decide(v, ctx('n2', { now: T0, running: new Map([[0, 1]]) })), [{ type: 'abort', index: 0, reason: 'lost-lease' }] as TaskAction[])
})

t('a result from a superseded lease does not count; the current token\'s does', () => {
  const v = view()
  mergeLease(v, 0, lease('n3', 1, T0 + L))
  mergeDone(v, 0, done('n2', 0, 'stale'))
  assert.is(countedDone(v, 0), undefined)
  assert.is(allDone(v), false)
  assert.equal(decide(v, ctx('n2', { now: T0 + 1 })), []) // the finisher does not reduce
  assert.is(jobStatus(v, T0 + 1, ALL).counts.done, 0)
  // n3's lease expires with no result: the subtask is claimable again (token 2), the stale result notwithstanding.
  assert.equal(decide(v, ctx('n2', { now: T0 + L })), [{ type: 'claim', index: 0, lease: lease('n2', 2, T0 + L + L) }] as TaskAction[])
  mergeDone(v, 0, done('n3', 1, 'current'))
  assert.equal(countedDone(v, 0)?.result, 'current')
  assert.equal(decide(v, ctx('n2', { now: T0 + 1 })), [{ type: 'reduce' }] as TaskAction[])
  // A late stale result arriving after the current one changes nothing.
  mergeDone(v, 0, done('n2', 0, 'stale'))
  assert.equal(countedDone(v, 0)?.result, 'current')
})

t('a stale holder\'s poison does not fail the job', () => {
  const v = view()
  mergeLease(v, 0, lease('n3', 1, T0 + L))
  mergeDone(v, 0, { error: 'boom', by: 'n2', token: 0, attempts: 4 })
  assert.equal(decide(v, ctx('n2', { now: T0 + 1 })), [])
  assert.is(jobStatus(v, T0 + 1, ALL).state, 'running')
})

t('a result whose lease has not arrived yet counts (its writer wrote the lease first)', () => {
  const v = view()
  mergeDone(v, 0, done('n3', 4))
  assert.is(allDone(v), true)
})

t('a failure under the current token releases the lease: the retry waits for the backoff only (200 ms, not leaseMs)', () => {
  const v = view()
  mergeLease(v, 0, lease('n2', 1, T0 + L))
  v.failures.set(0, { token: 1, attempts: 1, error: 'boom', retryAt: T0 + 200, by: 'n2' })
  assert.equal(decide(v, ctx('n2', { now: T0 + 199 })), [])
  assert.equal(decide(v, ctx('n2', { now: T0 + 200 })), [{ type: 'claim', index: 0, lease: lease('n2', 2, T0 + 200 + L, 2) }] as TaskAction[])
  assert.is(jobStatus(v, T0 + 100, ALL).counts.running, 0, 'a released lease is not running')
  // A failure without a token (older records) or by someone else does not release it.
  const old = view()
  mergeLease(old, 0, lease('n2', 1, T0 + L))
  old.failures.set(0, { attempts: 1, error: 'boom', retryAt: T0 + 200, by: 'n2' })
  assert.equal(decide(old, ctx('n2', { now: T0 + 200 })), [])
})

t('a finished job is collectable once its final state is retentionMs old', () => {
  const v = view()
  assert.is(collectable(v, T0 * 10, 1000), false)
  v.final = { state: 'done', result: 1, by: 'n2', at: T0 }
  assert.is(collectable(v, T0 + 999, 1000), false)
  assert.is(collectable(v, T0 + 1000, 1000), true)
})

t('ranks are computed once per subtask and membership, not on every round', () => {
  const memo = new RankMemo()
  const v = view(1000)
  for (let round = 0; round < 20; round++) decide(v, ctx('n1', { now: T0 + round, ranker: memo.rank, freeSlots: 1000 }))
  assert.ok(memo.computed <= 1001, `${memo.computed} rankings for 1000 subtasks over 20 rounds`)
  const before = memo.computed
  decide(v, ctx('n1', { now: T0, members: [m('n1'), m('n3')], ranker: memo.rank, freeSlots: 1000 }))
  assert.ok(memo.computed > before, 'a new membership ranks anew')
  // The memo answers exactly what rank() would.
  const fresh = decide(v, ctx('n1', { now: T0 + 5, freeSlots: 1000 }))
  assert.equal(decide(v, ctx('n1', { now: T0 + 5, ranker: memo.rank, freeSlots: 1000 })), fresh)
})

t.run()
