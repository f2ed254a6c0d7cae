/**
 * KvExports (open kv.export snapshots) over a real LevelDB with a manual clock: pages of one export read one
 * instant; the snapshot is released after the last page, after a failed read, after the idle time, and at stop;
 * at most `maxOpen` are open, and a released export's id is refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '@shoal/core'
import { KvRepository, openStore } from '@shoal/store'
import type { KvSnapshot, Store, StoredKvRecord } from '@shoal/store'
import { KvExports } from '../src/kv/kv-exports.js'

const record = (key: string, wall: number, tombstone = false): StoredKvRecord => ({
  key, tombstone, version: { wall, logical: 0, node: 'n1' }, ...(tombstone ? {} : { value: wall }),
  event: { v: 1, type: tombstone ? 'kv.del' : 'kv.put', topic: 'kv', origin: 'n1', seq: wall, hlc: { wall, logical: 0 }, data: '{}', sig: `s${key}${wall}` }
})

async function setup (): Promise<{ dir: string, store: Store, repo: KvRepository, clock: ManualClock, exports: KvExports, closed: () => number }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-kv-exports-'))
  const store = await openStore(join(dir, 'db'))
  const repo = await KvRepository.open(store)
  await repo.write(['a', 'b', 'c', 'd', 'e'].map((k, i) => ({ record: record(k, i + 1) })))
  const clock = new ManualClock(1_000)
  let closed = 0
  // The real snapshot, counting closes: a leak is a snapshot never closed.
  const snapshot = async (): Promise<KvSnapshot> => {
    const snap = await repo.snapshot()
    const close = snap.close.bind(snap)
    snap.close = async () => { closed++; await close() }
    return snap
  }
  const exports = new KvExports({ clock, snapshot }, { maxOpen: 2, idleMs: 30_000 })
  return { dir, store, repo, clock, exports, closed: () => closed }
}

async function teardown (t: { dir: string, store: Store }): Promise<void> {
  await t.store.close()
  await rm(t.dir, { recursive: true, force: true })
}

test('the pages of one export read one instant (tombstones included) and the last page releases it', async () => {
  const t = await setup()
  try {
    const first = await t.exports.start({ limit: 2 })
    assert.equal(first.records.map(r => r.key), ['a', 'b'])
    assert.ok(first.more)
    // Written after the snapshot: an overwrite, a delete, a new key before the cursor and one after it.
    await t.repo.write([{ record: record('c', 50), previous: record('c', 3) }, { record: record('d', 51, true), previous: record('d', 4) }, { record: record('bb', 52) }, { record: record('z', 53) }])
    const second = await t.exports.page(first.id, { after: 'b', limit: 2 })
    assert.equal(second.records.map(r => `${r.key}@${r.version.wall}`), ['c@3', 'd@4'])
    const third = await t.exports.page(first.id, { after: 'd', limit: 2 })
    assert.equal(third.records.map(r => r.key), ['e'])
    assert.not.ok(third.more)
    assert.equal(third.info, { ...first.info, takenAt: 1_000 })
    assert.is(first.info.maxVersion?.wall, 5)
    assert.equal(t.exports.stats(), { open: 0, released: 1 })
    assert.is(t.closed(), 1, 'the snapshot was closed')
    await t.exports.page(first.id, { after: 'e', limit: 2 }).then(() => assert.unreachable('a finished export is gone'), (err: { code?: string }) => { assert.is(err.code, 'ERR_NOT_FOUND') })

    // A later export sees the tombstone.
    const all = await t.exports.start({ limit: 100 })
    assert.equal(all.records.filter(r => r.tombstone).map(r => r.key), ['d'])
    assert.is(t.closed(), 2)
  } finally {
    await teardown(t)
  }
})

test('an export nobody reads is released after the idle time; at most maxOpen are open; stop releases the rest', async () => {
  const t = await setup()
  try {
    const x = await t.exports.start({ limit: 1 })
    t.clock.advance(20_000)
    const y = await t.exports.start({ limit: 1 })
    await t.exports.start({ limit: 1 }).then(() => assert.unreachable('a third open export'), (err: { code?: string }) => { assert.is(err.code, 'ERR_UNAVAILABLE') })
    t.clock.advance(20_000) // x idle 40 s: released; y idle 20 s, then read (idle timer restarts)
    await t.exports.page(y.id, { after: 'a', limit: 1 })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(t.exports.stats(), { open: 1, released: 1 })
    assert.is(t.closed(), 1)
    await t.exports.page(x.id, { after: 'a', limit: 1 }).then(() => assert.unreachable('an idle-released export is gone'), (err: { code?: string }) => { assert.is(err.code, 'ERR_NOT_FOUND') })
    t.clock.advance(29_000)
    assert.is(t.exports.stats().open, 1, 'read 29 s ago: still open')
    const z = await t.exports.start({ limit: 1 })
    await t.exports.stop()
    assert.equal(t.exports.stats(), { open: 0, released: 3 })
    assert.is(t.closed(), 3)
    await t.exports.page(z.id, { after: 'a', limit: 1 }).then(() => assert.unreachable(), (err: { code?: string }) => { assert.is(err.code, 'ERR_NOT_FOUND') })
    await t.exports.start({ limit: 1 }).then(() => assert.unreachable('started after stop'), (err: { code?: string }) => { assert.is(err.code, 'ERR_UNAVAILABLE') })
  } finally {
    await teardown(t)
  }
})

test('a failed page read releases the export', async () => {
  const t = await setup()
  try {
    const x = await t.exports.start({ limit: 1 })
    // The store's reopen after a failed write (or a close) closes snapshots under the export: the next read fails.
    const snap = (t.exports as unknown as { open: Map<string, { snap: KvSnapshot }> }).open.get(x.id)!.snap
    await (Object.getPrototypeOf(snap) as KvSnapshot).close.call(snap)
    await t.exports.page(x.id, { after: 'a', limit: 1 }).then(() => assert.unreachable('read a closed snapshot'), (err: { code?: string }) => { assert.is(err.code, 'LEVEL_SNAPSHOT_NOT_OPEN') })
    assert.equal(t.exports.stats(), { open: 0, released: 1 })
  } finally {
    await teardown(t)
  }
})

test.run()
