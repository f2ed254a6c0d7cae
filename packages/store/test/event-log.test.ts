/**
 * The event log against a real LevelDB: delivery order and LSNs, duplicates and conflicts, failed writes,
 * restart, concurrent appends, a seeded property test of random arrival orders, and early delivery (LSNs handed
 * on before their batch lands: never reused, neither after a failed batch nor after a crash).
 */
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { seededRng, shuffled } from '@shoal/core'
import { EARLY_DELIVERY_MAX, EventLog } from '../src/event-log.js'
import type { Delivered, StoredEvent } from '../src/event-records.js'
import { openStore, STORE_ERRORS, toWriteError } from '../src/store.js'
import type { Store, StoreError } from '../src/store.js'
import { ev, expectCode, ids, openLog, seqs, withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'

// ---------------------------------------------------------------------------------------------------------
const append = suite<Ctx>('event log: append and delivery')
withTempDir(append)

append('in-order append delivers with LSNs 1..n', async ctx => {
  const { log } = await openLog(ctx)
  assert.equal(log.stats(), { events: 0, origins: 0, lastLsn: 0, compactedLsn: 0 })
  const r = await log.append([ev('a', 1), ev('a', 2), ev('b', 1), ev('a', 3)])
  assert.equal(seqs(r.added), [1, 2, 1, 3])
  assert.is(r.duplicates, 0)
  assert.equal(r.conflicts, [])
  // Per origin in seq order, origins in the order first seen.
  assert.equal(ids(r.delivered), ['1:a1', '2:a2', '3:a3', '4:b1'])
  assert.is(log.head('a'), 3)
  assert.is(log.head('b'), 1)
  assert.is(log.head('unknown'), 0)
  assert.equal(log.heads(), { a: 3, b: 1 })
  log.heads().a = 99 // a fresh object each time
  assert.is(log.head('a'), 3)
  assert.equal(await log.get('a', 2), ev('a', 2))
  assert.is(await log.get('a', 4), undefined)
  assert.equal(log.stats(), { events: 4, origins: 2, lastLsn: 4, compactedLsn: 0 })
  assert.equal(ids((await log.append([ev('b', 2)])).delivered), ['5:b2'])
  assert.is(log.lastLsn(), 5)
})

append('out-of-order events are held until the gap fills, then delivered in seq order', async ctx => {
  const { log } = await openLog(ctx)
  const first = await log.append([ev('a', 4), ev('a', 2)])
  assert.equal(seqs(first.added), [4, 2])
  assert.equal(first.delivered, [])
  assert.is(log.head('a'), 0)
  assert.equal(log.heads(), {}) // nothing contiguous yet
  assert.equal(await log.get('a', 4), ev('a', 4)) // held
  assert.is(log.stats().events, 0) // held is not delivered
  assert.equal(ids((await log.append([ev('a', 1)])).delivered), ['1:a1', '2:a2'])
  assert.equal(ids((await log.append([ev('a', 3)])).delivered), ['3:a3', '4:a4'])
  assert.is(log.head('a'), 4)
  assert.equal(log.stats(), { events: 4, origins: 1, lastLsn: 4, compactedLsn: 0 })
})

append('duplicates are counted, conflicts refused and not stored', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([ev('a', 1), ev('a', 3)])
  const forged = ev('a', 1, { data: '{"n":"other"}', sig: 'sig-other' })
  const r = await log.append([ev('a', 1), ev('a', 3), forged, ev('a', 3, { sig: 'x' }), ev('a', 2), ev('a', 2), ev('a', 2, { data: '2' })])
  assert.is(r.duplicates, 3) // a1, a3 (held, not delivered) and a2 twice in one call counts once as added
  assert.equal(r.conflicts, [forged, ev('a', 3, { sig: 'x' }), ev('a', 2, { data: '2' })])
  assert.equal(seqs(r.added), [2])
  assert.equal(ids(r.delivered), ['2:a2', '3:a3'])
  assert.equal(await log.get('a', 1), ev('a', 1)) // the first stored wins
  assert.equal(await log.get('a', 2), ev('a', 2))
  assert.is(log.lastLsn(), 3)
})

