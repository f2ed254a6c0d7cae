/**
 * The task driver's own duties, on one node with faults injected into its store: a final-state write that fails
 * is retried until it sticks, and the job ends with its handler's reduced answer (issue 9, kind 10: before, the
 * finisher gave up after one try, or recorded the store error as "reduce failed"); a finished job's records are
 * deleted after tasks.retentionMs and its view leaves memory; lease writes overlap their runs, and a short job's
 * submitter holds them back and writes none if the job is over in time (decision 0019). The store here is an
 * in-memory stand-in for the KV service's public methods (put/delete/record/list and the kv:changed event), so a
 * write can be made to fail exactly when the test says.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { JOB_PREFIX, ManualClock, NotFoundError, ShoalError, constants, silentLogger } from '@shoal/core'
import { EventBus } from '../src/events.js'
import { TaskService } from '../src/tasks/task-service.js'
import type { Handler, HandlerRegistry } from '../src/tasks/handlers/index.js'

interface Rec { key: string, value: unknown, tombstone: boolean }

/** The KV service's public surface, in memory; `failPut(key)` decides which puts fail (like a full disk). */
class MemoryKv {
  readonly records = new Map<string, Rec>()
  /** The prefix of every list() call, in order. */
  readonly lists: string[] = []
  failPut: (key: string) => boolean = () => false
  failures = 0
  /** `carry`: kv:changed holds the value, as the KV service's does; without it every change is read back. */
  constructor (private readonly events: EventBus, private readonly opts: { carry?: boolean } = {}) {}
  async put (key: string, value: unknown): Promise<unknown> {
    if (this.failPut(key)) { this.failures++; throw new ShoalError('ERR_STORE', 'the disk is full') }
    return this.set(key, JSON.parse(JSON.stringify(value ?? null)), false)
  }

  async delete (key: string): Promise<unknown> { return this.set(key, undefined, true) }
  async record (key: string): Promise<Rec | undefined> { return this.records.get(key) }
  async list (opts: { prefix?: string, cursor?: string, limit: number }): Promise<{ records: Rec[], next?: string }> {
    this.lists.push(opts.prefix ?? '')
    const keys = [...this.records.keys()].filter(k => k.startsWith(opts.prefix ?? '') && (opts.cursor === undefined || k > opts.cursor) && this.records.get(k)!.tombstone !== true).sort()
    const page = keys.slice(0, opts.limit)
    return { records: page.map(k => this.records.get(k)!), ...(keys.length > opts.limit ? { next: page.at(-1) } : {}) }
  }

  live (prefix: string): string[] {
    return [...this.records.values()].filter(r => r.key.startsWith(prefix) && !r.tombstone).map(r => r.key)
  }

  private set (key: string, value: unknown, tombstone: boolean): unknown {
    this.records.set(key, { key, value, tombstone })
    const carried = this.opts.carry === true && !tombstone ? { value } : {}
    queueMicrotask(() => { this.events.emit('kv:changed', { key, version: { wall: 0, logical: 0, node: 'self' }, tombstone, ...carried }) })
    return { key }
  }
}

const SELF = '12D3KooWSelf'
const { TASK_PASS_OVER_MS } = constants
let runs = 0
const add: Handler = { name: 'add', run: async (x: unknown) => { runs++; return (x as number) + 1 }, reduce: (rs: unknown[]) => (rs as number[]).reduce((a, b) => a + b, 0) }
const boom: Handler = { name: 'boom', run: async () => { throw new Error('boom') } }
/** `add`, but a run of 13 waits until the test opens the gate: a chunk still running when something happens. */
let gate: Promise<void> = Promise.resolve()
let openGate: () => void = () => {}
const closeGate = (): void => { gate = new Promise(resolve => { openGate = resolve }) }
const gated13: Handler = { name: 'gated13', run: async (x: unknown) => { if (x === 13) await gate; return (x as number) + 1 }, reduce: add.reduce }
/** A run of 0 takes 30 ms of real time (what the node measures, its cost); any other waits for the gate. */
const slow: Handler = {
  name: 'slow',
  run: async (x: unknown) => {
    if (x === 0) await new Promise(resolve => setTimeout(resolve, 30))
    else await gate
    return x
  }
}
const byName = new Map([add, boom, gated13, slow].map(h => [h.name, h]))
const handlers: HandlerRegistry = { names: () => [...byName.keys()], get: name => byName.get(name), close: async () => {} }

