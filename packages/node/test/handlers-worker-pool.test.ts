/**
 * The worker pool: runs in parallel (proved by a rendezvous no single thread can pass), errors cross as messages
 * with their codes, queued runs wait their turn and an aborted one never runs, abort rejects at once and terminates
 * a busy worker only if its call outlasts the grace, the pool keeps working, crashed workers are replaced, close
 * fails what is in flight. Synchronisation is by SharedArrayBuffer, never by sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { silentLogger } from '@shoal/core'
import { createWorkerPool } from '../src/tasks/handlers/index.js'
import type { WorkerPool } from '../src/tasks/handlers/index.js'

const FIXTURE = `
import { threadId } from 'node:worker_threads'
export function double (x) { return x * 2 }
export function fail () { throw new Error('kaboom') }
export function failWithCode () { throw Object.assign(new Error('no such thing'), { code: 'ERR_NOPE' }) }
// Raises a flag (slot 0 of the buffer) when it runs.
export function mark ({ sab }) { Atomics.store(new Int32Array(sab), 0, 1); return 'marked' }
// Takes the next number of a shared counter: the order in which calls began.
export function ticket ({ sab }) { return Atomics.add(new Int32Array(sab), 0, 1) }
export function whoami () { return threadId }
export function unsendable () { return { f () {} } }
export function signalled (_input, ctx) { return { jobId: ctx.jobId, aborted: ctx.signal.aborted } }
// Each caller checks in, then waits until 'parties' have: only parallel runs get through.
export function meet ({ sab, parties }) {
  const a = new Int32Array(sab)
  Atomics.add(a, 0, 1)
  Atomics.notify(a, 0)
  for (;;) {
    const seen = Atomics.load(a, 0)
    if (seen >= parties) return threadId
    if (Atomics.wait(a, 0, seen, 10000) === 'timed-out') throw new Error('runs were not parallel')
  }
}
// Says it started, then never yields.
export function spin ({ sab }) {
  const a = new Int32Array(sab)
  Atomics.store(a, 0, 1)
  Atomics.notify(a, 0)
  for (;;) {}
}
// Says it started, then waits until released (slot 1 of the buffer), and answers its thread id.
export function hold ({ sab }) {
  const a = new Int32Array(sab)
  Atomics.store(a, 0, 1)
  Atomics.notify(a, 0)
  while (Atomics.load(a, 1) === 0) Atomics.wait(a, 1, 0, 10000)
  return threadId
}
export function crash () { setTimeout(() => { throw new Error('async boom') }, 0); return new Promise(() => {}) }
export function exit () { process.exit(7) }
`

const test = suite('handlers: worker pool')
let dir: string
let mod: string
const pools: WorkerPool[] = []

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-pool-'))
  mod = join(dir, 'fixture.mjs')
  writeFileSync(mod, FIXTURE)
})
test.after(async () => {
  await Promise.all(pools.map(async p => await p.close()))
  rmSync(dir, { recursive: true, force: true })
})

function pool (size: number, abortGraceMs?: number): WorkerPool {
  const p = createWorkerPool({ logger: silentLogger }, abortGraceMs === undefined ? { size } : { size, abortGraceMs })
  pools.push(p)
  return p
}

/** A flag a worker raises when its run has started. */
function startFlag (): { sab: SharedArrayBuffer, started: () => Promise<void>, release: () => void } {
  const sab = new SharedArrayBuffer(8)
  const a = new Int32Array(sab)
  return {
    sab,
    release: () => { Atomics.store(a, 1, 1); Atomics.notify(a, 1) },
    started: async () => {
      const r = Atomics.waitAsync(a, 0, 0, 10_000)
      if (r.async) assert.is(await r.value, 'ok', 'worker started')
    }
  }
}

