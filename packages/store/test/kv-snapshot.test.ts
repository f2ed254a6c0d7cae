/**
 * KV snapshots (Store.snapshot / KvRepository.snapshot) against a real LevelDB: a snapshot reads the replica
 * of its instant (records, tombstones, counters) whatever is written, overwritten, deleted or purged after it,
 * a write batch is never half in it, and a closed snapshot reads nothing.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BUCKETS } from '../src/buckets.js'
import { withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'
import { change, del, openKv, put } from './kv-helpers.js'
import type { StoredKvRecord } from '../src/kv-records.js'

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
const brief = (rs: StoredKvRecord[]): string[] => rs.map(r => `${r.key}@${r.version.wall}${r.tombstone ? '-' : ''}`)

const snapshots = suite<Ctx>('kv repository: snapshots')
withTempDir(snapshots)

snapshots('a snapshot reads the replica of its instant, tombstones and counters included, whatever is written after', async ctx => {
  const { kv } = await openKv(ctx)
  await kv.write([change(put('a', 1)), change(put('b', 2)), change(put('c', 3))], { appliedLsn: 7 })
  await kv.write([change(del('b', 4), put('b', 2))], { appliedLsn: 8 })
  const snap = await kv.snapshot()
  try {
    // After the snapshot: an overwrite, a delete, a new key, a purge of the tombstone, a higher applied LSN.
    await kv.write([change(put('a', 10), put('a', 1)), change(del('c', 11), put('c', 3)), change(put('d', 12))], { appliedLsn: 20 })
    assert.equal((await kv.purge([{ key: 'b', version: del('b', 4).version }])).purged, 1)
    assert.equal(brief(await collect(kv.scan())), ['a@10', 'c@11-', 'd@12'], 'the live replica moved on')

    assert.equal(brief(await collect(snap.scan())), ['a@1', 'b@4-', 'c@3'], 'the snapshot did not')
    assert.equal(snap.info, { appliedLsn: 8, keys: 2, tombstones: 1, lastChange: 4, maxVersion: { wall: 4, logical: 0, node: 'n1' } })
    // Paging through the snapshot (after / limit / prefix) reads the same instant.
    assert.equal(brief(await collect(snap.scan({ afterKey: 'a', limit: 1 }))), ['b@4-'])
    assert.equal(brief(await collect(snap.scan({ prefix: 'c' }))), ['c@3'])
  } finally {
    await snap.close()
  }
})

snapshots('a batch written while snapshots are taken is in a snapshot whole or not at all', async ctx => {
  const { kv } = await openKv(ctx)
  // Each batch moves keys x and y to the same version: a snapshot holding two different versions saw half a batch.
  const writer = (async () => {
    for (let n = 1; n <= 200; n++) {
      const prev = n === 1 ? undefined : n - 1
      await kv.write([change(put('x', n), prev === undefined ? undefined : put('x', prev)), change(put('y', n), prev === undefined ? undefined : put('y', prev))])
    }
  })()
  let seen = 0
  while (seen < 50) {
    const snap = await kv.snapshot()
    try {
      const rs = await collect(snap.scan())
      if (rs.length === 2) {
        assert.is(rs[0]!.version.wall, rs[1]!.version.wall, `x and y in one snapshot: ${brief(rs).join(' ')}`)
        assert.is(snap.info.maxVersion?.wall, rs[0]!.version.wall, 'the counters are of the same instant as the records')
        seen++
      }
    } finally {
      await snap.close()
    }
    await new Promise(resolve => setImmediate(resolve))
  }
  await writer
})

snapshots('a closed snapshot reads nothing; closing twice is allowed; the store closes open snapshots', async ctx => {
  const { store, kv } = await openKv(ctx)
  await kv.write([change(put('a', 1))])
  const snap = await kv.snapshot()
  await snap.close()
  await snap.close()
  let failed: unknown
  try { await collect(snap.scan()) } catch (err) { failed = err }
  assert.is((failed as { code?: string })?.code, 'LEVEL_SNAPSHOT_NOT_OPEN')

  const raw = store.snapshot()
  assert.equal(await raw.bucket<StoredKvRecord>(BUCKETS.kv).get('a').then(r => r?.version.wall), 1)
  await store.close()
  ctx.open.splice(ctx.open.indexOf(store), 1)
  failed = undefined
  try { await raw.bucket(BUCKETS.kv).get('a') } catch (err) { failed = err }
  assert.ok(failed !== undefined, 'reads through a snapshot of a closed store fail')
})

snapshots.run()