append('events the log cannot key are refused, and nothing of that call is stored', async ctx => {
  const { log } = await openLog(ctx)
  await expectCode(log.append([ev('a', 1), ev('a', 0)]), STORE_ERRORS.invalid)
  await expectCode(log.append([ev('a', 1), ev('a/b', 1)]), STORE_ERRORS.invalid)
  await expectCode(log.append([ev('a', 1.5)]), STORE_ERRORS.invalid)
  await expectCode(log.append([ev('a', 1, { topic: 'x\u0000y' })]), STORE_ERRORS.invalid)
  assert.is(await log.get('a', 1), undefined)
  assert.is(log.lastLsn(), 0)
})

append('a failed write (disk full) changes nothing in memory, and the queue keeps going', async ctx => {
  const { store } = await openLog(ctx)
  let full = false
  // The real store, except that batches fail as LevelDB fails on a full disk while `full` is set.
  const flaky: Store = {
    path: store.path,
    created: store.created,
    bucket: name => store.bucket(name),
    batch: async ops => { if (full) throw toWriteError(new Error('IO error: /db/000005.log: No space left on device'), store.path); await store.batch(ops) },
    snapshot: () => store.snapshot(),
    close: async () => { await store.close() }
  }
  const log = await EventLog.open(flaky)
  await log.append([ev('a', 1), ev('a', 3)])
  full = true
  const results = await Promise.allSettled([log.append([ev('a', 2)]), log.skipTo('a', 3), log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 0 })])
  for (const r of results) {
    assert.is(r.status, 'rejected')
    assert.is(((r as PromiseRejectedResult).reason as StoreError).code, STORE_ERRORS.full)
  }
  assert.equal(log.stats(), { events: 1, origins: 1, lastLsn: 1, compactedLsn: 0 })
  assert.is(log.head('a'), 1)
  full = false
  assert.equal(ids((await log.append([ev('a', 2)])).delivered), ['2:a2', '3:a3'])
})

append('survives a reopen: heads, held events, LSN counter, count and compactedLsn', async ctx => {
  const path = join(ctx.dir, 'db')
  const store = await openStore(path)
  const log = await EventLog.open(store)
  await log.append([ev('a', 1), ev('a', 2), ev('a', 3), ev('b', 1), ev('b', 3)])
  await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 2 })
  const before = { heads: log.heads(), stats: log.stats() }
  assert.equal(before.stats, { events: 2, origins: 2, lastLsn: 4, compactedLsn: 2 })
  await log.close()
  await store.close()

  const { log: again } = await openLog(ctx)
  assert.equal(again.heads(), before.heads)
  assert.equal(again.stats(), before.stats)
  // The held b3 is still held; the counter continues; the compacted prefix is still a duplicate.
  const r = await again.append([ev('b', 2), ev('a', 1)])
  assert.is(r.duplicates, 1)
  assert.equal(ids(r.delivered), ['5:b2', '6:b3'])
  assert.equal(await again.list({ since: 2, limit: 10 }), { events: [3, 4, 5, 6].map(lsn => ({ lsn, event: lsn === 3 ? ev('a', 3) : ev('b', lsn - 3) })), next: 6 })
})

append('20 concurrent appends with interleaved origins: every event delivered once, LSNs 1..N, per-origin order', async ctx => {
  const { log } = await openLog(ctx)
  const origins = ['a', 'b', 'c', 'd']
  const perOrigin = 25
  const all = origins.flatMap(o => Array.from({ length: perOrigin }, (_, i) => ev(o, i + 1)))
  const mixed = shuffled(all, seededRng(7))
  const calls = Array.from({ length: 20 }, (_, i) => mixed.filter((_, j) => j % 20 === i))
  const results = await Promise.all(calls.map(async events => await log.append(events)))
  const delivered = results.flatMap(r => r.delivered).sort((x, y) => x.lsn - y.lsn)
  assert.equal(delivered.map(d => d.lsn), Array.from({ length: all.length }, (_, i) => i + 1))
  assert.is(new Set(delivered.map(d => `${d.event.origin}/${d.event.seq}`)).size, all.length)
  for (const o of origins) {
    assert.equal(seqs(delivered.filter(d => d.event.origin === o).map(d => d.event)), Array.from({ length: perOrigin }, (_, i) => i + 1))
  }
  // Each call's own delivered list is in LSN order.
  for (const r of results) assert.equal(r.delivered.map(d => d.lsn), r.delivered.map(d => d.lsn).sort((x, y) => x - y))
  assert.equal(log.stats(), { events: all.length, origins: 4, lastLsn: all.length, compactedLsn: 0 })
})

