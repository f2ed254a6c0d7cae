/**
 * The pure parts of the result stream (decision 0011, docs/protocols/tasks.md "Result stream and checkpoints"):
 * checkpoints fold into a view as done records (by token, so a superseded result never counts, whatever the
 * arrival order), the finisher's fencing of a streamed result, what a successor claims after a finisher died
 * (only what no checkpoint holds), the finisher's Inbox (when a checkpoint is due) and the worker's Outbox (what
 * is sent again, and to whom), and the choice of finisher among alive and suspect members.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Inbox, Outbox, acceptResult, checkpointEntries, checkpointKey, mergeCheckpoint, validateCheckpoint, validateResultsReply, validateResultsRequest } from '../src/tasks/checkpoint.js'
import type { Checkpoint } from '../src/tasks/checkpoint.js'
import { rank } from '../src/tasks/rendezvous.js'
import { allDone, decide, finisherOf } from '../src/tasks/scheduler.js'
import type { DecideContext } from '../src/tasks/scheduler.js'
import { handlerCapability, parseJobKey } from '../src/tasks/types.js'
import type { Done, JobView, Lease, TaskMember } from '../src/tasks/types.js'
import { countedDone, emptyView, mergeDone, mergeLease } from '../src/tasks/view.js'

const JOB = '0123456789abcdef0123456789abcdef'
/** The job was submitted to a node that has since left: finisher and candidates follow the ranking alone (submitter-first is tested apart). */
const SUBMITTER = 'gone'
const T0 = 1_000_000
const L = 10_000
const CAP = handlerCapability('primes')
const m = (id: string): TaskMember => ({ id, capabilities: [CAP] })
const ALL = [m('n1'), m('n2'), m('n3')]
/** n subtasks in chunks of `chunk`. */
const view = (n: number, chunk = 1): JobView => emptyView({
  v: 1, id: JOB, handler: 'primes', inputs: Array.from({ length: n }, (_, i) => i), reduce: null, retries: 3, timeoutMs: 600_000, priority: 0, submittedBy: SUBMITTER, submittedAt: T0, ...(chunk > 1 ? { chunk } : {})
})
const lease = (holder: string, token: number, expiresAt = T0 + L): Lease => ({ holder, token, expiresAt, attempt: 1 })
const one = (by: string, token: number, result: unknown = 7): Done => ({ result, by, token, attempts: 1 })
const many = (by: string, token: number, results: unknown[]): Done => ({ results, by, token, attempts: 1 })
const ckpt = (by: string, entries: Array<[number, Done]>): Checkpoint => ({ by, at: T0, entries: entries.map(([unit, done]) => ({ unit, done })) })
function ctx (self: string, o: Partial<DecideContext> = {}): DecideContext {
  return { self, now: T0, members: ALL, freeSlots: 8, running: new Map(), leaseMs: L, ...o }
}

const t = suite('tasks result stream')

t('checkpoint keys round-trip; a bad writer or seq is not a checkpoint key', () => {
  assert.equal(parseJobKey(checkpointKey(JOB, '12D3KooWAbc', 7)), { jobId: JOB, kind: 'ckpt', by: '12D3KooWAbc', index: 7 })
  for (const bad of [`_shoal/job/${JOB}/ckpt/n1`, `_shoal/job/${JOB}/ckpt/n1/07`, `_shoal/job/${JOB}/ckpt/__proto__/1`, `_shoal/job/${JOB}/ckpt/n1/1/2`]) assert.is(parseJobKey(bad), undefined, bad)
})

t('a checkpoint folds in as done records: its results count, and the job can be reduced from checkpoints alone', () => {
  const v = view(6, 2) // units 0..2
  for (let u = 0; u < 3; u++) mergeLease(v, u, lease(u < 2 ? 'n1' : 'n3', 0))
  assert.equal(mergeCheckpoint(v, ckpt('n2', [[0, many('n1', 0, [0, 1])], [1, many('n1', 0, [4, 9])]])), [0, 1])
  assert.is(allDone(v), false)
  mergeCheckpoint(v, ckpt('n2', [[2, many('n3', 0, [16, 25])]]))
  assert.is(allDone(v), true)
  assert.equal(countedDone(v, 1)?.results, [4, 9])
})