const OTHER = '12D3KooWOther'

async function service (retentionMs = 60_000, others: string[] = [], kvOpts: { carry?: boolean } = {}): Promise<{ tasks: TaskService, kv: MemoryKv, clock: ManualClock, events: EventBus }> {
  const clock = new ManualClock(1_000_000)
  const events = new EventBus()
  const kv = new MemoryKv(events, kvOpts)
  const membership = { members: () => [{ id: SELF, state: 'alive', capabilities: [...byName.keys()].map(h => `handler:${h}`).concat('slots:4') }, ...others.map(id => ({ id, state: 'alive', capabilities: [] }))] }
  const tasks = new TaskService({ clock, logger: silentLogger, events, kv: kv as any, membership: membership as any, handlers, self: SELF }, {
    config: { slots: 4, leaseMs: 10_000, retentionMs, modules: {}, exec: { enabled: false, allow: {} } }
  })
  await tasks.start()
  return { tasks, kv, clock, events }
}

/** Lets microtasks, setImmediate ticks and the store's change events run, then moves the clock. */
async function settle (clock: ManualClock, ms = 0): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
  if (ms > 0) clock.advance(ms)
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
}

async function until (clock: ManualClock, what: string, cond: () => boolean, stepMs = 250, maxSteps = 400): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (cond()) return
    await settle(clock, stepMs)
  }
  assert.unreachable(`${what}: not after ${maxSteps} steps of ${stepMs} ms`)
}

const test = suite('task service')

test('a final-state write that fails is retried until it sticks; the job ends with the reduced answer', async () => {
  const { tasks, kv, clock } = await service()
  let stateWrites = 0
  kv.failPut = key => key.endsWith('/state') && ++stateWrites <= 3
  const { jobId } = await tasks.submit({ handler: 'add', inputs: [1, 2, 3], reduce: 'handler' })
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done')
  assert.is(kv.failures, 3, 'three writes failed first')
  const final = (await kv.record(`${JOB_PREFIX}${jobId}/state`))?.value as { state: string, result: unknown }
  assert.equal([final.state, final.result], ['done', 2 + 3 + 4])
  await tasks.stop()
})

test('records that came before their job record are read once it comes; a job with none ahead costs no list of its keys', async () => {
  const a = await service()
  const { jobId } = await a.tasks.submit({ handler: 'add', inputs: [1, 2, 3], reduce: 'handler' })
  const other = await a.tasks.submit({ handler: 'add', inputs: [5], reduce: 'handler' })
  await until(a.clock, 'the jobs to finish', () => a.tasks.status(jobId).state === 'done' && a.tasks.status(other.jobId).state === 'done')
  const job = a.kv.records.get(`${JOB_PREFIX}${jobId}`)!.value
  const otherJob = a.kv.records.get(`${JOB_PREFIX}${other.jobId}`)!.value
  // A result no run here would give: seen only if the final state that came first is read.
  const final = { ...(a.kv.records.get(`${JOB_PREFIX}${jobId}/state`)!.value as object), result: 999 }
  await a.tasks.stop()
  for (const carry of [false, true]) {
    const b = await service(60_000, [], { carry })
    const runsBefore = runs
    // Replication from several writers does not keep their order: the final state lands before the job record.
    await b.kv.put(`${JOB_PREFIX}${jobId}/state`, final)
    await settle(b.clock)
    await b.kv.put(`${JOB_PREFIX}${jobId}`, job)
    await until(b.clock, `the job known with its final state (changes ${carry ? 'with' : 'without'} values)`, () => {
      try { return b.tasks.status(jobId).state === 'done' } catch { return false }
    })
    assert.is(b.tasks.status(jobId).result, 999, 'the final state that came first was read')
    assert.is(runs, runsBefore, 'nothing ran again')
    // A job record with nothing ahead of it: known (and run here) without a list of its keys.
    await b.kv.put(`${JOB_PREFIX}${other.jobId}`, otherJob)
    await until(b.clock, 'the other job to finish here', () => { try { return b.tasks.status(other.jobId).state === 'done' } catch { return false } })
    assert.is(b.tasks.status(other.jobId).result, 6)
    assert.ok(!b.kv.lists.some(prefix => prefix.includes(other.jobId)), `no list of a job with nothing ahead: ${JSON.stringify(b.kv.lists)}`)
    await b.tasks.stop()
  }
})