append('property: random permutations in random chunks deliver every event once, in per-origin order', async ctx => {
  for (let seed = 1; seed <= 25; seed++) {
    const rng = seededRng(seed)
    const counts = { a: 1 + Math.floor(rng() * 12), b: 1 + Math.floor(rng() * 12), c: 1 + Math.floor(rng() * 12) }
    const all = Object.entries(counts).flatMap(([o, n]) => Array.from({ length: n }, (_, i) => ev(o, i + 1)))
    // Some events are sent twice (gossip and repair both deliver them).
    const sent = shuffled([...all, ...all.filter(() => rng() < 0.3)], rng)
    const chunks: StoredEvent[][] = []
    for (let i = 0; i < sent.length;) {
      const n = 1 + Math.floor(rng() * 5)
      chunks.push(sent.slice(i, i + n))
      i += n
    }
    const { log } = await openLog(ctx, `db-${seed}`)
    const concurrent = seed % 2 === 0
    const results = concurrent
      ? await Promise.all(chunks.map(async c => await log.append(c)))
      : await chunks.reduce(async (acc, c) => [...await acc, await log.append(c)], Promise.resolve([] as Array<Awaited<ReturnType<EventLog['append']>>>))
    const delivered = results.flatMap(r => r.delivered).sort((x, y) => x.lsn - y.lsn)
    const msg = `seed ${seed}`
    assert.equal(delivered.map(d => d.lsn), Array.from({ length: all.length }, (_, i) => i + 1), msg)
    for (const [o, n] of Object.entries(counts)) {
      assert.equal(delivered.filter(d => d.event.origin === o).map(d => d.event), all.filter(e => e.origin === o), msg)
      assert.is(log.head(o), n, msg)
    }
    assert.equal(log.heads(), counts, msg)
    assert.is(results.reduce((sum, r) => sum + r.duplicates, 0), sent.length - all.length, msg)
    assert.ok(results.every(r => r.conflicts.length === 0), msg)
  }
})

append.run()

// ---------------------------------------------------------------------------------------------------------
const early = suite<Ctx>('event log: early delivery (LSNs handed on before the batch lands)')
withTempDir(early)

/** The real store, whose batches wait at a gate between hold() and release(), and fail as on a full disk while fail(true). */
function gated (store: Store): { store: Store, hold: () => void, release: () => void, fail: (on: boolean) => void, pending: () => number } {
  let gate: Promise<void> | undefined
  let open: (() => void) | undefined
  let full = false
  let pending = 0
  return {
    store: {
      path: store.path,
      created: store.created,
      bucket: name => store.bucket(name),
      batch: async (ops, opts) => {
        pending++
        try {
          if (gate !== undefined) await gate
          if (full) throw toWriteError(new Error('IO error: /db/000005.log: No space left on device'), store.path)
          await store.batch(ops, opts)
        } finally { pending-- }
      },
      snapshot: () => store.snapshot(),
      close: async () => { await store.close() }
    },
    hold: () => { gate = new Promise(resolve => { open = resolve }) },
    release: () => { gate = undefined; open?.() },
    fail: on => { full = on },
    pending: () => pending
  }
}

early('early() gets the deliveries with their LSNs while the batch is still being written; list has them once it lands', async ctx => {
  const { store } = await openLog(ctx)
  const g = gated(store)
  const log = await EventLog.open(g.store)
  await log.append([ev('a', 1)])
  g.hold()
  const seen: Delivered[][] = []
  const appending = log.append([ev('a', 2), ev('b', 1)], { early: d => { seen.push(d); return true } })
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise(resolve => setImmediate(resolve))
  assert.equal(seen.map(ids), [['2:a2', '3:b1']])
  assert.is(g.pending(), 1, 'the batch is held at the gate')
  assert.equal(await log.list({ since: 1, limit: 10 }), { events: [], next: 1 }, 'not in the log before its batch lands')
  g.release()
  assert.equal(ids((await appending).delivered), ['2:a2', '3:b1'])
  const listed = await log.list({ since: 1, limit: 10 })
  assert.ok('events' in listed)
  assert.equal(ids(listed.events), ['2:a2', '3:b1'])
  // Nothing delivered, or a caller that declines: nothing is announced.
  let calls = 0
  await log.append([ev('c', 5)], { early: () => { calls++; return true } })
  assert.is(calls, 0, 'a held event delivers nothing')
})