t('a checkpointed result from a superseded lease never counts, in either arrival order; entries past the job are ignored', () => {
  const stale = ckpt('n2', [[0, one('n1', 0, 'stale')], [5, one('n1', 0)]])
  for (const order of ['checkpoint first', 'lease first']) {
    const v = view(1)
    if (order === 'lease first') mergeLease(v, 0, lease('n3', 1))
    assert.equal(mergeCheckpoint(v, stale), order === 'lease first' ? [0] : [0], order)
    if (order === 'checkpoint first') mergeLease(v, 0, lease('n3', 1))
    assert.is(countedDone(v, 0), undefined, order)
    assert.is(v.done.has(5), false, 'unit 5 is not in a 1-subtask job')
    // The newer token's result, streamed or checkpointed later, replaces it and counts.
    mergeCheckpoint(v, ckpt('n3', [[0, one('n3', 1, 'fresh')]]))
    assert.is(countedDone(v, 0)?.result, 'fresh', order)
    mergeCheckpoint(v, stale)
    assert.is(countedDone(v, 0)?.result, 'fresh', `${order}: the stale checkpoint arriving again changes nothing`)
  }
})

t('the finisher takes a streamed result only from its writer, with the unit\'s results, under a token not below the current lease', () => {
  const v = view(4, 2)
  mergeLease(v, 0, lease('n1', 1))
  assert.is(acceptResult(v, 0, many('n1', 1, [0, 1]), 'n1'), 'ok')
  assert.is(acceptResult(v, 0, many('n1', 0, [0, 1]), 'n1'), 'stale', 'a stalled holder\'s result under token 0')
  assert.is(acceptResult(v, 0, many('n1', 2, [0, 1]), 'n1'), 'ok', 'a token above every lease seen: its lease is on its way')
  assert.is(acceptResult(v, 0, many('n1', 1, [0, 1]), 'n3'), 'invalid', 'sent by another member than the result\'s writer')
  // The same token with the lease n1's: n3 may have won a same-token claim race whose lease is still on its way
  // here (the stream is faster than replication); refusing it would leave the chunk to nobody (seen: 10 s stalls).
  assert.is(acceptResult(v, 0, many('n3', 1, [0, 1]), 'n3'), 'ok', 'the same token by another holder is taken...')
  mergeDone(v, 0, many('n3', 1, [0, 1]))
  assert.is(countedDone(v, 0), undefined, '...but counted only if its lease wins')
  mergeLease(v, 0, lease('n3', 1))
  assert.equal(countedDone(v, 0)?.results, [0, 1])
  assert.is(acceptResult(v, 0, many('n1', 1, [0]), 'n1'), 'invalid', 'one result for a chunk of two')
  assert.is(acceptResult(v, 0, one('n1', 1), 'n1'), 'invalid', '`result` in a chunked job')
  assert.is(acceptResult(v, 2, many('n1', 1, [0, 1]), 'n1'), 'invalid', 'no unit 2')
  assert.is(acceptResult(v, 1, { error: 'boom', by: 'n1', token: 0, attempts: 4 }, 'n1'), 'invalid', 'poison is replicated, never streamed')
  const single = view(1)
  assert.is(acceptResult(single, 0, one('n2', 0), 'n2'), 'ok')
  assert.is(acceptResult(single, 0, many('n2', 0, [1]), 'n2'), 'invalid', '`results` in a job of one subtask per unit')
})

t('a node that claimed under the same token as a frozen holder whose lease it never saw counts its own result, not the frozen one\'s', () => {
  // n1 claimed token 0 and froze before its lease record left it; n3 saw no lease, claimed token 0 too, and the
  // KV's last-writer-wins kept n3's. n1 wakes and streams its result to the finisher n3 (seen: the stale answer won).
  for (const order of ['frozen first', 'own first']) {
    const v = view(1)
    mergeLease(v, 0, lease('n3', 0))
    const frozen = one('n1', 0, 'n1')
    const own = one('n3', 0, 'n3')
    for (const d of order === 'frozen first' ? [frozen, own] : [own, frozen]) {
      assert.is(acceptResult(v, 0, d, d.by), 'ok')
      mergeDone(v, 0, d)
      if (d === frozen) assert.ok(countedDone(v, 0)?.result !== 'n1', `${order}: the frozen holder's result does not count`)
    }
    assert.is(countedDone(v, 0)?.result, 'n3', order)
  }
})

