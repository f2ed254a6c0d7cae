/** The KV repository's local change log: cursor paging, prefix filtering, compaction and the compacted answer. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { STORE_ERRORS } from '../src/store.js'
import { EARLY_CHANGES_MAX } from '../src/kv-repository.js'
import { CHANGES_SCAN_LIMIT } from '../src/kv-reads.js'
import type { KvChangesResult } from '../src/kv-reads.js'
import { expectCode, withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'
import { change, del, openKv, put, reopenKv } from './kv-helpers.js'

/** `change:key` of a page, or the compacted answer as a string. */
function ids (r: KvChangesResult): string[] | string {
  return 'changes' in r ? r.changes.map(c => `${c.change}:${c.key}`) : `compacted ${r.compactedChange}`
}

const changes = suite<Ctx>('kv repository: change log')
withTempDir(changes)

changes('changes page by cursor, filter by prefix, and carry versions', async ctx => {
  const { kv } = await openKv(ctx)
  await kv.write([change(put('a/1', 1)), change(put('b/1', 2)), change(put('a/2', 3))])
  await kv.write([change(del('a/1', 4), put('a/1', 1)), change(put('b/2', 5))])
  const p1 = await kv.changes({ limit: 2 })
  assert.equal(ids(p1), ['1:a/1', '2:b/1'])
  assert.is('changes' in p1 && p1.more, true, 'a full page: read again')
  assert.equal('changes' in p1 && p1.changes[0]?.version, { wall: 1, logical: 0, node: 'n1' })
  assert.is('changes' in p1 && p1.next, 2)
  const p2 = await kv.changes({ since: 2, limit: 10 })
  assert.equal(ids(p2), ['3:a/2', '4:a/1', '5:b/2'])
  assert.is('changes' in p2 && p2.more, false, 'the end of the log')
  assert.is('changes' in p2 && p2.next, 5)
  const empty = await kv.changes({ since: 5, limit: 10 })
  assert.equal(empty, { changes: [], next: 5, more: false })
  // With a prefix, `next` moves past what was looked at, matched or not.
  const a = await kv.changes({ prefix: 'a/', limit: 2 })
  assert.equal(ids(a), ['1:a/1', '3:a/2'])
  assert.is('changes' in a && a.next, 3)
  const a2 = await kv.changes({ prefix: 'a/', since: 3, limit: 2 })
  assert.equal(ids(a2), ['4:a/1'])
  assert.is('changes' in a2 && a2.next, 5)
  await expectCode(kv.changes({ since: -1, limit: 2 }), STORE_ERRORS.invalid)
  await expectCode(kv.changes({ limit: 0 }), STORE_ERRORS.invalid)
})

changes('with a prefix, a page stops after CHANGES_SCAN_LIMIT entries and says more follow, though none matched', async ctx => {
  const { kv } = await openKv(ctx)
  for (let from = 0; from < CHANGES_SCAN_LIMIT + 10; from += 2000) {
    await kv.write(Array.from({ length: Math.min(2000, CHANGES_SCAN_LIMIT + 10 - from) }, (_, i) => change(put(`other/${from + i}`, from + i + 1))))
  }
  await kv.write([change(put('p/x', CHANGES_SCAN_LIMIT + 11))])
  const first = await kv.changes({ prefix: 'p/', limit: 100 })
  assert.equal(first, { changes: [], next: CHANGES_SCAN_LIMIT, more: true })
  const second = await kv.changes({ prefix: 'p/', since: CHANGES_SCAN_LIMIT, limit: 100 })
  assert.equal(ids(second), [`${CHANGES_SCAN_LIMIT + 11}:p/x`])
  assert.is('changes' in second && second.more, false)
})

changes('compaction keeps the newest entries; an older cursor gets compactedChange', async ctx => {
  const { store, kv } = await openKv(ctx)
  await kv.write(Array.from({ length: 10 }, (_, i) => change(put(`k${i}`, i + 1))))
  assert.equal(await kv.compactChanges(20), { removed: 0 })
  assert.equal(await kv.compactChanges(4), { removed: 6 })
  assert.equal(await kv.compactChanges(4), { removed: 0 })
  assert.equal(kv.stats().compactedChange, 6)
  assert.equal(ids(await kv.changes({ since: 5, limit: 9 })), 'compacted 6')
  assert.equal(ids(await kv.changes({ limit: 9 })), 'compacted 6')
  assert.equal(ids(await kv.changes({ since: 6, limit: 9 })), ['7:k6', '8:k7', '9:k8', '10:k9'])
  assert.equal(await kv.get('k0'), put('k0', 1)) // records stay
  assert.equal(await kv.compactChanges(0), { removed: 4 })
  assert.equal(await kv.changes({ since: 10, limit: 9 }), { changes: [], next: 10, more: false })
  const { kv: again } = await reopenKv(ctx, store, kv)
  assert.equal(again.stats().compactedChange, 10)
  assert.equal(again.stats().lastChange, 10)
  assert.equal(await again.write([change(put('z', 11))]), [{ change: 11, key: 'z' }])
})