early('a batch that fails after its LSNs were announced leaves them unused; declined ones are given again', async ctx => {
  const { store } = await openLog(ctx)
  const g = gated(store)
  const log = await EventLog.open(g.store)
  await log.append([ev('a', 1)])
  g.fail(true)
  await expectCode(log.append([ev('a', 2), ev('a', 3)], { early: () => true }), STORE_ERRORS.full)
  await expectCode(log.append([ev('b', 1)], { early: () => false }), STORE_ERRORS.full)
  g.fail(false)
  // a2 and a3 had LSNs 2 and 3, which a subscriber may hold as its cursor: they come back above them.
  assert.equal(ids((await log.append([ev('a', 2), ev('a', 3), ev('b', 1)])).delivered), ['4:a2', '5:a3', '6:b1'])
})

early('after a stop without close() the LSNs resume EARLY_DELIVERY_MAX above the last written; after close() where they were', async ctx => {
  const path = join(ctx.dir, 'db')
  const store = await openStore(path)
  const g = gated(store)
  const log = await EventLog.open(g.store)
  assert.is(log.lastLsn(), 0, 'a new store starts at LSN 1')
  await log.append([ev('a', 1), ev('a', 2)])
  // The process dies while a batch whose LSNs were announced is being written: it never lands.
  g.hold()
  const announced: number[] = []
  void log.append([ev('a', 3)], { early: d => { announced.push(...d.map(x => x.lsn)); return true } }).catch(() => {})
  for (let i = 0; i < 50 && announced.length === 0; i++) await new Promise(resolve => setImmediate(resolve))
  assert.equal(announced, [3])
  await store.close()

  const crashed = await openStore(path)
  const again = await EventLog.open(crashed)
  assert.is(again.head('a'), 2, 'the unwritten batch is not there')
  assert.is(again.lastLsn(), 2 + EARLY_DELIVERY_MAX)
  const r = await again.append([ev('a', 3)])
  assert.equal(ids(r.delivered), [`${3 + EARLY_DELIVERY_MAX}:a3`], 'a3 comes back above the LSN it was announced with')
  await again.close()
  await crashed.close()

  const clean = await openStore(path)
  ctx.open.push(clean)
  const third = await EventLog.open(clean)
  assert.is(third.lastLsn(), 3 + EARLY_DELIVERY_MAX, 'after close() nothing is skipped')
})

early('failed batches cannot pile announced LSNs past EARLY_DELIVERY_MAX above the next LSN on disk', async ctx => {
  const path = join(ctx.dir, 'db')
  const store = await openStore(path)
  const g = gated(store)
  const log = await EventLog.open(g.store)
  await log.append([ev('a', 1)])
  // A full disk: every batch fails. Two groups of this size do not fit in the margin together.
  g.fail(true)
  const size = EARLY_DELIVERY_MAX / 2 + 1
  const announced: number[] = []
  for (let i = 0; i < 3; i++) {
    const group = Array.from({ length: size }, (_, k) => ev(`b${i}`, k + 1))
    await expectCode(log.append(group, { early: d => { announced.push(...d.map(x => x.lsn)); return true } }), STORE_ERRORS.full)
  }
  assert.is(announced.length, size, 'only the first failed group was announced')
  // The process dies; the next open must start above every LSN a subscriber was given.
  await store.close()
  const crashed = await openStore(path)
  ctx.open.push(crashed)
  const again = await EventLog.open(crashed)
  const r = await again.append([ev('c', 1)])
  assert.ok(r.delivered[0]!.lsn > Math.max(...announced), `${r.delivered[0]!.lsn} after ${Math.max(...announced)}`)
})

early.run()

