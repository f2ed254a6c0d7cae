/** The event log's compaction (by count, by age, in batches) and skipTo against a real LevelDB. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { COMPACT_BATCH_EVENTS } from '../src/event-log.js'
import { ev, ids, openLog, withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'

// ---------------------------------------------------------------------------------------------------------
const compaction = suite<Ctx>('event log: compact and skipTo')
withTempDir(compaction)

compaction('compact by count removes the oldest LSNs, sets compactedBelow per origin, keeps held events', async ctx => {
  const { store, log } = await openLog(ctx)
  await log.append([ev('a', 1), ev('b', 1), ev('a', 2), ev('b', 2), ev('a', 3), ev('b', 5)])
  // LSNs: 1 a1, 2 a2, 3 a3, 4 b1, 5 b2 (b5 held)
  assert.equal(await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 1 }), { removed: 4 })
  assert.equal(log.stats(), { events: 1, origins: 2, lastLsn: 5, compactedLsn: 4 })
  assert.equal(await log.range('a', 3, 10, 1 << 20), { compactedBelow: 4 })
  assert.equal(await log.range('b', 1, 10, 1 << 20), { compactedBelow: 2 })
  assert.is(await log.get('a', 3), undefined)
  assert.equal(await log.get('b', 5), ev('b', 5)) // held, not delivered: untouched
  assert.equal(log.heads(), { a: 3, b: 2 }) // contiguous does not go back
  // Everything below compactedBelow is a duplicate now.
  const again = await log.append([ev('a', 2), ev('b', 1, { sig: 'different' })])
  assert.is(again.duplicates, 2)
  // The indexes are gone too, not just the events.
  const keys = async (name: 'event-lsn' | 'event-topic' | 'events'): Promise<number> => { let n = 0; for await (const _ of store.bucket(name).keys()) n++; return n }
  assert.is(await keys('event-lsn'), 1)
  assert.is(await keys('event-topic'), 1)
  assert.is(await keys('events'), 2) // b2 and the held b5
  assert.equal(await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 1 }), { removed: 0 })
})

compaction('compact by age removes from the oldest LSN and stops at the first young one', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([ev('a', 1, { hlc: { wall: 100, logical: 0 } }), ev('a', 2, { hlc: { wall: 200, logical: 0 } }),
    ev('a', 3, { hlc: { wall: 900, logical: 0 } }), ev('a', 4, { hlc: { wall: 150, logical: 0 } })])
  assert.equal(await log.compact({ now: 1000, maxAgeMs: 750, maxEvents: 100 }), { removed: 2 })
  // a4 is old too, but LSN 3 is young: oldest LSNs go first, so a4 waits.
  assert.equal(log.stats(), { events: 2, origins: 1, lastLsn: 4, compactedLsn: 2 })
  assert.equal(await log.range('a', 1, 10, 1 << 20), { compactedBelow: 3 })
  assert.equal(await log.compact({ now: 2000, maxAgeMs: 750, maxEvents: 100 }), { removed: 2 })
  assert.equal(log.stats(), { events: 0, origins: 1, lastLsn: 4, compactedLsn: 4 })
  assert.equal(await log.list({ since: 4, limit: 10 }), { events: [], next: 4 })
})

compaction(`compact beyond one batch (${COMPACT_BATCH_EVENTS} events) removes all it should`, async ctx => {
  const { log } = await openLog(ctx)
  const n = COMPACT_BATCH_EVENTS * 2 + 500
  await log.append(Array.from({ length: n }, (_, i) => ev(i % 2 === 0 ? 'a' : 'b', Math.floor(i / 2) + 1)))
  assert.equal(await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 100 }), { removed: n - 100 })
  assert.equal(log.stats(), { events: 100, origins: 2, lastLsn: n, compactedLsn: n - 100 })
  const rest = await log.list({ since: n - 100, limit: 1000 })
  assert.ok('events' in rest)
  assert.is(rest.events.length, 100)
})

compaction('skipTo: skips a compacted gap and delivers what is held past it', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([ev('a', 1), ev('a', 2), ev('a', 6), ev('a', 7), ev('a', 9)])
  assert.equal(ids(await log.skipTo('a', 6)), ['3:a6', '4:a7'])
  assert.is(log.head('a'), 7)
  assert.equal(await log.range('a', 5, 10, 1 << 20), { compactedBelow: 6 })
  const late = await log.append([ev('a', 4), ev('a', 8)])
  assert.is(late.duplicates, 1) // a4 is below compactedBelow
  assert.equal(ids(late.delivered), ['5:a8', '6:a9'])
  // A skip below what is already contiguous changes nothing.
  assert.equal(await log.skipTo('a', 3), [])
  assert.is(log.head('a'), 9)
  // An unknown origin: the head starts past the gap.
  assert.equal(await log.skipTo('z', 10), [])
  assert.equal(log.heads(), { a: 9, z: 9 })
})

compaction('skipTo: held events inside the skipped gap are delivered first, in seq order', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([ev('a', 5), ev('a', 3), ev('a', 8), ev('a', 9)])
  assert.equal(ids(await log.skipTo('a', 8)), ['1:a3', '2:a5', '3:a8', '4:a9'])
  assert.equal(log.stats(), { events: 4, origins: 1, lastLsn: 4, compactedLsn: 0 })
  // Compacting them later keeps compactedBelow where skipTo put it.
  await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 2 })
  assert.equal(await log.range('a', 7, 10, 1 << 20), { compactedBelow: 8 })
})

compaction('range after several skips: `compacted` names the next held seq, never past events the log holds', async ctx => {
  // An origin whose log was lost three times: epochs at 1, 10001, 20001 and 30001. This log got 1-3, skipped to
  // the second epoch (on its first event), held 10001-10002, then skipped to the third and the fourth.
  const { log } = await openLog(ctx)
  await log.append([ev('a', 1), ev('a', 2), ev('a', 3)])
  await log.skipTo('a', 10001)
  await log.append([ev('a', 10001), ev('a', 10002)])
  await log.skipTo('a', 20001)
  await log.append([ev('a', 20001)])
  await log.skipTo('a', 30001)
  await log.append([ev('a', 30001)])
  // A reader at 4 (it had 1-3) may skip to 10001, the next event held here, not to 30001 (that lost 10001-20001).
  assert.equal(await log.range('a', 4, 10, 1 << 20), { compactedBelow: 10001 })
  assert.equal((await log.range('a', 10001, 10, 1 << 20) as { events: unknown[] }).events.length, 2)
  assert.equal(await log.range('a', 10003, 10, 1 << 20), { compactedBelow: 20001 })
  assert.equal(await log.range('a', 20002, 10, 1 << 20), { compactedBelow: 30001 })
})

compaction.run()
