/**
 * Chunked leases as transcripts: the chunk size chosen at submit, claims and results per chunk, status counted in
 * subtasks, the failing subtask named inside its chunk, and records per job that do not grow with its subtasks.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { TASK_CHUNK_TARGET_MS } from '../src/constants.js'
import { HANDLER_COSTS_MAX, HANDLER_COST_WEIGHT, HandlerCosts } from '../src/tasks/handler-costs.js'
import { allDone, chunkSize, decide, firstPoison } from '../src/tasks/scheduler.js'
import type { DecideContext, TaskAction } from '../src/tasks/scheduler.js'
import { jobStatus } from '../src/tasks/status.js'
import { handlerCapability, unitCount, unitRange, unitResults } from '../src/tasks/types.js'
import type { JobView, TaskMember } from '../src/tasks/types.js'
import { validateDone, validateJobRecord } from '../src/tasks/validate.js'
import { emptyView, mergeDone, mergeLease } from '../src/tasks/view.js'

const JOB = '0123456789abcdef0123456789abcdef'
/** The job was submitted to a node that has since left: finisher and candidates follow the ranking alone (submitter-first is tested apart). */
const SUBMITTER = 'gone'
const T0 = 1_000_000
const L = 10_000
const CAP = handlerCapability('primes')
const m = (id: string, slots?: number): TaskMember => ({ id, capabilities: [CAP, ...(slots !== undefined ? [`slots:${slots}`] : [])] })
const view = (n: number, chunk: number): JobView => emptyView({ v: 1, id: JOB, handler: 'primes', inputs: Array.from({ length: n }, (_, i) => i), reduce: null, retries: 3, timeoutMs: 600_000, priority: 0, submittedBy: SUBMITTER, submittedAt: T0, chunk })
const solo = [m('n1'), { id: 'n2', capabilities: [] }, { id: 'n3', capabilities: [] }] // n1 runs everything
function ctx (o: Partial<DecideContext> = {}): DecideContext {
  return { self: 'n1', now: T0, members: solo, freeSlots: 2, running: new Map(), leaseMs: L, ...o }
}

const t = suite('tasks chunks')

t('chunk size: about 2 chunks per slot of the members that run the handler', () => {
  assert.is(chunkSize(500, [m('a', 2)], 'primes'), 125) // 4 chunks
  assert.is(chunkSize(500, [m('a', 2), m('b', 2), m('c', 2), m('d', 2), m('e', 2)], 'primes'), 25) // 20 chunks
  assert.is(chunkSize(10, [m('a', 8)], 'primes'), 1)
  assert.is(chunkSize(100, [m('a'), { id: 'b', capabilities: ['slots:64'] }], 'primes'), 50) // b lacks the handler; a says no slots: 1
  assert.is(chunkSize(1, [], 'primes'), 1)
})

t('chunk size with a measured cost: chunks of about TASK_CHUNK_TARGET_MS, at least one per submitter slot, never smaller than by slots', () => {
  const five = [m('a', 2), m('b', 2), m('c', 2), m('d', 2), m('e', 2)]
  const perChunk = (ms: number): number => Math.ceil(TASK_CHUNK_TARGET_MS / ms)
  // Trivial subtasks (0.2 ms): 250 fit the target, so 500 make 2 chunks, one per submitter slot, on 1 or 5 members.
  assert.is(perChunk(0.2), 250)
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 0.2, localSlots: 2 }), 250)
  assert.is(chunkSize(500, [m('a', 2)], 'primes', { msPerSubtask: 0.2, localSlots: 2 }), 250)
  // Cheaper still: never fewer chunks than the submitter's slots (its slots run them together).
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 0.01, localSlots: 2 }), 250)
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 0.01, localSlots: 1 }), 500)
  // 1.1 ms: 46 per chunk would make 11 chunks; rounded down to a multiple of 2 slots: 10 chunks of 50.
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 1.1, localSlots: 2 }), 50)
  // Costly subtasks: the slots rule already gives chunks of more than the target, so it stands.
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 10, localSlots: 2 }), 25)
  assert.is(chunkSize(7, [m('a', 2)], 'primes', { msPerSubtask: 100, localSlots: 2 }), 2)
  // No usable cost: the slots rule.
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 0, localSlots: 2 }), 25)
  assert.is(chunkSize(500, five, 'primes', { msPerSubtask: 0.2, localSlots: 0 }), 25)
  assert.is(chunkSize(1, five, 'primes', { msPerSubtask: 0.2, localSlots: 2 }), 1)
})

t('handler costs: an EWMA of wall time per subtask per handler; nonsense samples are ignored', () => {
  const c = new HandlerCosts()
  assert.is(c.msPerSubtask('sleep'), undefined)
  c.record('sleep', 100, 50) // 2 ms
  assert.is(c.msPerSubtask('sleep'), 2)
  c.record('sleep', 20, 50) // 0.4 ms
  assert.ok(Math.abs(c.msPerSubtask('sleep')! - (2 + HANDLER_COST_WEIGHT * (0.4 - 2))) < 1e-9)
  c.record('sleep', -5, 10)
  c.record('sleep', 10, 0)
  c.record('sleep', Number.NaN, 10)
  assert.ok(Math.abs(c.msPerSubtask('sleep')! - 1.52) < 1e-9)
  assert.is(c.msPerSubtask('primes'), undefined)
  for (let i = 0; i < HANDLER_COSTS_MAX; i++) c.record(`exec:${i}`, 1, 1)
  // Bounded: the table holds HANDLER_COSTS_MAX handlers, then starts over with the next new one.
  assert.is(c.msPerSubtask('sleep'), undefined)
  assert.is(c.msPerSubtask('exec:0'), undefined)
  assert.is(c.msPerSubtask(`exec:${HANDLER_COSTS_MAX - 1}`), 1)
})

