/**
 * decide() as transcripts (etcd-io/raft testdata style): a job view and a node's context in, expected actions out.
 * One helper builds views from compact rows; rankings for the fixed job id are pinned in the first test so every
 * transcript can name who is first.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { TASK_PASS_OVER_MS } from '../src/constants.js'
import { rank } from '../src/tasks/rendezvous.js'
import { afterError, backoff, candidatesFor, decide, finisherOf, leaseHoldMs } from '../src/tasks/scheduler.js'
import type { DecideContext, TaskAction } from '../src/tasks/scheduler.js'
import { handlerCapability } from '../src/tasks/types.js'
import type { Cancel, Done, Failure, Final, JobView, Lease, TaskMember } from '../src/tasks/types.js'

const JOB = '0123456789abcdef0123456789abcdef'
/** The job was submitted to a node that has since left: finisher and candidates follow the ranking alone (submitter-first is tested apart). */
const SUBMITTER = 'gone'
const T0 = 1_000_000
const L = 10_000
const CAP = handlerCapability('primes')

interface Rows {
  n?: number
  retries?: number
  timeoutMs?: number
  leases?: Record<number, Lease>
  fails?: Record<number, Failure>
  done?: Record<number, Done>
  cancel?: Cancel
  final?: Final
  submittedBy?: string
}
const entries = <T>(r: Record<number, T> = {}): Map<number, T> => new Map(Object.entries(r).map(([k, v]) => [Number(k), v]))
/** The one view builder: n subtasks submitted at T0 (by SUBMITTER unless `submittedBy` says), plus the given records. */
function view (r: Rows = {}): JobView {
  const v: JobView = {
    job: { v: 1, id: JOB, handler: 'primes', inputs: Array.from({ length: r.n ?? 1 }, (_, i) => i), reduce: null, retries: r.retries ?? 3, timeoutMs: r.timeoutMs ?? 600_000, priority: 0, submittedBy: r.submittedBy ?? SUBMITTER, submittedAt: T0 },
    leases: entries(r.leases), failures: entries(r.fails), done: entries(r.done)
  }
  if (r.cancel !== undefined) v.cancel = r.cancel
  if (r.final !== undefined) v.final = r.final
  return v
}
const lease = (holder: string, token: number, expiresAt: number, attempt = 1): Lease => ({ holder, token, expiresAt, attempt })
const m = (id: string, caps = [CAP]): TaskMember => ({ id, capabilities: caps })
const ALL = [m('n1'), m('n2'), m('n3')]
function ctx (self: string, o: Partial<DecideContext> = {}): DecideContext {
  return { self, now: T0, members: ALL, freeSlots: 4, running: new Map(), leaseMs: L, ...o }
}
const claim = (index: number, holder: string, now: number, token = 0, attempt = 1): TaskAction => ({ type: 'claim', index, lease: lease(holder, token, now + L, attempt) })
const step = (v: JobView, c: DecideContext, want: TaskAction[]): void => assert.equal(decide(v, c), want)

const t = suite('tasks scheduler')

t('pinned rankings the transcripts rely on', () => {
  assert.equal(rank(JOB, ['n1', 'n2', 'n3']), ['n2', 'n1', 'n3']) // finisher n2; without n2: n1
  assert.equal(rank(`${JOB}/0`, ['n1', 'n2', 'n3']), ['n2', 'n3', 'n1'])
  assert.equal(rank(`${JOB}/1`, ['n1', 'n2', 'n3']), ['n2', 'n3', 'n1'])
  assert.equal(rank(`${JOB}/2`, ['n1', 'n2', 'n3']), ['n1', 'n2', 'n3'])
  assert.equal(rank(`${JOB}/3`, ['n3', 'n1', 'n2']), ['n3', 'n1', 'n2'])
})

t('first candidate claims pending subtasks up to its free slots, lowest index first', () => {
  const solo = [m('n1'), m('n2', []), m('n3', [])] // n1 is the only candidate for every subtask
  step(view({ n: 4 }), ctx('n1', { members: solo, freeSlots: 2 }), [claim(0, 'n1', T0), claim(1, 'n1', T0)])
  step(view({ n: 4 }), ctx('n1', { members: solo, freeSlots: 0 }), [])
  step(view({ n: 4, done: { 0: { result: 1, by: 'n1', token: 0, attempts: 1 } } }), ctx('n1', { members: solo, freeSlots: 2 }), [claim(1, 'n1', T0), claim(2, 'n1', T0)])
})