test('chunks are sized from what the handler cost here: a cheap handler\'s next job has one chunk per slot, not two', async () => {
  const { tasks, kv, clock } = await service()
  const chunkOfJob = (jobId: string): number => ((kv.records.get(`${JOB_PREFIX}${jobId}`)?.value as { chunk?: number }).chunk ?? 1)
  const inputs = Array.from({ length: 40 }, (_, i) => i)
  // Nothing measured yet: 2 chunks per slot of the members that run it (4 slots): chunks of 5.
  const first = await tasks.submit({ handler: 'add', inputs })
  assert.is(chunkOfJob(first.jobId), 5)
  await until(clock, 'the first job to finish', () => tasks.status(first.jobId).state === 'done')
  // 'add' takes microseconds a subtask, far below TASK_CHUNK_TARGET_MS a chunk: one chunk per local slot.
  const second = await tasks.submit({ handler: 'add', inputs })
  assert.is(chunkOfJob(second.jobId), 10)
  await until(clock, 'the second job to finish', () => tasks.status(second.jobId).state === 'done')
  assert.equal(tasks.status(second.jobId).result, inputs.map(x => x + 1))
  // An explicit chunk still wins.
  const third = await tasks.submit({ handler: 'add', inputs, chunk: 3 })
  assert.is(chunkOfJob(third.jobId), 3)
  await tasks.stop()
})

test('a finished job is deleted after tasks.retentionMs, records and view alike; an unfinished one is kept', async () => {
  const { tasks, kv, clock } = await service(5_000)
  const { jobId } = await tasks.submit({ handler: 'add', inputs: [1, 2] })
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done')
  // Results stay with the finisher (this node) until the final state: no done records (decision 0011).
  assert.ok(kv.live(`${JOB_PREFIX}${jobId}`).length >= 4, 'job, leases, state')
  await settle(clock, 2_000)
  assert.is(tasks.status(jobId).state, 'done', 'kept within the retention')
  await until(clock, 'the job to be collected', () => kv.live(`${JOB_PREFIX}${jobId}`).length === 0)
  assert.throws(() => tasks.status(jobId), (err: Error) => err instanceof NotFoundError)
  assert.equal(tasks.list().map(j => j.jobId), [])
  await tasks.stop()
})

test('a chunk runs while its lease is written, but its result is never recorded before the lease; a failed lease write is a failure, retried', async () => {
  const { tasks, kv, clock } = await service()
  const put = kv.put.bind(kv)
  let held: string | undefined
  let fail: ((err: Error) => void) | undefined
  kv.put = async (key: string, value: unknown) => {
    if (held === undefined && key.includes('/lease/')) {
      held = key
      await new Promise((_resolve, reject) => { fail = reject })
    }
    return await put(key, value)
  }
  runs = 0
  const { jobId } = await tasks.submit({ handler: 'add', inputs: [1, 2, 3], reduce: 'handler' })
  await until(clock, 'a lease write to be held', () => fail !== undefined, 10)
  const unit = held!.split('/lease/')[1]!.split('/')[0]
  // This node is the finisher: results go into its view (the result stream's local path), not into done records.
  await until(clock, 'the other chunks to finish', () => tasks.status(jobId).counts.done === 2, 10)
  assert.is(runs, 3, 'the held chunk ran too (its run overlaps the lease write)')
  await settle(clock, 10)
  assert.is(tasks.status(jobId).counts.done, 2, 'no result before its lease')
  fail!(new ShoalError('ERR_STORE', 'the disk is full'))
  await until(clock, 'the failure to be recorded', () => kv.live(`${JOB_PREFIX}${jobId}/fail/${unit}`).length === 1, 10)
  assert.is(tasks.status(jobId).counts.done, 2, 'the run under the unwritten lease records no result')
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done')
  const final = (await kv.record(`${JOB_PREFIX}${jobId}/state`))?.value as { state: string, result: unknown }
  assert.equal([final.state, final.result], ['done', 2 + 3 + 4])
  assert.is(kv.live(`${JOB_PREFIX}${jobId}/lease/${unit}/1`).length, 1, 'the retry under token 1 ran it')
  await tasks.stop()
})