t('units cover the inputs exactly, the last one shorter', () => {
  const v = view(10, 4)
  assert.is(unitCount(v.job), 3)
  assert.equal([0, 1, 2].map(u => unitRange(v.job, u)), [[0, 4], [4, 8], [8, 10]])
  assert.equal(unitResults(v.job, 2, { results: ['a', 'b'], by: 'n1', token: 0, attempts: 1 }), ['a', 'b'])
  assert.equal(unitResults(view(3, 1).job, 1, { result: 5, by: 'n1', token: 0, attempts: 1 }), [5])
})

t('a done job credits each chunk whose result this node never saw to its lease holder (results went to the finisher)', () => {
  const v = view(10, 4)
  mergeLease(v, 0, { holder: 'n2', token: 0, expiresAt: T0 + L, attempt: 1 })
  mergeLease(v, 1, { holder: 'n3', token: 1, expiresAt: T0 + L, attempt: 2 })
  mergeDone(v, 2, { results: [8, 9], by: 'n1', token: 0, attempts: 1 })
  v.final = { state: 'done', by: 'n1', at: T0 + 5, result: 45 }
  const s = jobStatus(v, T0 + 10, solo)
  assert.equal(s.counts, { pending: 0, running: 0, done: 10, failed: 0 })
  assert.equal(s.perMember.n1, { running: 0, done: 2 })
  assert.equal(s.perMember.n2, { running: 0, done: 4 })
  assert.equal(s.perMember.n3, { running: 0, done: 4 }, 'the newest lease (token 1) names who computed it')
})

t('claims are per chunk: one lease for a range of subtasks', () => {
  const v = view(10, 4)
  assert.equal(decide(v, ctx()).map(a => a.type === 'claim' ? a.index : -1), [0, 1])
  assert.equal(decide(v, ctx({ freeSlots: 8 })).map(a => a.type === 'claim' ? a.index : -1), [0, 1, 2])
})

t('status counts subtasks: a running chunk counts all its subtasks running, a done one all done', () => {
  const v = view(10, 4)
  mergeLease(v, 0, { holder: 'n1', token: 0, expiresAt: T0 + L, attempt: 1 })
  mergeDone(v, 1, { results: [4, 5, 6, 7], by: 'n1', token: 0, attempts: 1 })
  const s = jobStatus(v, T0, solo)
  assert.equal(s.counts, { pending: 2, running: 4, done: 4, failed: 0 })
  assert.equal(s.perMember.n1, { running: 4, done: 4 })
  assert.is(allDone(v), false)
  mergeDone(v, 0, { results: [0, 1, 2, 3], by: 'n1', token: 0, attempts: 1 })
  mergeDone(v, 2, { results: [8, 9], by: 'n1', token: 0, attempts: 1 })
  assert.is(allDone(v), true)
  assert.equal(decide(v, ctx({ self: 'n2' })), [{ type: 'reduce' }] as TaskAction[]) // n2 is the job's finisher
})

t('the failing subtask inside a chunk is named in the final error and in status', () => {
  const v = view(10, 4)
  mergeDone(v, 1, { error: 'boom', subtask: 6, by: 'n1', token: 0, attempts: 4 })
  assert.equal(firstPoison(v), { index: 6, unit: 1, error: 'boom' })
  const [finish] = decide(v, ctx({ self: 'n2' }))
  assert.equal(finish, { type: 'finish', final: { state: 'failed', error: 'subtask 6 failed: boom', by: 'n2', at: T0 } })
  assert.equal(jobStatus(v, T0, solo).errors, [{ index: 6, error: 'boom', attempt: 4 }])
  assert.is(jobStatus(v, T0, solo).counts.failed, 4)
})

t('records per job do not grow with its subtasks: claims for 10,000 subtasks on 10 slots make 20 leases', () => {
  const members = Array.from({ length: 5 }, (_, i) => m(`n${i}`, 2))
  const size = chunkSize(10_000, members, 'primes')
  const v = view(10_000, size)
  assert.is(unitCount(v.job), 20)
  let claims = 0
  for (const self of members.map(x => x.id)) claims += decide(v, ctx({ self, members, freeSlots: 1000, now: T0 + 10 * L })).length
  assert.ok(claims <= 20 * 5, `${claims} claims`)
})

t('job and done records validate their chunk fields', () => {
  const job = view(10, 4).job
  assert.is(validateJobRecord(job).chunk, 4)
  assert.throws(() => validateJobRecord({ ...job, chunk: 0 }), /chunk/)
  assert.equal(validateDone({ results: [1, null], by: '12D3KooWExample', token: 1, attempts: 1 }).results, [1, null])
  assert.throws(() => validateDone({ results: [1], result: 1, by: '12D3KooWExample', token: 1, attempts: 1 }), /results/)
  assert.throws(() => validateDone({ results: [1], error: 'x', by: '12D3KooWExample', token: 1, attempts: 1 }), /results/)
})

t.run()