t('only the first candidate claims at first', () => {
  step(view({ n: 4 }), ctx('n2'), [claim(0, 'n2', T0), claim(1, 'n2', T0)]) // first for 0 and 1
  step(view({ n: 4 }), ctx('n1'), [claim(2, 'n1', T0)])
  step(view({ n: 4 }), ctx('n3'), [claim(3, 'n3', T0)])
})

t('the submitter, while a member, is the finisher and every chunk\'s first candidate; others take over when its slots are full', () => {
  // n3 ranks last for chunks 0 and 1 and is not the ranked finisher (n2), but the job was submitted to it.
  const v = view({ n: 4, submittedBy: 'n3' })
  assert.is(finisherOf(JOB, ALL, rank, 'n3'), 'n3')
  assert.is(finisherOf(JOB, ALL, rank, 'gone'), 'n2')
  assert.equal(candidatesFor(v, 0, ALL), ['n3', 'n2', 'n1'])
  step(v, ctx('n3', { freeSlots: 2 }), [claim(0, 'n3', T0), claim(1, 'n3', T0)])
  step(v, ctx('n2'), []) // waits for the submitter
  // n3 holds 2 live leases and advertises 2 slots: full, so the next candidate of chunks 2 and 3 (n1, second after
  // n3 for both) takes them over after TASK_PASS_OVER_MS, from the far end; n2, third, still waits for n1.
  const slots2 = [m('n1'), m('n2'), { id: 'n3', capabilities: [CAP, 'slots:2'] }]
  const held = view({ n: 4, submittedBy: 'n3', leases: { 0: lease('n3', 0, T0 + L), 1: lease('n3', 0, T0 + L) } })
  step(held, ctx('n1', { members: slots2, now: T0 + TASK_PASS_OVER_MS - 1 }), [])
  const later = T0 + TASK_PASS_OVER_MS
  step(held, ctx('n1', { members: slots2, now: later }), [claim(3, 'n1', later), claim(2, 'n1', later)])
  step(held, ctx('n2', { members: slots2, now: later }), [])
  // The submitter reduces once every chunk is done, whoever ran them; the ranked finisher does not.
  const one = (by: string): Done => ({ result: 1, by, token: 0, attempts: 1 })
  const done = view({ n: 2, submittedBy: 'n3', leases: { 0: lease('n3', 0, T0 + L), 1: lease('n2', 0, T0 + L) }, done: { 0: one('n3'), 1: one('n2') } })
  step(done, ctx('n3'), [{ type: 'reduce' }])
  step(done, ctx('n2'), [])
  // Once the submitter is gone from the members, the ranking decides again: n2 finishes.
  step(done, ctx('n2', { members: [m('n1'), m('n2')] }), [{ type: 'reduce' }])
})

t('the submitter holds back its first claims\' leases for min(TASK_PASS_OVER_MS, leaseMs / 3) after submit when it runs the whole job at once and it should end by then; no other member claims meanwhile', () => {
  const v = view({ n: 4, submittedBy: 'n3' })
  const mine = lease('n3', 0, T0 + L)
  // 4 subtasks (chunks of 1) of 10 ms on 4 slots: 10 ms expected, within the window, all claimed at once.
  const cheap = { msPerSubtask: 10, localSlots: 4 }
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0, L, cheap), TASK_PASS_OVER_MS)
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0 + 40, L, cheap), TASK_PASS_OVER_MS - 40)
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0 + TASK_PASS_OVER_MS, L, cheap), 0, 'past the window: written at once')
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0, 150, cheap), 50, 'a short lease: before its first renewal (leaseMs / 3)')
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0, L, { msPerSubtask: 101, localSlots: 4 }), 0, 'expected to outlast the window (101 ms): written at once')
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0, L), 0, 'a handler not measured here: written at once')
  assert.is(leaseHoldMs(v.job, 'n3', mine, T0, L, { msPerSubtask: 1, localSlots: 3 }), 0, 'more chunks (4) than the submitter\'s slots (3): written at once')
  assert.is(leaseHoldMs({ ...v.job, chunk: 2 }, 'n3', mine, T0, L, { msPerSubtask: 1, localSlots: 2 }), TASK_PASS_OVER_MS, 'chunks of 2: 2 chunks on 2 slots')
  assert.is(leaseHoldMs(v.job, 'n3', lease('n3', 1, T0 + L, 2), T0, L, cheap), 0, 'a retry or takeover (token 1): written at once')
  assert.is(leaseHoldMs(v.job, 'n2', lease('n2', 0, T0 + L), T0, L, cheap), 0, 'not the submitter: written at once')
  // What makes holding back safe: while the window lasts, the submitter's held claims are invisible, and no other
  // member claims any of the job's chunks, whatever the lease length and whether the submitter looks full or free.
  for (const leaseMs of [100, 300, 3_000, L]) {
    const window = Math.min(TASK_PASS_OVER_MS, leaseMs / 3)
    const slots1 = [m('n1'), m('n2'), { id: 'n3', capabilities: [CAP, 'slots:1'] }]
    const full = view({ n: 4, submittedBy: 'n3', leases: { 0: lease('n3', 0, T0 + leaseMs) } })
    for (const now of [T0, T0 + window / 2, T0 + window - 1]) {
      for (const [members, seen] of [[ALL, v], [slots1, v], [slots1, full]] as const) {
        for (const self of ['n1', 'n2']) {
          const claims = decide(seen, ctx(self, { members, now, leaseMs })).filter(a => a.type === 'claim')
          assert.equal(claims, [], `leaseMs ${leaseMs}, ${self} at +${now - T0} ms`)
        }
      }
    }
  }
})