/**
 * Holds the first lease write until `release()`, then lets it land (`wins`) or not: a write that loses the KV's
 * last-writer-wins is durable but leaves the record as it is. `rival(...)` puts another node's lease under the
 * same key on this replica, as gossip would.
 */
function holdFirstLease (kv: MemoryKv, events: EventBus, wins: boolean): { held: () => string | undefined, release: () => void, rival: (lease: unknown) => void } {
  const put = kv.put.bind(kv)
  let held: string | undefined
  let release: (() => void) | undefined
  kv.put = async (key: string, value: unknown) => {
    if (held === undefined && key.includes('/lease/')) {
      held = key
      await new Promise<void>(resolve => { release = resolve })
      if (!wins) return { key }
    }
    return await put(key, value)
  }
  return {
    held: () => release === undefined ? undefined : held,
    release: () => { release!() },
    rival: lease => {
      kv.records.set(held!, { key: held!, value: lease, tombstone: false })
      events.emit('kv:changed', { key: held!, version: { wall: 1, logical: 0, node: OTHER }, tombstone: false, value: lease })
    }
  }
}

test('a rival lease under the same token seen before our own lease write lands does not abort our run when ours wins', async () => {
  const { tasks, kv, clock, events } = await service(60_000, [OTHER])
  const lease = holdFirstLease(kv, events, true)
  const { jobId } = await tasks.submit({ handler: 'add', inputs: [1, 2, 3], reduce: 'handler' })
  await until(clock, 'a lease write to be held', () => lease.held() !== undefined, 10)
  const held = lease.held()
  // Another node's claim of the same chunk under the same token (0) reaches this replica first...
  lease.rival({ holder: OTHER, token: 0, expiresAt: clock.now() + 10_000, attempt: 1 })
  await settle(clock, 10)
  // ...then ours lands and wins the KV's last-writer-wins (the stand-in's put replaces the record and says so).
  lease.release()
  // Within 2 s of clock, far below the 10 s lease: an abandoned run would show only after the lease expired. (Who
  // finishes the job depends on the ranking with OTHER, which does not run here, so done chunks are what count.)
  await until(clock, 'every chunk to be done', () => tasks.status(jobId).counts.done === 3, 10, 200)
  const unit = held!.split('/lease/')[1]!.split('/')[0]
  assert.equal(tasks.status(jobId).perMember[SELF]?.done, 3, 'every chunk\'s counted result is ours, the held one under token 0 too')
  assert.is(kv.live(`${JOB_PREFIX}${jobId}/lease/${unit}/1`).length, 0, 'no takeover under token 1: the run was not abandoned')
  await tasks.stop()
})

test('a run that lost a same-token race records nothing when its handler fails: the winner\'s attempt count stands', async () => {
  const { tasks, kv, clock, events } = await service(60_000, [OTHER])
  // Our write is durable here, but the rival's version is greater: last-writer-wins keeps the rival's record.
  const lease = holdFirstLease(kv, events, false)
  const { jobId } = await tasks.submit({ handler: 'boom', inputs: [1], retries: 2, chunk: 1 })
  await until(clock, 'a lease write to be held', () => lease.held() !== undefined, 10)
  // The other node's claim under the same token reaches this replica while our write is on its way, and wins.
  lease.rival({ holder: OTHER, token: 0, expiresAt: clock.now() + 10_000, attempt: 1 })
  await settle(clock)
  lease.release()
  await settle(clock, 10)
  // The loser's failed run must not write a failure (nor a poison result): the winner's run is the attempt.
  assert.is(kv.live(`${JOB_PREFIX}${jobId}/fail/`).length, 0, 'no failure recorded by the loser')
  assert.is(kv.live(`${JOB_PREFIX}${jobId}/done/`).length, 0, 'no result recorded by the loser')
  await tasks.stop()
})

