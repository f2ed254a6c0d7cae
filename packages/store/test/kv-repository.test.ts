/**
 * The KV repository against a real LevelDB: writes and counters, tree nodes, paged reads, restart, purge,
 * concurrent writes and failed batches. The change log has its own suite (kv-changes.test.ts).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BUCKETS, KV_COUNT_KEY, KV_STATE_KEY, LEGACY_KV_STATE_KEYS } from '../src/buckets.js'
import { KvRepository } from '../src/kv-repository.js'
import { LEAF_RUN_SKIP_ENTRIES, leafRunGap, leafRuns, readLeafEntries } from '../src/kv-leaves.js'
import { STORE_ERRORS, toWriteError } from '../src/store.js'
import type { Store, StoreError } from '../src/store.js'
import { expectCode, withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'
import { leafOf, recordDigest } from '@shoal/core'
import { bytesOf, change, del, openKv, put, reopenKv } from './kv-helpers.js'

const keysOf = (rs: Array<{ key: string }>): string[] => rs.map(r => r.key)
async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

// ---------------------------------------------------------------------------------------------------------
const writes = suite<Ctx>('kv repository: writes and counters')
withTempDir(writes)

writes('write, get, overwrite and tombstone keep the counters', async ctx => {
  const { kv } = await openKv(ctx)
  assert.equal(kv.stats(), { keys: 0, tombstones: 0, bytes: 0, lastChange: 0, compactedChange: 0, appliedLsn: 0 })
  assert.is(await kv.get('a'), undefined)
  const a1 = put('a', 1, 'hello')
  const b1 = put('b', 2, { x: [1, 2] })
  assert.equal(await kv.write([change(a1), change(b1)]), [{ change: 1, key: 'a' }, { change: 2, key: 'b' }])
  assert.equal(await kv.get('a'), a1)
  assert.equal(kv.stats(), { keys: 2, tombstones: 0, bytes: bytesOf('hello') + bytesOf({ x: [1, 2] }), lastChange: 2, compactedChange: 0, appliedLsn: 0 })

  const a2 = put('a', 3, 'a much longer value')
  assert.equal(await kv.write([change(a2, a1)]), [{ change: 3, key: 'a' }])
  assert.equal(await kv.get('a'), a2)
  assert.equal(kv.stats().bytes, bytesOf('a much longer value') + bytesOf({ x: [1, 2] }))
  assert.is(kv.stats().keys, 2)

  const a3 = del('a', 4)
  await kv.write([change(a3, a2)])
  assert.equal(await kv.get('a'), a3) // a tombstone is a record
  assert.equal(kv.stats(), { keys: 1, tombstones: 1, bytes: bytesOf({ x: [1, 2] }), lastChange: 4, compactedChange: 0, appliedLsn: 0 })
  const a4 = put('a', 5, null)
  await kv.write([change(a4, a3)], { sync: true, appliedLsn: 17 })
  assert.equal(kv.stats(), { keys: 2, tombstones: 0, bytes: bytesOf(null) + bytesOf({ x: [1, 2] }), lastChange: 5, compactedChange: 0, appliedLsn: 17 })
  assert.equal(await kv.byKeys(['b', 'zz', 'a']), [b1, a4])
})

writes('the applied-LSN marker can be written alone, and an empty write writes nothing', async ctx => {
  const { kv } = await openKv(ctx)
  assert.equal(await kv.write([]), [])
  assert.equal(await kv.write([], { appliedLsn: 9 }), [])
  assert.equal(kv.stats(), { keys: 0, tombstones: 0, bytes: 0, lastChange: 0, compactedChange: 0, appliedLsn: 9 })
})

writes('the leaf index keeps each record\'s digest: what the Merkle tree hashes, read one leaf at a time', async ctx => {
  const { kv } = await openKv(ctx)
  await kv.write([change(put('a', 1)), change(put('b', 2))])
  const digest = (r: ReturnType<typeof put>): string => recordDigest(r.key, r.version, r.event.sig)
  assert.equal(await kv.leafDigests(leafOf('a')), [{ key: 'a', digest: digest(put('a', 1)) }])
  await kv.write([change(del('a', 4), put('a', 1))])
  assert.equal(await kv.leafDigests(leafOf('a')), [{ key: 'a', digest: digest(del('a', 4)) }])
  const all: Array<{ leaf: string, entries: unknown[] }> = []
  for await (const l of kv.allLeaves()) all.push(l)
  assert.equal(all.map(l => l.leaf), [leafOf('a'), leafOf('b')].sort())
  // Listings for anti-entropy carry the version only.
  assert.equal((await kv.leafEntries([leafOf('b')], { limit: 9 })).entries, [{ key: 'b', version: put('b', 2).version }])
})

writes('leaf listings: adjacent leaves read as one run, far ones alone; pages resume exactly; unasked leaves never leak', async ctx => {
  const { kv, store } = await openKv(ctx)
  const keys = Array.from({ length: 600 }, (_, i) => `k${i}`)
  await kv.write(keys.map((k, i) => change(put(k, i + 1))))
  const leaves = [...new Set(keys.map(leafOf))].sort()
  // Every third leaf (runs: neighbours a few leaf numbers apart) plus a far one, asked in shuffled order.
  const asked = leaves.filter((_, i) => i % 3 === 0)
  const expected = keys.filter(k => asked.includes(leafOf(k))).sort((a, b) => leafOf(a) === leafOf(b) ? (a < b ? -1 : 1) : (leafOf(a) < leafOf(b) ? -1 : 1))
  const pages = async (list: typeof kv.leafEntries): Promise<string[]> => {
    const got: string[] = []
    let after: string | undefined
    for (let page = 0; page < 100; page++) {
      const r = await list([...asked].reverse(), { after, limit: 7 })
      got.push(...r.entries.map(e => e.key))
      assert.ok(r.entries.length <= 7)
      if (!r.more) break
      after = r.entries[r.entries.length - 1]!.key
    }
    return got
  }
  // Through the repository (600 records: every asked leaf in one run), then with every leaf read alone, and with
  // runs of a few leaves.
  assert.equal(await pages(async (l, o) => await kv.leafEntries(l, o)), expected)
  for (const gap of [1, 4]) {
    assert.equal(await pages(async (l, o) => await readLeafEntries(store.bucket(BUCKETS.kvLeaf), l, { ...o, gap })), expected, `gap ${gap}`)
  }
})

writes('leaf runs: asked leaves close enough share one range read; how close follows the store\'s size', () => {
  assert.equal(leafRuns(['0001', '0003', '0008', '0009', '000d', '00ff'], 4), [['0001', '0003'], ['0008', '0009', '000d'], ['00ff']])
  assert.equal(leafRuns([], 4), [])
  // About LEAF_RUN_SKIP_ENTRIES records in the skipped leaves: 65,536 leaves, 10,000 records -> 52 leaves apart.
  assert.is(leafRunGap(10_000), Math.floor(LEAF_RUN_SKIP_ENTRIES * 65_536 / 10_000))
  assert.is(leafRunGap(0), LEAF_RUN_SKIP_ENTRIES * 65_536)
  assert.is(leafRunGap(10_000_000), 1)
})

writes('the state is one meta key: a write carries one meta op; a store with the old separate keys is read and migrated', async ctx => {
  const { store, kv } = await openKv(ctx)
  const staged = kv.stage([change(put('a', 1))], { appliedLsn: 7 })
  assert.equal(staged.ops.filter(op => op.bucket === BUCKETS.meta).map(op => op.key), [KV_STATE_KEY])
  await store.batch(staged.ops, { sync: true })
  staged.commit()
  // Nothing changed: no meta op at all...
  assert.equal(kv.stage([], { appliedLsn: 7 }).ops, [])
  // ...but a synced write of nothing still writes a batch, so that LevelDB fsyncs what came before it unsynced.
  const synced: boolean[] = []
  const batch = store.batch.bind(store)
  store.batch = async (ops, opts) => { synced.push(opts?.sync === true && ops.length > 0); await batch(ops, opts) }
  await kv.write([], { appliedLsn: 7, sync: true })
  store.batch = batch
  assert.equal(synced, [true], 'one synced batch with at least one op')

  // An older store: the same state under six keys, no kv-state.
  const meta = store.bucket<unknown>(BUCKETS.meta)
  const old = { 'kv-next-change': 2, 'kv-count': 1, 'kv-tombstones': 0, 'kv-bytes': 3, 'kv-applied-lsn': 7, 'kv-max-version': put('a', 1).version }
  for (const [k, v] of Object.entries(old)) await meta.put(k, v)
  await meta.del(KV_STATE_KEY)
  const { store: s2, kv: legacy } = await reopenKv(ctx, store, kv)
  assert.equal(legacy.stats(), { keys: 1, tombstones: 0, bytes: 3, lastChange: 1, compactedChange: 0, appliedLsn: 7 })
  assert.equal(legacy.highestVersion(), put('a', 1).version)
  await legacy.write([change(put('b', 2))])
  const meta2 = s2.bucket<unknown>(BUCKETS.meta)
  for (const k of LEGACY_KV_STATE_KEYS) assert.is(await meta2.get(k), undefined, `${k} dropped`)
  const { kv: again } = await reopenKv(ctx, s2, legacy)
  assert.equal(again.stats(), { keys: 2, tombstones: 0, bytes: 3 + bytesOf(put('b', 2).value), lastChange: 2, compactedChange: 0, appliedLsn: 7 })
  assert.equal(again.highestVersion(), put('b', 2).version)
})

writes('records the store cannot keep are refused before anything is written', async ctx => {
  const { kv } = await openKv(ctx)
  await expectCode(kv.write([change(put('a', 1)), change(put('', 2))]), STORE_ERRORS.invalid)
  await expectCode(kv.write([change({ ...put('a', 1), value: undefined })]), STORE_ERRORS.invalid)
  await expectCode(kv.write([change({ ...del('a', 1), value: 3 })]), STORE_ERRORS.invalid)
  await expectCode(kv.write([change(put('a', 1), put('b', 0))]), STORE_ERRORS.invalid)
  await expectCode(kv.write([change(put('a', 1))], { appliedLsn: -1 }), STORE_ERRORS.invalid)
  assert.is(await kv.get('a'), undefined)
  assert.equal(kv.stats(), { keys: 0, tombstones: 0, bytes: 0, lastChange: 0, compactedChange: 0, appliedLsn: 0 })
})

writes('a failed batch writes nothing and leaves the counters; a full disk is ERR_STORE_FULL', async ctx => {
  const { store } = await openKv(ctx)
  let fault: 'none' | 'invalid-op' | 'full' = 'none'
  // The real store, except that a batch gets an op the store refuses, or fails as LevelDB does on a full disk.
  const faulty: Store = {
    ...store,
    bucket: store.bucket.bind(store),
    batch: async (ops, opts) => {
      if (fault === 'full') throw toWriteError(new Error('IO error: /db/000005.log: No space left on device'), store.path)
      await store.batch(fault === 'invalid-op' ? [...ops, { bucket: 'nope' as typeof BUCKETS.kv, type: 'put', key: 'k', value: 1 }] : ops, opts)
    }
  }
  const kv = await KvRepository.open(faulty)
  await kv.write([change(put('a', 1))])
  const before = kv.stats()
  fault = 'invalid-op'
  await expectCode(kv.write([change(put('b', 2)), change(put('a', 3), put('a', 1))], { appliedLsn: 5 }), STORE_ERRORS.invalid)
  fault = 'full'
  const r = await Promise.allSettled([kv.write([change(put('c', 4))]), kv.purge([{ key: 'a', version: put('a', 1).version }])])
  assert.is(((r[0] as PromiseRejectedResult).reason as StoreError).code, STORE_ERRORS.full)
  assert.is(r[1].status, 'fulfilled') // 'a' is not a tombstone: stale, nothing to write
  fault = 'none'
  assert.equal(kv.stats(), before)
  assert.is(await kv.get('b'), undefined)
  assert.equal(await kv.get('a'), put('a', 1))
  assert.is((await store.bucket<{ keys: number }>(BUCKETS.meta).get(KV_STATE_KEY))?.keys, 1)
  const changes = await kv.changes({ limit: 10 })
  assert.equal('changes' in changes ? keysOf(changes.changes) : changes, ['a'])
  // The queue keeps going, with the next change number.
  assert.equal(await kv.write([change(put('b', 5))]), [{ change: 2, key: 'b' }])
})

writes('20 concurrent writes get contiguous change numbers and lose no counter update', async ctx => {
  const { store, kv } = await openKv(ctx)
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await kv.write([change(put(`k${String(i).padStart(2, '0')}`, i + 1, 'v'))], { sync: i % 2 === 0 })))
  assert.equal(results.map(r => r[0]?.change), Array.from({ length: 20 }, (_, i) => i + 1)) // call order
  assert.equal(kv.stats(), { keys: 20, tombstones: 0, bytes: 20 * bytesOf('v'), lastChange: 20, compactedChange: 0, appliedLsn: 0 })
  const { kv: again } = await reopenKv(ctx, store, kv)
  assert.equal(again.stats(), kv.stats())
})

// ---------------------------------------------------------------------------------------------------------
const reads = suite<Ctx>('kv repository: list, scan, purge, restart')
withTempDir(reads)

reads('list pages live records by prefix and cursor; tombstones only in scan', async ctx => {
  const { kv } = await openKv(ctx)
  const keys = ['app/1', 'app/2', 'app/3', 'app/4', 'apple', 'b', 'ap', 'app/0']
  await kv.write(keys.map((k, i) => change(put(k, i + 1))))
  await kv.write([change(del('app/2', 20), put('app/2', 2)), change(del('app/0', 21), put('app/0', 8))])
  const all = await kv.list({ limit: 100 })
  assert.equal(keysOf(all.records), ['ap', 'app/1', 'app/3', 'app/4', 'apple', 'b'])
  assert.is(all.next, undefined)
  const p1 = await kv.list({ prefix: 'app/', limit: 2 })
  assert.equal(keysOf(p1.records), ['app/1', 'app/3'])
  assert.is(p1.next, 'app/3')
  const p2 = await kv.list({ prefix: 'app/', after: p1.next, limit: 2 })
  assert.equal(keysOf(p2.records), ['app/4'])
  assert.is(p2.next, undefined)
  assert.equal(keysOf((await kv.list({ prefix: 'app', after: 'a', limit: 9 })).records), ['app/1', 'app/3', 'app/4', 'apple']) // cursor before the prefix
  assert.equal(keysOf((await kv.list({ after: 'app/4', limit: 9 })).records), ['apple', 'b'])
  assert.equal((await kv.list({ prefix: 'zz', limit: 9 })).records, [])
  assert.equal((await kv.list({ prefix: 'app/', after: 'b', limit: 9 })).records, [])

  const s1 = await collect(kv.scan({ limit: 3 }))
  assert.equal(keysOf(s1), ['ap', 'app/0', 'app/1'])
  assert.ok(s1[1]?.tombstone)
  assert.equal(keysOf(await collect(kv.scan({ afterKey: s1.at(-1)?.key }))), ['app/2', 'app/3', 'app/4', 'apple', 'b'])
  assert.equal(keysOf(await collect(kv.scan({ prefix: 'app/' }))), ['app/0', 'app/1', 'app/2', 'app/3', 'app/4'])
  assert.equal(keysOf(await collect(kv.scan({ prefix: 'app/', afterKey: 'app/3' }))), ['app/4'])
  assert.is((await collect(kv.scan())).length, 8)
  let seen = 0
  for await (const _ of kv.scan()) if (++seen === 2) break // stopping early is fine
  assert.is(seen, 2)
  await expectCode(kv.list({ limit: 0 }), STORE_ERRORS.invalid)
})

reads('purge removes tombstones with their leaf entries, and refuses stale ones', async ctx => {
  const { kv } = await openKv(ctx)
  await kv.write([change(del('a', 1)), change(del('b', 2)), change(put('c', 3))])
  assert.equal(kv.stats().tombstones, 2)
  // 'c' is live and 'b' has another version now: nothing is purged.
  const stale = await kv.purge([{ key: 'a', version: del('a', 1).version }, { key: 'b', version: del('b', 9).version }, { key: 'c', version: put('c', 3).version }])
  assert.equal(stale, { purged: 0, stale: ['b', 'c'] })
  assert.ok(await kv.get('a'))
  const r = await kv.purge([{ key: 'a', version: del('a', 1).version }, { key: 'b', version: del('b', 2).version }], { sync: true })
  assert.equal(r, { purged: 2, stale: [] })
  assert.is(await kv.get('a'), undefined)
  assert.equal(keysOf(await collect(kv.scan())), ['c'])
  assert.equal(await kv.leafDigests(leafOf('a')), [])
  assert.equal(kv.stats(), { keys: 1, tombstones: 0, bytes: bytesOf({ n: 3 }), lastChange: 3, compactedChange: 0, appliedLsn: 0 })
  await expectCode(kv.purge([{ key: 'c', version: put('c', 3).version }, { key: 'c', version: put('c', 3).version }]), STORE_ERRORS.invalid)
})

reads('reopen restores counters, leaf digests and changes', async ctx => {
  const { store, kv } = await openKv(ctx)
  await kv.write([change(put('a', 1, 'x')), change(del('b', 2))], { appliedLsn: 42 })
  await kv.compactChanges(1)
  const stats = kv.stats()
  assert.equal(stats, { keys: 1, tombstones: 1, bytes: bytesOf('x'), lastChange: 2, compactedChange: 1, appliedLsn: 42 })
  const { store: store2, kv: again } = await reopenKv(ctx, store, kv)
  assert.equal(again.stats(), stats)
  assert.equal((await again.leafDigests(leafOf('b'))).map(e => e.key), ['b'])
  assert.equal(await again.changes({ since: 1, limit: 9 }), { changes: [{ change: 2, key: 'b', version: del('b', 2).version }], next: 2, more: false })
  assert.equal(await again.write([change(put('c', 3))]), [{ change: 3, key: 'c' }])

  // Counters lost (a store from before KV, or damaged): recounted from the records.
  for (const k of ['kv-count', 'kv-bytes', 'kv-tombstones']) await store2.bucket(BUCKETS.meta).del(k)
  const { kv: recounted } = await reopenKv(ctx, store2, again)
  assert.equal(recounted.stats(), { ...stats, keys: 2, bytes: bytesOf('x') + bytesOf({ n: 3 }), lastChange: 3 })
})

writes.run()
reads.run()