t('second candidate claims after leaseMs/2 of nobody claiming, third after leaseMs', () => {
  step(view(), ctx('n3', { now: T0 + L / 2 - 1 }), [])
  step(view(), ctx('n3', { now: T0 + L / 2 }), [claim(0, 'n3', T0 + L / 2)])
  step(view(), ctx('n1', { now: T0 + L / 2 }), [])
  step(view(), ctx('n1', { now: T0 + L }), [claim(0, 'n1', T0 + L)])
})

t('a first candidate whose live leases fill its slots is passed over after TASK_PASS_OVER_MS, not after leaseMs/2', () => {
  // Subtasks 0 and 1 both rank n2, n3, n1. n2 advertises one slot and holds subtask 0.
  const members = [m('n1'), m('n2', [CAP, 'slots:1']), m('n3')]
  const v = view({ n: 2, leases: { 0: lease('n2', 0, T0 + L) } })
  step(v, ctx('n3', { members, now: T0 + TASK_PASS_OVER_MS - 1 }), []) // n2 may be free already: a moment to claim
  step(v, ctx('n3', { members, now: T0 + TASK_PASS_OVER_MS }), [claim(1, 'n3', T0 + TASK_PASS_OVER_MS)])
  step(v, ctx('n1', { members, now: T0 + TASK_PASS_OVER_MS }), []) // n3 is free and before it
  // With two slots n2 could still start subtask 1: n3 waits as before.
  step(v, ctx('n3', { members: [m('n1'), m('n2', [CAP, 'slots:2']), m('n3')], now: T0 + TASK_PASS_OVER_MS }), [])
})

t('free nodes that pass over full-looking candidates take different chunks: each the one where it ranks best', () => {
  // Seen on 5 daemons: every member looked full (finished chunks keep live leases until a checkpoint), so every
  // free member claimed the lowest unclaimed chunk at once, and four ran it. Subtasks 0..3 rank n2 first, n1
  // first for 2, n3 first for 3 (pinned above); n2 looks full (one slot, one live lease on a fifth subtask).
  const members = [m('n1', [CAP, 'slots:1']), m('n2', [CAP, 'slots:1']), m('n3', [CAP, 'slots:1'])]
  const v = view({ n: 5, leases: { 4: lease('n2', 0, T0 + 3 * L) } })
  const now = T0 + 2 * L // every wait has passed
  const one = (self: string): number[] => decide(v, ctx(self, { members, now, freeSlots: 1 })).flatMap(a => a.type === 'claim' ? [a.index] : [])
  assert.equal(one('n1'), [2])
  assert.equal(one('n3'), [3])
})

t('a node that passes over a full-looking owner takes the owner\'s highest chunk; the owner works up from its lowest', () => {
  // Subtasks 0 and 1 rank n2 first and n3 second; n3 is first for 3 (pinned above). n2 looks full (one slot, a live
  // lease on subtask 4), which is often stale: n2 may have finished 4 and be about to claim 0. n3 takes 1, not 0,
  // so the two do not both run 0 (seen: 1 chunk in 4 leased twice on 5 daemons when thieves took the lowest).
  const members = [m('n1', [CAP, 'slots:1']), m('n2', [CAP, 'slots:1']), m('n3', [CAP, 'slots:2'])]
  const v = view({ n: 5, leases: { 4: lease('n2', 0, T0 + 3 * L) } })
  const now = T0 + 2 * L // every wait has passed
  const claims = (self: string, freeSlots: number): number[] => decide(v, ctx(self, { members, now, freeSlots })).flatMap(a => a.type === 'claim' ? [a.index] : [])
  assert.equal(claims('n3', 2), [3, 1])
  assert.equal(claims('n2', 1), [0])
})