/** Every KV put of a lease record, in order, as `<unit>/<token>`. */
function leasePuts (kv: MemoryKv): string[] {
  const puts: string[] = []
  const put = kv.put.bind(kv)
  kv.put = async (key: string, value: unknown) => {
    if (key.includes('/lease/')) puts.push(key.split('/lease/')[1]!)
    return await put(key, value)
  }
  return puts
}

/** Runs a job of `inputs` to its end, so that the node has measured what `handler` costs here. */
async function measure (tasks: TaskService, clock: ManualClock, handler: string, inputs: unknown[]): Promise<void> {
  const { jobId } = await tasks.submit({ handler, inputs })
  await until(clock, `the ${handler} job that measures its cost to finish`, () => tasks.status(jobId).state === 'done', 1, 2_000)
}

/** A node that has measured `gated13` as cheap, its lease puts recorded from here on, and the gate closed. */
async function measuredGated (others: string[] = []): Promise<Awaited<ReturnType<typeof service>> & { puts: string[] }> {
  const node = await service(60_000, others)
  await measure(node.tasks, node.clock, 'gated13', others.length > 0 ? [1] : [1, 2])
  const puts = leasePuts(node.kv)
  closeGate()
  return { ...node, puts }
}

test('a job its submitter expects to end within the lease hold writes no lease: it costs its job record and final state', async () => {
  const { tasks, kv, clock } = await service()
  await measure(tasks, clock, 'add', [1, 2])
  const puts = leasePuts(kv)
  const { jobId } = await tasks.submit({ handler: 'add', inputs: [1, 2, 3, 4, 5, 6, 7, 8], reduce: 'handler' })
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done', 1)
  await settle(clock, 1_000) // long past the hold
  assert.equal(puts, [], 'no lease written')
  assert.equal(kv.live(`${JOB_PREFIX}${jobId}`).sort(), [`${JOB_PREFIX}${jobId}`, `${JOB_PREFIX}${jobId}/state`])
  assert.is(tasks.status(jobId).result, 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9)
  await tasks.stop()
})

test('a handler not measured here, a job of more chunks than the submitter\'s slots, or one expected to outlast the hold, writes its leases at once', async () => {
  const { tasks, kv, clock } = await service()
  const puts = leasePuts(kv)
  closeGate()
  const first = await tasks.submit({ handler: 'slow', inputs: [1], chunk: 1 })
  await settle(clock)
  assert.equal(puts, ['0/0'], 'cost unknown: written at once')
  openGate()
  await until(clock, 'the first job to finish', () => tasks.status(first.jobId).state === 'done', 10)
  // A 30 ms run moves the average (the first job's short wait counted too) to about 9 ms a subtask.
  await measure(tasks, clock, 'slow', [0])
  closeGate()
  puts.length = 0
  // 80 subtasks of about 9 ms on 4 slots: about 180 ms, more than the 100 ms hold.
  const long = await tasks.submit({ handler: 'slow', inputs: Array.from({ length: 80 }, (_, i) => i + 1), chunk: 20 })
  await settle(clock)
  assert.equal(puts.sort(), ['0/0', '1/0', '2/0', '3/0'], 'expected to outlast the hold: written at once')
  openGate()
  await until(clock, 'the long job to finish', () => tasks.status(long.jobId).state === 'done', 10)
  // Cheap, but 8 chunks for 4 slots: the chunks it cannot start at once are left for others, who must see the rest taken.
  await measure(tasks, clock, 'add', [1, 2])
  puts.length = 0
  const many = await tasks.submit({ handler: 'add', inputs: [1, 2, 3, 4, 5, 6, 7, 8], chunk: 1 })
  await until(clock, 'the job of many chunks to finish', () => tasks.status(many.jobId).state === 'done', 1)
  assert.is(puts.length, 8, 'every chunk\'s lease, written at once')
  await tasks.stop()
})