t('two results under one token are both kept: the one that counts follows the lease the KV keeps, even when it changes after both arrived', () => {
  // Seen: the finisher kept the result of the holder it knew, then the other's lease won the KV's last-writer-wins,
  // and the job waited 2 s for the winner's worker to send its result again.
  const v = view(1)
  mergeLease(v, 0, lease('n1', 0))
  mergeDone(v, 0, one('n1', 0, 'a'))
  mergeDone(v, 0, one('n2', 0, 'b'))
  assert.is(countedDone(v, 0)?.by, 'n1')
  mergeLease(v, 0, lease('n2', 0)) // the other write wins here
  assert.is(countedDone(v, 0)?.by, 'n2')
  mergeLease(v, 0, lease('n3', 1))
  assert.is(countedDone(v, 0), undefined, 'a newer token supersedes both')
  mergeDone(v, 0, one('n3', 1, 'c'))
  assert.is(countedDone(v, 0)?.by, 'n3')
  assert.is(v.rivals?.has(0), false, 'the older token\'s pair is gone')
})

t('four results under one token (a four-way claim race, seen on 5 daemons): whichever lease the KV keeps, its result counts', () => {
  for (const winner of ['n1', 'n2', 'n3', 'n4']) {
    const v = view(1)
    mergeLease(v, 0, lease('n1', 0))
    for (const by of ['n1', 'n2', 'n3', 'n4']) mergeDone(v, 0, one(by, 0, by))
    mergeLease(v, 0, lease(winner, 0))
    assert.is(countedDone(v, 0)?.result, winner)
  }
})

t('after the finisher dies, its successor claims only the units no checkpoint holds (their holders are gone)', () => {
  // 4 units; the finisher n2 ran units 0 and 1 itself and checkpointed results of 0 (its own) and 2 (n3's); then
  // it died. Unit 3 is still run by n3. Unit 1's result was only in n2's memory.
  const v = view(4)
  mergeLease(v, 0, lease('n2', 0))
  mergeLease(v, 1, lease('n2', 0))
  mergeLease(v, 2, lease('n3', 0))
  mergeLease(v, 3, lease('n3', 0))
  mergeCheckpoint(v, ckpt('n2', [[0, one('n2', 0)], [2, one('n3', 0)]]))
  const alive = [m('n1'), m('n3')]
  const successor = finisherOf(JOB, alive)!
  const claimed = new Set(alive.flatMap(({ id }) => decide(v, ctx(id, { members: alive, running: id === 'n3' ? new Map([[3, 0]]) : new Map() })))
    .flatMap(a => a.type === 'claim' ? [a.index] : []))
  assert.equal([...claimed], [1], 'only unit 1 runs again')
  assert.ok(['n1', 'n3'].includes(successor))
})

t('checkpoint entries: counted results only, in unit order, split by count and size', () => {
  const v = view(5)
  for (let u = 0; u < 5; u++) mergeDone(v, u, one('n1', 0, 'x'.repeat(100)))
  mergeLease(v, 3, lease('n3', 1)) // unit 3's result is superseded
  assert.equal(checkpointEntries(v, [4, 0, 3, 1, 2], 2).map(r => r.map(e => e.unit)), [[0, 1], [2, 4]])
  assert.equal(checkpointEntries(v, [0, 1, 2], 100, 400).map(r => r.map(e => e.unit)), [[0, 1], [2]])
  const record = validateCheckpoint({ by: 'n2', at: T0, entries: checkpointEntries(v, [0])[0] })
  assert.equal(record.entries[0]?.done.result, 'x'.repeat(100))
})