t('live lease: nobody claims', () => {
  const v = view({ leases: { 0: lease('n3', 0, T0 + L) } })
  for (const self of ['n1', 'n2', 'n3']) step(v, ctx(self, { now: T0 + L - 1 }), [])
})

t('lease of a dead holder: the next candidate claims at once with token + 1 (lost worker)', () => {
  const v = view({ leases: { 0: lease('n2', 4, T0 + L) } })
  step(v, ctx('n3', { now: T0 + 1, members: [m('n1'), m('n3')] }), [claim(0, 'n3', T0 + 1, 5)])
  step(v, ctx('n1', { now: T0 + 1, members: [m('n1'), m('n3')] }), [])
})

t('expired lease: the first candidate reclaims; others wait leaseMs/2 past expiry', () => {
  const v = view({ leases: { 0: lease('n2', 0, T0 + L) } })
  step(v, ctx('n2', { now: T0 + L }), [claim(0, 'n2', T0 + L, 1)])
  step(v, ctx('n3', { now: T0 + L }), [])
  step(v, ctx('n3', { now: T0 + L + L / 2 }), [claim(0, 'n3', T0 + L + L / 2, 1)])
})

t('renew a running subtask once a third of its lease has passed', () => {
  const v = view({ leases: { 0: lease('n2', 2, T0 + L, 3) } })
  step(v, ctx('n2', { running: new Map([[0, 2]]), now: T0 + L / 3 - 1 }), [])
  const now = T0 + Math.ceil(L / 3)
  step(v, ctx('n2', { running: new Map([[0, 2]]), now }), [{ type: 'renew', index: 0, lease: lease('n2', 2, now + L, 3) }])
})

t('abort: the lease names someone else (lost-lease)', () => {
  const v = view({ n: 2, leases: { 0: lease('n3', 1, T0 + L), 1: lease('n2', 0, T0 + L) } })
  step(v, ctx('n2', { running: new Map([[0, 0], [1, 0]]), now: T0 + 1 }), [{ type: 'abort', index: 0, reason: 'lost-lease' }])
})

t('abort: the job was cancelled or is final (job-ended); nothing else but the finisher\'s finish', () => {
  const leases = { 0: lease('n3', 0, T0 + L) }
  step(view({ leases, cancel: { by: 'n1', at: T0 } }), ctx('n3', { running: new Map([[0, 0]]), now: T0 + 1 }), [{ type: 'abort', index: 0, reason: 'job-ended' }])
  const final: Final = { state: 'failed', error: 'x', by: 'n2', at: T0 }
  step(view({ leases, final }), ctx('n3', { running: new Map([[0, 0]]), now: T0 + 1 }), [{ type: 'abort', index: 0, reason: 'job-ended' }])
  step(view({ n: 2, final }), ctx('n2', { now: T0 + 1 }), []) // final: no claims, no finish
})

t('failure not yet due: no claim; due: claim with attempt + 1 and token + 1', () => {
  const v = view({ leases: { 0: lease('n2', 1, T0 + 100) }, fails: { 0: { attempts: 2, error: 'boom', retryAt: T0 + 400, by: 'n2' } } })
  step(v, ctx('n2', { now: T0 + 399 }), [])
  step(v, ctx('n2', { now: T0 + 400 }), [claim(0, 'n2', T0 + 400, 2, 3)])
  step(v, ctx('n3', { now: T0 + 400 }), []) // its turn comes at retryAt + leaseMs/2
})