test('a chunk still running when the hold ends (TASK_PASS_OVER_MS after submit) has its lease written then, not before', async () => {
  const { tasks, clock, puts } = await measuredGated()
  const { jobId } = await tasks.submit({ handler: 'gated13', inputs: [13, 13], chunk: 1, reduce: 'handler' })
  await settle(clock, TASK_PASS_OVER_MS - 1)
  assert.equal(puts, [], 'held back')
  assert.is(tasks.status(jobId).counts.running, 2, 'both chunks run meanwhile')
  await settle(clock, 1)
  assert.equal(puts.sort(), ['0/0', '1/0'], 'written once the hold ends')
  openGate()
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done', 10)
  assert.is(tasks.status(jobId).result, 14 + 14)
  await tasks.stop()
})

test('a job still going when the hold ends gets the leases of its chunks that ended meanwhile too, so no one runs them again', async () => {
  const { tasks, clock, puts } = await measuredGated()
  const { jobId } = await tasks.submit({ handler: 'gated13', inputs: [1, 13], chunk: 1, reduce: 'handler' })
  await settle(clock)
  assert.is(tasks.status(jobId).counts.done, 1, 'chunk 0 ended, its result taken by this node (the finisher)')
  assert.equal(puts, [], 'held back')
  await settle(clock, TASK_PASS_OVER_MS)
  assert.equal(puts.sort(), ['0/0', '1/0'], 'the ended chunk\'s lease as well as the running one\'s')
  openGate()
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done', 10)
  assert.is(tasks.status(jobId).result, 2 + 14)
  await tasks.stop()
})

test('a rival\'s lease seen during the hold: ours is never written over it, and our run records nothing', async () => {
  const { tasks, kv, clock, events, puts } = await measuredGated([OTHER])
  const { jobId } = await tasks.submit({ handler: 'gated13', inputs: [13], chunk: 1 })
  await settle(clock)
  // Another node claimed chunk 0 under token 0 (it took this node for gone, say) and its lease reached us.
  const key = `${JOB_PREFIX}${jobId}/lease/0/0`
  const rival = { holder: OTHER, token: 0, expiresAt: clock.now() + 10_000, attempt: 1 }
  kv.records.set(key, { key, value: rival, tombstone: false })
  events.emit('kv:changed', { key, version: { wall: 1, logical: 0, node: OTHER }, tombstone: false, value: rival })
  await settle(clock, TASK_PASS_OVER_MS)
  openGate()
  await settle(clock, 10)
  assert.equal(puts, [], 'the held-back write was skipped')
  assert.equal(kv.records.get(key)?.value, rival)
  assert.is(tasks.status(jobId).counts.done, 0, 'our run recorded no result')
  await tasks.stop()
})

test('a watcher that reads its next status only after the job ended still gets the final one', async () => {
  const { tasks, clock } = await service()
  closeGate()
  const { jobId } = await tasks.submit({ handler: 'gated13', inputs: [13], reduce: 'handler' })
  const controller = new AbortController()
  const watch = tasks.watch(jobId, controller.signal, 0)
  const first = await watch.next()
  assert.is(first.done, false)
  assert.is.not((first.value as { state: string }).state, 'done', 'the first status is from before the end')
  // The job ends while the watcher holds its first status, not asking for the next one.
  openGate()
  await until(clock, 'the job to finish', () => tasks.status(jobId).state === 'done', 10)
  const timer = setTimeout(() => { controller.abort() }, 5000)
  const next = await watch.next()
  clearTimeout(timer)
  assert.is(controller.signal.aborted, false, 'the next status came without waiting for a change that will not come')
  assert.is((next.value as { state: string } | undefined)?.state, 'done')
  controller.abort()
  await tasks.stop()
})

test.run()