async function rejection (p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

test('runs an export in a worker and returns its result', async () => {
  const p = pool(2)
  assert.is(await p.run(mod, 'double', 21), 42)
  assert.equal(await p.run(mod, 'signalled', null, undefined, { jobId: 'j1' }), { jobId: 'j1', aborted: false })
  assert.is(p.stats().workers, 2, 'the first run starts the pool\'s workers')
})

test('runs in parallel up to the pool size', async () => {
  const p = pool(3)
  const sab = new SharedArrayBuffer(4)
  const ids = await Promise.all([1, 2, 3].map(async () => await p.run(mod, 'meet', { sab, parties: 3 })))
  assert.is(new Set(ids).size, 3, 'three distinct threads')
})

test('an export that throws, or returns what cannot be sent back, fails the run with its message; the worker stays', async () => {
  const p = pool(1)
  const first = await p.run(mod, 'whoami', null)
  const err = await rejection(p.run(mod, 'fail', null))
  assert.is(err.message, 'kaboom')
  assert.is(err.code, 'ERR_HANDLER_FAILED')
  const coded = await rejection(p.run(mod, 'failWithCode', null))
  assert.is(coded.message, 'no such thing')
  assert.equal((coded as Error & { data?: unknown }).data, { code: 'ERR_NOPE' }, 'the code crosses from the worker')
  const unsendable = await rejection(p.run(mod, 'unsendable', null))
  assert.match(unsendable.message, /^result could not be sent back: /)
  const missing = await rejection(p.run(mod, 'nope', null))
  assert.match(missing.message, /no function export 'nope'/)
  assert.is(await p.run(mod, 'whoami', null), first, 'same worker')
})

test('queues when all workers are busy; an aborted queued run rejects at once and never runs', async () => {
  // A long grace: the worker frees up long before any timer of the aborted run could act, so what keeps it from
  // running is its being skipped when its turn comes.
  const p = pool(1, 60_000)
  const flag = startFlag()
  const holding = p.run(mod, 'hold', { sab: flag.sab })
  await flag.started()
  const a = p.run(mod, 'double', 2)
  const b = p.run(mod, 'double', 3)
  const marker = new SharedArrayBuffer(4)
  const dropped = new AbortController()
  const c = rejection(p.run(mod, 'mark', { sab: marker }, dropped.signal))
  assert.equal(p.stats(), { size: 1, workers: 1, inFlight: 4, queued: 3 })
  dropped.abort()
  assert.is((await c).name, 'AbortError')
  flag.release()
  await holding
  assert.equal(await Promise.all([a, b]), [4, 6])
  assert.is(await p.run(mod, 'double', 5), 10, 'runs queued after it still run, in order')
  assert.is(Atomics.load(new Int32Array(marker), 0), 0, 'the aborted run never ran')
})

test('queued runs start in the order they were asked for, with or without a signal', async () => {
  const p = pool(1)
  const flag = startFlag()
  const holding = p.run(mod, 'hold', { sab: flag.sab })
  await flag.started()
  const counter = new SharedArrayBuffer(4)
  // piscina queues tasks with a signal apart from those without, and alone would start these out of order.
  const runs = [0, 1, 2, 3, 4, 5].map(async i => await p.run(mod, 'ticket', { sab: counter }, i % 2 === 0 ? new AbortController().signal : undefined))
  flag.release()
  await holding
  assert.equal(await Promise.all(runs), [0, 1, 2, 3, 4, 5])
})

test('a worker terminated after the grace is replaced at once while the other is still busy', async () => {
  const p = pool(2, 20)
  const first = startFlag()
  const second = startFlag()
  const aborted = new AbortController()
  const cut = rejection(p.run(mod, 'hold', { sab: first.sab }, aborted.signal))
  const busy = p.run(mod, 'hold', { sab: second.sab })
  await Promise.all([first.started(), second.started()])
  const queued = p.run(mod, 'double', 7)
  aborted.abort()
  assert.is((await cut).name, 'AbortError')
  const late = new Promise(resolve => setTimeout(() => { resolve('still queued') }, 10_000).unref())
  assert.is(await Promise.race([queued, late]), 14, 'ran on a replacement while the other worker held its call')
  second.release()
  await busy
  first.release() // the terminated worker's buffer: nothing waits on it any more
})

test('abort rejects at once; a call that ends within the grace keeps its worker, and its result is dropped', async () => {
  const p = pool(1, 60_000)
  const before = await p.run(mod, 'whoami', null)
  const flag = startFlag()
  const controller = new AbortController()
  const holding = p.run(mod, 'hold', { sab: flag.sab }, controller.signal)
  await flag.started()
  const queued = p.run(mod, 'whoami', null)
  controller.abort()
  assert.is((await rejection(holding)).name, 'AbortError', 'rejected before the call ended')
  assert.equal(p.stats(), { size: 1, workers: 1, inFlight: 2, queued: 1 }, 'the worker takes no other run while the aborted call goes on')
  flag.release()
  assert.is(await queued, before, 'the same worker ran the next call')
  assert.is(p.stats().workers, 1)
})

test('abort terminates a busy worker whose call outlasts the grace, and the pool keeps working', async () => {
  const p = pool(1, 20)
  const before = await p.run(mod, 'whoami', null)
  const flag = startFlag()
  const controller = new AbortController()
  const spinning = p.run(mod, 'spin', { sab: flag.sab }, controller.signal)
  await flag.started()
  const reason = new Error('stop that')
  controller.abort(reason)
  assert.is(await rejection(spinning), reason)
  // The spinning worker can never answer again: a result proves a fresh worker took its place.
  const after = await p.run(mod, 'whoami', null)
  assert.is.not(after, before)
  assert.is(p.stats().workers, 1)
  const aborted = await rejection(p.run(mod, 'double', 1, AbortSignal.abort()))
  assert.is(aborted.name, 'AbortError')
})

test('a crashed or exiting worker fails its run and is replaced', async () => {
  const p = pool(1)
  const crashed = await rejection(p.run(mod, 'crash', null))
  assert.match(crashed.message, /worker crashed: async boom/)
  assert.is(crashed.code, 'ERR_HANDLER_FAILED')
  const exited = await rejection(p.run(mod, 'exit', null))
  assert.match(exited.message, /exited with code 7/)
  assert.is(await p.run(mod, 'double', 5), 10)
  assert.is(p.stats().workers, 1)
})

test('close fails running and queued runs, then refuses new ones', async () => {
  const p = pool(1)
  const flag = startFlag()
  const spinning = rejection(p.run(mod, 'spin', { sab: flag.sab }))
  await flag.started()
  const queued = rejection(p.run(mod, 'double', 1))
  await p.close()
  assert.is((await spinning).code, 'ERR_UNAVAILABLE')
  assert.is((await queued).code, 'ERR_UNAVAILABLE')
  assert.is((await rejection(p.run(mod, 'double', 1))).code, 'ERR_UNAVAILABLE')
  assert.is(p.stats().workers, 0)
  await p.close()
})

test.run()