t('afterError below the retry limit writes fail with backoff; above it writes done with the error (poison)', () => {
  const v = view({ retries: 2, leases: { 0: lease('n2', 1, T0 + L, 2) }, fails: { 0: { attempts: 1, error: 'e1', retryAt: T0, by: 'n2' } } })
  assert.equal(afterError(v, 0, 'e2', 'n2', T0 + 5), { write: 'fail', failure: { token: 1, attempts: 2, error: 'e2', retryAt: T0 + 5 + 400, by: 'n2' } })
  const v2 = view({ retries: 2, leases: { 0: lease('n2', 2, T0 + L, 3) }, fails: { 0: { attempts: 2, error: 'e2', retryAt: T0, by: 'n2' } } })
  assert.equal(afterError(v2, 0, 'e3', 'n2', T0 + 5), { write: 'done', done: { error: 'e3', by: 'n2', token: 2, attempts: 3 } })
  assert.equal(afterError(view({ retries: 0 }), 0, 'e', 'n1', T0), { write: 'done', done: { error: 'e', by: 'n1', token: 0, attempts: 1 } })
  assert.equal([1, 2, 3, 8, 9, 100].map(backoff), [200, 400, 800, 25_600, 30_000, 30_000])
})

t('two runs of one lease that both fail are one attempt: a same-token duplicate does not spend the retry budget twice', () => {
  // n2 holds attempt 2 under token 1; a duplicate run of the same lease (n3 won a same-token race, say) already
  // wrote its failure of attempt 2. n2's failure of that same attempt is still attempt 2, not 3 (which would be poison).
  const v = view({ retries: 2, leases: { 0: lease('n2', 1, T0 + L, 2) }, fails: { 0: { token: 1, attempts: 2, error: 'e2', retryAt: T0 + 400, by: 'n3' } } })
  assert.equal(afterError(v, 0, 'e2', 'n2', T0 + 5, 1), { write: 'fail', failure: { token: 1, attempts: 2, error: 'e2', retryAt: T0 + 5 + 400, by: 'n2' } })
})

t('finisher reduces when every subtask has a result; others do nothing', () => {
  const done = { 0: { result: 2, by: 'n2', token: 0, attempts: 1 }, 1: { result: 3, by: 'n3', token: 0, attempts: 1 } }
  step(view({ n: 2, done }), ctx('n2', { now: T0 + 1 }), [{ type: 'reduce' }])
  step(view({ n: 2, done }), ctx('n1', { now: T0 + 1 }), [])
})

t('finisher fails the job with the poison error and its index; no new claims', () => {
  const v = view({ n: 3, done: { 1: { error: 'bad input', by: 'n3', token: 3, attempts: 4 } } })
  step(v, ctx('n2', { now: T0 + 1 }), [{ type: 'finish', final: { state: 'failed', error: 'subtask 1 failed: bad input', by: 'n2', at: T0 + 1 } }])
  step(v, ctx('n1', { now: T0 + 1 }), [])
})

t('finisher cancels', () => {
  step(view({ cancel: { by: 'n3', at: T0 } }), ctx('n2', { now: T0 + 1 }), [{ type: 'finish', final: { state: 'cancelled', by: 'n2', at: T0 + 1 } }])
})

t('finisher times the job out; nobody claims past the deadline', () => {
  const v = view({ timeoutMs: 1000 })
  step(v, ctx('n2', { now: T0 + 1000 }), [claim(0, 'n2', T0 + 1000)])
  step(v, ctx('n2', { now: T0 + 1001 }), [{ type: 'finish', final: { state: 'failed', error: 'timed out after 1000 ms', by: 'n2', at: T0 + 1001 } }])
  step(v, ctx('n3', { now: T0 + 1001 + L }), [])
})

t('a non-finisher never finishes', () => {
  const cases: Rows[] = [{ cancel: { by: 'n1', at: T0 } }, { timeoutMs: 100 }, { done: { 0: { error: 'e', by: 'n1', token: 0, attempts: 4 } } }]
  for (const r of cases) for (const self of ['n1', 'n3']) step(view(r), ctx(self, { now: T0 + L * 100 }), [])
})

t('finisher takeover: with the first-ranked member gone, the next one finishes', () => {
  step(view({ cancel: { by: 'n3', at: T0 } }), ctx('n1', { now: T0 + 1, members: [m('n1'), m('n3')] }), [{ type: 'finish', final: { state: 'cancelled', by: 'n1', at: T0 + 1 } }])
  // the finisher is ranked among all alive members, handler or not
  step(view({ cancel: { by: 'n3', at: T0 } }), ctx('n2', { now: T0 + 1, members: [m('n1'), m('n2', []), m('n3')] }), [{ type: 'finish', final: { state: 'cancelled', by: 'n2', at: T0 + 1 } }])
})

t('a node without the handler capability never claims', () => {
  const members = [m('n1', []), m('n2', ['handler:other']), m('n3', [])]
  for (const self of ['n1', 'n2', 'n3']) step(view({ n: 4 }), ctx(self, { members, now: T0 + L * 10 }), [])
})

t.run()