t('wire frames are checked at the door: entries as done records, one ack per entry', () => {
  const req = validateResultsRequest({ v: 1, type: 'results', jobId: JOB, entries: [{ unit: 0, done: one('n1', 0) }] })
  assert.is(req.entries.length, 1)
  assert.throws(() => validateResultsRequest({ v: 1, type: 'results', jobId: JOB, entries: [{ unit: 0, done: { ...one('n1', 0), error: 'x' } }] }), /absent when error is given/)
  assert.throws(() => validateResultsRequest({ v: 2, type: 'results', jobId: JOB, entries: [] }))
  assert.equal(validateResultsReply({ v: 1, type: 'acks', acks: ['ok', 'stale'] }, 2).acks, ['ok', 'stale'])
  assert.throws(() => validateResultsReply({ v: 1, type: 'acks', acks: ['ok'] }, 2), /2 acks/)
  assert.throws(() => validateResultsReply({ v: 1, type: 'acks', acks: ['maybe'] }, 1))
})

t('inbox: a checkpoint is due once the oldest waiting result has waited the interval; covered units drop out; a failed write is due again at once', () => {
  const inbox = new Inbox()
  inbox.add(JOB, 0, T0)
  inbox.add(JOB, 1, T0 + 300)
  assert.equal(inbox.due(T0 + 499, 500), [])
  assert.equal(inbox.due(T0 + 500, 500), [JOB])
  inbox.covered(JOB, [1])
  assert.equal(inbox.take(JOB), [0])
  assert.equal(inbox.due(T0 + 2000, 500), [], 'nothing waits while its checkpoint is in flight')
  inbox.add(JOB, 2, T0 + 600)
  assert.equal(inbox.take(JOB), [], 'one write in flight per job')
  inbox.failed(JOB, [0], T0 + 700, 500)
  assert.equal(inbox.due(T0 + 700, 500), [JOB])
  assert.equal(inbox.take(JOB).sort(), [0, 2])
  inbox.written(JOB)
  assert.is(inbox.pending(JOB), 0)
  inbox.add(JOB, 3, T0 + 800)
  assert.equal(inbox.due(T0 + 1299, 500), [], 'the next interval starts at the first result after the last write')
})

t('outbox: results go again to a new finisher, or to the same one after resendMs without a checkpoint; a checkpoint of the token drops them', () => {
  const out = new Outbox()
  out.sent(JOB, { unit: 0, done: one('n3', 0), to: 'n2', at: T0 })
  out.sent(JOB, { unit: 1, done: one('n3', 1), to: 'n2', at: T0 + 100 })
  assert.equal(out.resend(JOB, 'n2', T0 + 1000, 2000), [])
  assert.equal(out.resend(JOB, 'n1', T0 + 1000, 2000).map(s => s.unit), [0, 1], 'the finisher changed')
  assert.equal(out.resend(JOB, 'n2', T0 + 2000, 2000).map(s => s.unit), [0], 'unit 0 waited 2 s without a checkpoint')
  out.covered(JOB, 1, 0, 'n3')
  assert.is(out.size(JOB), 2, 'a record under an older token does not hold our result')
  out.covered(JOB, 1, 1, 'n1')
  assert.is(out.size(JOB), 2, 'nor one under our token by another member (a same-token race\'s other result; seen: a 10 s stall)')
  out.covered(JOB, 1, 1, 'n3')
  out.covered(JOB, 0, 3, 'n1')
  assert.is(out.size(JOB), 0)
  assert.equal(out.jobIds(), [])
})

t('the finisher is chosen among alive and suspect members: a node waking from a stall that sees the others only as suspect does not make itself finisher', () => {
  const ids = ALL.map(x => x.id)
  const first = rank(JOB, ids)[0]!
  const waking = ids.find(id => id !== first)!
  // The waking node's view: only itself alive, the others suspect; its own run of unit 0 is done in its view.
  const v = view(1)
  mergeLease(v, 0, lease(waking, 0))
  mergeDone(v, 0, one(waking, 0))
  const aliveOnly = ALL.filter(x => x.id === waking)
  assert.equal(decide(v, ctx(waking, { members: aliveOnly })), [{ type: 'reduce' }], 'without finisherMembers it would reduce its own (maybe stale) result')
  assert.equal(decide(v, ctx(waking, { members: aliveOnly, finisherMembers: ALL })), [])
})

t.run()
