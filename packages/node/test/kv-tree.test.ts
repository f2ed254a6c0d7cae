/**
 * KvTree.absent over a real LevelDB: it may say "surely absent" only for a key the replica holds no record of
 * (tombstones count as records), through writes, purges, a restart and a leaf cache too small for the store;
 * and a merge then skips the read of such keys, and only of them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock, leafOf, silentLogger } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { KvRepository, openStore } from '@shoal/store'
import type { Store, StoredKvRecord } from '@shoal/store'
import { KvTree } from '../src/kv/kv-tree.js'
import { mergeInto } from '../src/kv/kv-merge.js'
import type { MergedChange } from '../src/kv/kv-merge.js'

const NODE = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

const record = (key: string, wall: number, tombstone = false): StoredKvRecord => ({
  key, tombstone, version: { wall, logical: 0, node: NODE }, ...(tombstone ? {} : { value: wall }),
  event: { v: 1, type: tombstone ? 'kv.del' : 'kv.put', topic: 'kv', origin: NODE, seq: wall, hlc: { wall, logical: 0 }, data: '{}', sig: `s${key}${wall}` }
})

const putEvent = (key: string, wall: number): ShoalEvent => ({
  v: 1, type: 'kv.put', topic: 'kv', origin: NODE, seq: wall, hlc: { wall, logical: 0 }, data: JSON.stringify({ key, value: wall }), sig: `s${key}${wall}`
})

interface Setup { dir: string, store: Store, repo: KvRepository }

async function setup (): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-kv-tree-'))
  const store = await openStore(join(dir, 'db'))
  return { dir, store, repo: await KvRepository.open(store) }
}

async function teardown (t: Setup): Promise<void> {
  await t.store.close()
  await rm(t.dir, { recursive: true, force: true })
}

const treeOf = (repo: KvRepository, maxCachedKeys?: number): KvTree =>
  new KvTree({ repo, clock: new ManualClock(0), logger: silentLogger }, maxCachedKeys)

/** Writes the records as the KV service does: the batch, then the tree hears of it. */
async function write (repo: KvRepository, tree: KvTree, records: StoredKvRecord[]): Promise<void> {
  await repo.write(records.map(r => ({ record: r })))
  tree.changed(records)
}

/** Keys that fall into one leaf (same leafOf), found by search: a small cache then holds few leaves. */
function keysInLeaf (leaf: string, n: number, prefix: string): string[] {
  const out: string[] = []
  for (let i = 0; out.length < n; i++) if (leafOf(`${prefix}${i}`) === leaf) out.push(`${prefix}${i}`)
  return out
}

test('absent: only keys without a record, tombstones and purges included, and again after a restart', async () => {
  const t = await setup()
  try {
    await t.repo.write([{ record: record('a', 1) }, { record: record('gone', 2, true) }])
    const tree = treeOf(t.repo)
    await tree.start()
    assert.is(tree.absent('a'), false)
    assert.is(tree.absent('gone'), false, 'a tombstone is a record: its version must be compared')
    assert.is(tree.absent('new'), true)
    await write(t.repo, tree, [record('new', 3)])
    assert.is(tree.absent('new'), false)
    // A purge removes the record and the key.
    const purged = await t.repo.purge([{ key: 'gone', version: record('gone', 2, true).version }])
    assert.is(purged.purged, 1)
    tree.changed([], ['gone'])
    assert.is(tree.absent('gone'), true)
    // A new tree over the same store (a restart) knows the same.
    const again = treeOf(t.repo)
    await again.start()
    for (const key of ['a', 'new']) assert.is(again.absent(key), false, key)
    for (const key of ['gone', 'never']) assert.is(again.absent(key), true, key)
  } finally {
    await teardown(t)
  }
})

test('absent: a cache too small for the store answers "maybe" for leaves it does not hold, never a wrong "absent"', async () => {
  const t = await setup()
  try {
    // 40 keys in one leaf (more than the cache holds: that leaf alone is never cached) and 5 spread out; the
    // cache holds 20 keys' digests, so nothing is evicted at start.
    const crowded = keysInLeaf(leafOf('x'), 40, 'crowded/')
    const spread = Array.from({ length: 5 }, (_, i) => `spread/${i}`)
    await t.repo.write([...crowded, ...spread].map((k, i) => ({ record: record(k, i + 1) })))
    const tree = treeOf(t.repo, 20)
    await tree.start()
    for (const key of [...crowded, ...spread]) assert.is(tree.absent(key), false, key)
    // Writes after eviction: each key with a record is still "maybe".
    const later = Array.from({ length: 50 }, (_, i) => record(`later/${i}`, 100 + i))
    await write(t.repo, tree, later)
    for (const r of later) assert.is(tree.absent(r.key), false, r.key)
    // Every "absent" answer over a universe of keys is checked against the store itself.
    const universe = [...crowded, ...spread, ...later.map(r => r.key), ...Array.from({ length: 200 }, (_, i) => `other/${i}`)]
    const stored = new Set((await t.repo.byKeys(universe)).map(r => r.key))
    for (const key of universe) if (tree.absent(key)) assert.not.ok(stored.has(key), `${key} said absent but is stored`)
  } finally {
    await teardown(t)
  }
})

test('a merge reads only the keys the tree does not know to be absent, and last writer still wins', async () => {
  const t = await setup()
  try {
    const tree = treeOf(t.repo)
    await tree.start()
    await write(t.repo, tree, [record('old', 50)])
    const asked: string[][] = []
    const byKeys = t.repo.byKeys.bind(t.repo)
    t.repo.byKeys = async (keys: string[]) => { asked.push(keys); return await byKeys(keys) }
    const changes: MergedChange[] = []
    const ctx = { repo: t.repo, limits: { maxKeyBytes: 512, maxValueBytes: 65536 }, horizon: 0, rejected: () => {}, absent: (k: string) => tree.absent(k) }
    // 'old' is stored with a later version: the older write must lose, which needs the read.
    const changed = await mergeInto(changes, new Map(), [putEvent('fresh/1', 10), putEvent('fresh/2', 11), putEvent('old', 40)], ctx)
    assert.equal(asked, [['old']])
    assert.is(changed, 2)
    assert.equal(changes.map(c => c.record.key), ['fresh/1', 'fresh/2'])
    assert.is(changes.every(c => c.previous === undefined), true)
  } finally {
    await teardown(t)
  }
})

test.run()
