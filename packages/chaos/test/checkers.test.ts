/**
 * The checkers themselves, proven on small hand-written histories: for each invariant one history that
 * breaks it (the checker must report it) and one close to it that keeps it (the checker must stay quiet).
 * Times are harness milliseconds; versions are written out as the daemon reports them.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  checkCausal, checkBoundedSkew, checkDurability, checkResurrection, checkConvergence, checkEvents, checkQuorum,
  checkJobs, checkFailedNoEffect, checkClosedTopics, checkNoInternalError, checkAll, classify, latestReplicatedWriters, countPrimesBelow
} from '../src/index.js'
import type { CheckInput, NodeState, Op, Version } from '../src/index.js'
import { RpcError, RpcErrorCode } from '@shoal/rpc'

const A = 'peerA'; const B = 'peerB'; const C = 'peerC'
const v = (wall: number, logical = 0, node = A): Version => ({ wall, logical, node })
let nextId = 1
function op (p: Partial<Op> & Pick<Op, 'kind' | 'node'>): Op {
  return { id: nextId++, client: p.node, args: {}, invokeAt: 0, completeAt: 0, outcome: 'ok', ...p }
}
const put = (node: number, key: string, value: string, at: [number, number], version?: Version, extra: Partial<Op> = {}): Op =>
  op({ kind: 'kv.put', node, args: { key, value, acks: 2 }, invokeAt: at[0], completeAt: at[1], ...(version !== undefined ? { result: { key, version, acked: 2, required: 2 } } : {}), ...extra })
const del = (node: number, key: string, at: [number, number], version: Version, extra: Partial<Op> = {}): Op =>
  op({ kind: 'kv.delete', node, args: { key, acks: 2 }, invokeAt: at[0], completeAt: at[1], result: { key, version, acked: 2, required: 2 }, ...extra })
const get = (node: number, key: string, at: [number, number], value: string, version: Version): Op =>
  op({ kind: 'kv.get', node, args: { key }, invokeAt: at[0], completeAt: at[1], result: { key, value, version } })
const state = (index: number, kv: NodeState['kv'] = {}, events: NodeState['events'] = {}): NodeState => ({ index, peerId: `peer${index}`, kv, events })
const input = (ops: Op[], final: NodeState[] = [state(1), state(2), state(3)], more: Partial<CheckInput> = {}): CheckInput =>
  ({ ops, members: 3, peerIds: { 1: A, 2: B, 3: C }, maxClockDriftMs: 1000, final, ...more })

const causal = suite('inv1 causal')
causal('a write after a read of a fast-clock version must get a higher version (fault kind 1)', () => {
  // Node 3 runs 20 s ahead and writes k; node 1 reads it, then writes k: its put returns an older version.
  const ops = [put(3, 'k', 'w1', [0, 10], v(20_000, 0, C)), get(1, 'k', [20, 30], 'w1', v(20_000, 0, C)), put(1, 'k', 'w2', [40, 50], v(41, 0, A))]
  const found = checkCausal(input(ops))
  assert.is(found.length, 1)
  assert.is(found[0]!.invariant, 'inv1-causal')
  assert.equal(found[0]!.ops.map(o => o.id), [ops[1]!.id, ops[2]!.id])
})
causal('a write above what the node applied is fine; a read on another node proves nothing', () => {
  assert.is(checkCausal(input([get(1, 'k', [20, 30], 'w1', v(20_000, 0, C)), put(1, 'k', 'w2', [40, 50], v(20_000, 1, A))])).length, 0)
  assert.is(checkCausal(input([get(2, 'k', [20, 30], 'w1', v(20_000, 0, C)), put(1, 'k', 'w2', [40, 50], v(41, 0, A))])).length, 0)
  // The read completed after the write was invoked: concurrent, not causal.
  assert.is(checkCausal(input([get(1, 'k', [20, 45], 'w1', v(20_000, 0, C)), put(1, 'k', 'w2', [40, 50], v(41, 0, A))])).length, 0)
})

causal('what a node knew before its db/ was moved aside is not evidence', () => {
  const ops = [get(1, 'k', [20, 30], 'w1', v(20_000, 0, C)), put(1, 'k', 'w2', [40, 50], v(41, 0, A))]
  assert.is(checkCausal(input(ops, undefined, { wipes: [{ node: 1, at: 35 }] })).length, 0)
  assert.is(checkCausal(input(ops, undefined, { wipes: [{ node: 2, at: 35 }] })).length, 1)
})

const skew = suite('inv2 bounded skew')
skew('a write acknowledged more than the drift bound before another must not win over it (fault kind 2)', () => {
  const ops = [put(3, 'k', 'w1', [0, 10], v(30_000, 0, C)), put(1, 'k', 'w2', [2000, 2010], v(2000, 0, A))]
  const found = checkBoundedSkew(input(ops))
  assert.is(found.length, 1)
  assert.is(found[0]!.invariant, 'inv2-bounded-skew')
})
skew('within the drift bound either may win', () => {
  assert.is(checkBoundedSkew(input([put(3, 'k', 'w1', [0, 10], v(30_000, 0, C)), put(1, 'k', 'w2', [500, 510], v(500, 0, A))])).length, 0)
  assert.is(checkBoundedSkew(input([put(3, 'k', 'w1', [0, 10], v(10, 0, C)), put(1, 'k', 'w2', [2000, 2010], v(2000, 0, A))])).length, 0)
})

const durable = suite('inv3 durability')
durable('an acks>=2 write missing on a survivor is lost', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const survivors = [state(2, {}), state(3, {})]
  const r = { k: { value: 'w1', version: v(5) } }
  const found = checkDurability(input([w], [state(1, r), state(2, r), state(3, r)], { survivors, killed: [1] }))
  assert.is(found.length, 1)
  assert.match(found[0]!.message, /survivors/)
})
durable('survivors still catching up: lost only if no survivor holds it', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const r = { k: { value: 'w1', version: v(5) } }
  const survivors = [state(2, r), state(3, {})]
  assert.is(checkDurability(input([w], [state(1, r), state(2, r), state(3, r)], { survivors, killed: [1] })).length, 0)
})
durable('final dumps that never converged: one holder is enough (the disagreement is invariant 5)', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const r = { k: { value: 'w1', version: v(5) } }
  const notConverged = { convergence: { converged: false, deadlineMs: 30_000, budgetMs: 5000 } }
  assert.is(checkDurability(input([w], [state(1, r), state(2, {})], notConverged)).length, 0)
  assert.is(checkDurability(input([w], [state(1, {}), state(2, {})], notConverged)).length, 1)
  assert.is(checkDurability(input([w], [state(1, r), state(2, {})])).length, 1)
})
durable('a wipe after the ack counts as a lost copy', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const r = { k: { value: 'w1', version: v(5) } }
  const survivors = [state(2), state(3)]
  assert.is(checkDurability(input([w], [state(1, r), state(2, r), state(3, r)], { survivors, killed: [1] })).length, 1)
  assert.is(checkDurability(input([w], [state(1, r), state(2, r), state(3, r)], { survivors, killed: [1], wipes: [{ node: 2, at: 20 }] })).length, 0)
})
durable('an older value in its place is a loss too; a newer one or a possible delete is not', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  assert.is(checkDurability(input([w], [state(1, { k: { value: 'w0', version: v(4) } })])).length, 1)
  assert.is(checkDurability(input([w], [state(1, { k: { value: 'w2', version: v(6, 0, B) } })])).length, 0)
  const maybeDeleted = { ...del(2, 'k', [20, 30], v(7)), outcome: 'unknown' as const, result: undefined }
  assert.is(checkDurability(input([w, maybeDeleted], [state(1)])).length, 0)
  const olderDelete = del(2, 'k', [20, 30], v(3))
  assert.is(checkDurability(input([w, olderDelete], [state(1)])).length, 1)
})
durable('a write acked by no more nodes than were killed is not expected on the survivors; acks 1 is out of scope', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  w.result.acked = 2
  const survivors = [state(3)]
  assert.is(checkDurability(input([w], [state(1, { k: { value: 'w1', version: v(5) } })], { survivors, killed: [1, 2] })).length, 0)
  const one = put(1, 'k', 'w1', [0, 10], v(5), { args: { key: 'k', value: 'w1', acks: 1 } })
  assert.is(checkDurability(input([one], [state(1)])).length, 0)
})

const resurrect = suite('inv4 no resurrection')
resurrect('a deleted key live again with an older version is a resurrection (fault kind 4)', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const d = del(2, 'k', [20, 30], v(25, 0, B))
  const found = checkResurrection(input([w, d], [state(1, { k: { value: 'w1', version: v(5) } })]))
  assert.is(found.length, 1)
  assert.equal(found[0]!.ops.map(o => o.id), [w.id, d.id])
})
resurrect('a read on the deleting node after the delete must not see the old record', () => {
  const d = del(2, 'k', [20, 30], v(25, 0, B))
  assert.is(checkResurrection(input([d, get(2, 'k', [40, 50], 'w1', v(5))])).length, 1)
  assert.is(checkResurrection(input([d, get(1, 'k', [40, 50], 'w1', v(5))])).length, 0)
})
resurrect('written again after the delete is not a resurrection', () => {
  const d = del(2, 'k', [20, 30], v(25, 0, B))
  assert.is(checkResurrection(input([d, put(1, 'k', 'w2', [40, 50], v(45))], [state(1, { k: { value: 'w2', version: v(45) } })])).length, 0)
})

const converge = suite('inv5 convergence')
converge('different final dumps, or no agreement before the deadline, or over budget, are violations', () => {
  const r = { value: 'w1', version: v(5) }
  assert.is(checkConvergence(input([], [state(1, { k: r }), state(2, {})])).length, 1)
  assert.is(checkConvergence(input([], [state(1, { k: r }), state(2, { k: { value: 'w1', version: v(6) } })])).length, 1)
  assert.is(checkConvergence(input([], [state(1)], { convergence: { converged: false, deadlineMs: 60_000, budgetMs: 5000 } })).length, 1)
  assert.is(checkConvergence(input([], [state(1)], { convergence: { converged: true, afterMs: 7000, deadlineMs: 60_000, budgetMs: 5000 } })).length, 1)
})
converge('equal dumps within budget are fine', () => {
  const r = { value: 'w1', version: v(5) }
  assert.is(checkConvergence(input([], [state(1, { k: r }), state(2, { k: r })], { convergence: { converged: true, afterMs: 900, deadlineMs: 60_000, budgetMs: 5000 } })).length, 0)
})

const events = suite('inv6 events')
const ev = (seq: number, data: unknown) => ({ seq, topic: 't', type: 'user', hlc: { wall: seq, logical: 0 }, data })
events('a reused (origin, seq), a gap, different heads and a lost acknowledged publish are each reported (fault kind 3)', () => {
  const pub = op({ kind: 'events.publish', node: 1, args: { topic: 't', data: { p: 1 } }, result: { origin: A, seq: 2 } })
  const final = [state(1, {}, { [A]: [ev(1, { p: 0 }), ev(2, { p: 9 })] }), state(2, {}, { [A]: [ev(1, { p: 0 }), ev(3, { p: 3 })] })]
  const found = checkEvents(input([pub], final))
  const text = found.map(f => f.message).join('\n')
  assert.match(text, /2 different events with \(origin peerA, seq 2\)/)
  assert.match(text, /gap: seq 2 missing/)
  assert.match(text, /missing on node\(s\) 2/)
})
events('identical gap-free logs holding every acknowledged publish are fine', () => {
  const pub = op({ kind: 'events.publish', node: 1, args: { topic: 't', data: { p: 1 } }, result: { origin: A, seq: 2 } })
  const log = [ev(1, { p: 0 }), ev(2, { p: 1 })]
  assert.is(checkEvents(input([pub], [state(1, {}, { [A]: log }), state(2, {}, { [A]: log })])).length, 0)
})

events('a lost disk: the publisher itself may lack its own earlier events; others may not, unless the loss came within 15 s', () => {
  const pub = op({ kind: 'events.publish', node: 1, args: { topic: 't', data: { p: 1 } }, result: { origin: A, seq: 2 }, completeAt: 1000 })
  const full = [ev(1, { p: 0 }), ev(2, { p: 1 })]
  const wipedLater = { wipes: [{ node: 1, at: 60_000 }] }
  const publisher = { ...state(1), peerId: A }
  // Node 1 (the publisher, wiped a minute later) lacks its own events: the documented limit.
  assert.is(checkEvents(input([pub], [publisher, state(2, {}, { [A]: full })], wipedLater)).length, 0)
  // Node 2 lacks it too: it had a minute to take it, so it is lost.
  assert.match(checkEvents(input([pub], [publisher, state(2, {}, { [A]: [ev(1, { p: 0 })] })], wipedLater)).map(f => f.message).join('\n'), /missing on node\(s\) 2/)
  // A wipe 2 s after the ack may have taken it before any peer had it.
  assert.is(checkEvents(input([pub], [publisher, state(2, {}, { [A]: [ev(1, { p: 0 })] })], { wipes: [{ node: 1, at: 3000 }] })).length, 0)
})

const quorum = suite('inv7 quorum')
quorum('a quorum write acknowledged by fewer than a majority of all members is a violation', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5), { args: { key: 'k', value: 'w1', acks: 'quorum' } })
  w.result.required = 1; w.result.acked = 1
  assert.is(checkQuorum(input([w])).length, 1)
  w.result.required = 2; w.result.acked = 2
  assert.is(checkQuorum(input([w])).length, 0)
  assert.is(checkQuorum(input([w], undefined, { members: 5 })).length, 1)
})

const jobs = suite('inv8 jobs')
jobs('a finished job must equal the local answer, and read the same everywhere', () => {
  const submit = op({ kind: 'task.submit', node: 1, args: { handler: 'primes', input: { from: 0, to: 100 }, split: 3 }, result: { jobId: 'j1' } })
  const right = op({ kind: 'task.result', node: 1, args: { jobId: 'j1' }, result: { state: 'done', result: 25, finishedBy: A } })
  const wrong = op({ kind: 'task.result', node: 2, args: { jobId: 'j1' }, result: { state: 'done', result: 24, finishedBy: A } })
  assert.is(checkJobs(input([submit, right])).length, 0)
  const found = checkJobs(input([submit, right, wrong]))
  assert.is(found.length, 2) // wrong answer, and two different answers
  const sum = op({ kind: 'task.submit', node: 1, args: { handler: 'chaos-sum', inputs: [[1, 2], [3]] }, result: { jobId: 'j2' } })
  assert.is(checkJobs(input([sum, op({ kind: 'task.result', node: 1, args: { jobId: 'j2' }, result: { state: 'done', result: [3, 3], finishedBy: B } })])).length, 0)
  assert.is(checkJobs(input([sum, op({ kind: 'task.result', node: 1, args: { jobId: 'j2' }, result: { state: 'done', result: [3, 3], finishedBy: 'stranger' } })])).length, 1)
})
jobs('the local prime count is right', () => {
  assert.is(countPrimesBelow(0, 100), 25)
  assert.is(countPrimesBelow(50, 100), 10)
})

const failed = suite('inv9 failed writes have no effect')
failed('a failed put whose value is later read or stored is reported (fault kind 9)', () => {
  const w = { ...put(1, 'k', 'w1', [0, 10]), outcome: 'fail' as const, error: { code: -32003, message: 'disk full' } }
  assert.is(checkFailedNoEffect(input([w], [state(1, { k: { value: 'w1', version: v(5) } })])).length, 1)
  assert.is(checkFailedNoEffect(input([w, get(2, 'k', [20, 30], 'w1', v(5))])).length, 1)
  assert.is(checkFailedNoEffect(input([w])).length, 0)
  // unknown may have taken effect: not a violation
  assert.is(checkFailedNoEffect(input([{ ...w, outcome: 'unknown' }], [state(1, { k: { value: 'w1', version: v(5) } })])).length, 0)
})

const closed = suite('inv10 closed topics')
closed('a forged kv.put through events.publish must be refused and never take effect (fault kind 6)', () => {
  const forge = (outcome: 'ok' | 'fail'): Op => op({ kind: 'events.publish', node: 1, args: { topic: 'kv', type: 'kv.put', data: { key: 'k', value: 'forged7' } }, outcome, ...(outcome === 'ok' ? { result: { origin: A, seq: 1 } } : { error: { code: -32602, message: 'reserved' } }) })
  assert.is(checkClosedTopics(input([forge('ok')])).length, 1)
  assert.is(checkClosedTopics(input([forge('fail')], [state(1, { k: { value: 'forged7', version: v(5) } })])).length, 1)
  assert.is(checkClosedTopics(input([forge('fail')])).length, 0)
})

const internal = suite('inv11 no internal error')
internal('a call answered -32603 is reported; documented errors and lost connections are not', () => {
  const read = (error: Op['error'], outcome: Op['outcome'] = 'unknown'): Op => op({ kind: 'kv.get', node: 2, args: { key: 'k' }, outcome, ...(error !== undefined ? { error } : {}) })
  const found = checkNoInternalError(input([read({ code: -32603, message: 'Internal error' }), read({ code: -32003, message: 'store full' }, 'fail')]))
  assert.is(found.length, 1)
  assert.is(found[0]!.invariant, 'inv11-no-internal-error')
  assert.is(found[0]!.ops[0]!.error?.code, -32603)
  assert.is(checkNoInternalError(input([read({ code: -32001, message: 'acks' }), read({ code: 'ERR_RPC_CONNECTION', message: 'ECONNRESET' }), read({ code: 20, message: 'aborted' }), read(undefined, 'ok')])).length, 0)
})

const misc = suite('history classification and durability victims')
misc('errors map to fail / unknown by what they promise', () => {
  assert.is(classify('kv.put', new RpcError(RpcErrorCode.UNAVAILABLE, 'disk full')).outcome, 'fail')
  assert.is(classify('kv.put', new RpcError(RpcErrorCode.TIMEOUT, 'acks')).outcome, 'unknown')
  assert.is(classify('kv.put', Object.assign(new Error('x'), { code: 'ERR_RPC_UNREACHABLE' })).outcome, 'fail')
  assert.is(classify('kv.put', Object.assign(new Error('x'), { code: 'ERR_RPC_TIMEOUT' })).outcome, 'unknown')
  assert.equal(classify('kv.get', new RpcError(RpcErrorCode.NOT_FOUND, 'no')), { outcome: 'ok', result: { absent: true } })
})
misc('the durability kill takes the latest replicated writers first', () => {
  const ops = [put(1, 'a', 'w1', [0, 10], v(1)), put(2, 'b', 'w2', [0, 30], v(2)), put(3, 'c', 'w3', [0, 40], v(3), { args: { key: 'c', value: 'w3', acks: 1 } })]
  assert.equal(latestReplicatedWriters(ops, [1, 2, 3, 4, 5], 2), [2, 1])
  assert.equal(latestReplicatedWriters([], [1, 2, 3], 1), [1])
})
misc('a clean history passes every checker', () => {
  const w = put(1, 'k', 'w1', [0, 10], v(5))
  const r = { k: { value: 'w1', version: v(5) } }
  assert.equal(checkAll(input([w, get(2, 'k', [20, 30], 'w1', v(5))], [state(1, r), state(2, r), state(3, r)])), [])
})

for (const s of [causal, skew, durable, resurrect, converge, events, quorum, jobs, failed, closed, internal, misc]) s.run()