changes('compaction removes more than one batch, and writes run in between', async ctx => {
  const { kv } = await openKv(ctx)
  const n = 2500
  for (let i = 0; i < n; i += 500) await kv.write(Array.from({ length: 500 }, (_, j) => change(put(`k${i + j}`, i + j + 1))))
  const [compacted, written] = await Promise.all([kv.compactChanges(100), kv.write([change(put('late', n + 1))])])
  assert.equal(written, [{ change: n + 1, key: 'late' }])
  // The write may land between batches, so one more entry may have gone.
  assert.ok(compacted.removed === n - 100 || compacted.removed === n + 1 - 100, String(compacted.removed))
  const r = await kv.changes({ since: kv.stats().compactedChange, limit: 1000 })
  assert.is('changes' in r && r.changes.length, n + 1 - kv.stats().compactedChange)
})

changes('numbers of an abandoned stage stay unused; after a stop without close() they resume EARLY_CHANGES_MAX above the last written', async ctx => {
  const { store, kv } = await openKv(ctx)
  assert.is(kv.stats().lastChange, 0, 'a new store starts at change 1')
  await kv.write([change(put('a', 1))])
  // A stage whose numbers were handed on (early), then its batch failed.
  const staged = kv.stage([change(put('b', 2)), change(put('c', 3))])
  assert.equal(staged.written, [{ change: 2, key: 'b' }, { change: 3, key: 'c' }])
  staged.abandon()
  assert.equal(await kv.write([change(put('b', 2))]), [{ change: 4, key: 'b' }], 'b comes back above the numbers it was announced with')
  // Clean stop: the numbers continue where they were, including those left unused.
  const { store: s2, kv: clean } = await reopenKv(ctx, store, kv)
  assert.is(clean.stats().lastChange, 4)
  assert.equal(await clean.write([change(put('d', 5))]), [{ change: 5, key: 'd' }])
  // Crash: a stage announced change 6 and its batch never landed.
  assert.equal(clean.stage([change(put('e', 6))]).written, [{ change: 6, key: 'e' }])
  const { store: s3, kv: crashed } = await reopenKv(ctx, s2)
  assert.is(crashed.stats().lastChange, 5 + EARLY_CHANGES_MAX)
  assert.equal(await crashed.write([change(put('e', 6))]), [{ change: 6 + EARLY_CHANGES_MAX, key: 'e' }])
  assert.equal(ids(await crashed.changes({ since: 4, limit: 10 })), ['5:d', `${6 + EARLY_CHANGES_MAX}:e`], 'the log has a gap, no reuse')
  // The marker is gone once read: a second crash skips again.
  const { kv: twice } = await reopenKv(ctx, s3)
  assert.is(twice.stats().lastChange, 6 + 2 * EARLY_CHANGES_MAX)
})

changes('failed stages cannot pile handed-on numbers past EARLY_CHANGES_MAX above the number on disk', async ctx => {
  const { store, kv } = await openKv(ctx)
  await kv.write([change(put('a', 1))])
  assert.is(kv.earlyRoom(), EARLY_CHANGES_MAX)
  const many = (n: number, from: number): ReturnType<typeof change>[] => Array.from({ length: n }, (_, i) => change(put(`k${from + i}`, from + i + 2)))
  kv.stage(many(600, 0)).abandon()
  assert.is(kv.earlyRoom(), EARLY_CHANGES_MAX - 600, 'abandoned numbers use up the room')
  await kv.write([change(put('b', 5000))])
  assert.is(kv.earlyRoom(), EARLY_CHANGES_MAX, 'a batch that lands records the next number and gives the room back')
  const abandoned = kv.stage(many(1000, 700))
  abandoned.abandon()
  assert.is(kv.earlyRoom(), EARLY_CHANGES_MAX - 1000)
  const { kv: crashed } = await reopenKv(ctx, store)
  assert.ok(crashed.stats().lastChange >= abandoned.written.at(-1)!.change, 'a restart after a crash starts above every number handed on')
  assert.is(crashed.earlyRoom(), 0, 'and hands none on before a batch lands')
})

changes.run()
