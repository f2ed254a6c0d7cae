/** The event log's reads against a real LevelDB: range() for the repair protocol, list() cursors. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ev, ids, openLog, withTempDir } from './event-log-helpers.js'
import type { Ctx } from './event-log-helpers.js'

// ---------------------------------------------------------------------------------------------------------
const reads = suite<Ctx>('event log: range and list')
withTempDir(reads)

reads('range: boundaries, limit, more, a gap, and an unknown origin', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([1, 2, 3, 4, 6, 7].map(s => ev('a', s)))
  assert.equal(await log.range('a', 1, 10, 1 << 20), { events: [1, 2, 3, 4].map(s => ev('a', s)), more: false })
  assert.equal(await log.range('a', 1, 2, 1 << 20), { events: [ev('a', 1), ev('a', 2)], more: true })
  assert.equal(await log.range('a', 3, 2, 1 << 20), { events: [ev('a', 3), ev('a', 4)], more: false }) // 5 is missing
  assert.equal(await log.range('a', 4, 1, 1 << 20), { events: [ev('a', 4)], more: false })
  // Held but not contiguous events are served too.
  assert.equal(await log.range('a', 6, 10, 1 << 20), { events: [ev('a', 6), ev('a', 7)], more: false })
  assert.equal(await log.range('a', 5, 10, 1 << 20), { events: [], more: false })
  assert.equal(await log.range('a', 8, 10, 1 << 20), { events: [], more: false })
  assert.equal(await log.range('a', 0, 1, 1 << 20), { events: [ev('a', 1)], more: true })
  assert.equal(await log.range('nobody', 1, 10, 1 << 20), { events: [], more: false })
  assert.equal(await log.range('a', 1, 0, 1 << 20), { events: [], more: true })
})

reads('range: maxBytes stops before the size would pass it, but always returns one', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([1, 2, 3].map(s => ev('a', s)))
  const size = Buffer.byteLength(JSON.stringify(ev('a', 1)))
  assert.equal(await log.range('a', 1, 10, 1), { events: [ev('a', 1)], more: true })
  assert.equal(await log.range('a', 1, 10, 2 * size), { events: [ev('a', 1), ev('a', 2)], more: true })
  assert.equal(await log.range('a', 1, 10, 2 * size - 1), { events: [ev('a', 1)], more: true })
  assert.equal(await log.range('a', 1, 10, 3 * size), { events: [1, 2, 3].map(s => ev('a', s)), more: false })
})

reads('range: below compactedBelow answers { compactedBelow }', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([1, 2, 3].map(s => ev('a', s)))
  await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 1 })
  assert.equal(await log.range('a', 1, 10, 1 << 20), { compactedBelow: 3 })
  assert.equal(await log.range('a', 2, 10, 1 << 20), { compactedBelow: 3 })
  assert.equal(await log.range('a', 3, 10, 1 << 20), { events: [ev('a', 3)], more: false })
})

reads('list: all topics and one topic, paged through next', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([ev('a', 1), ev('a', 2, { topic: 'sport' }), ev('b', 1), ev('b', 2, { topic: 'sport' }), ev('a', 3)])
  // LSNs: 1 a1, 2 a2, 3 a3, 4 b1, 5 b2
  const all = await log.list({ limit: 10 })
  assert.ok('events' in all)
  assert.equal(ids(all.events), ['1:a1', '2:a2', '3:a3', '4:b1', '5:b2'])
  assert.is(all.next, 5)
  const page1 = await log.list({ limit: 2 })
  assert.ok('events' in page1)
  assert.equal(ids(page1.events), ['1:a1', '2:a2'])
  const page2 = await log.list({ since: page1.next, limit: 2 })
  assert.ok('events' in page2)
  assert.equal(ids(page2.events), ['3:a3', '4:b1'])
  const page3 = await log.list({ since: page2.next, limit: 2 })
  assert.equal(page3, { events: [{ lsn: 5, event: ev('b', 2, { topic: 'sport' }) }], next: 5 })
  assert.equal(await log.list({ since: 5, limit: 2 }), { events: [], next: 5 }) // nothing new: the cursor stays
  assert.equal(await log.list({ since: 50, limit: 2 }), { events: [], next: 50 })

  const sport = await log.list({ topic: 'sport', limit: 1 })
  assert.ok('events' in sport)
  assert.equal(ids(sport.events), ['2:a2'])
  const sport2 = await log.list({ topic: 'sport', since: sport.next, limit: 5 })
  assert.ok('events' in sport2)
  assert.equal(ids(sport2.events), ['5:b2'])
  assert.equal(await log.list({ topic: 'spor', limit: 5 }), { events: [], next: 0 }) // a prefix is another topic
  assert.equal(await log.list({ topic: 'news', since: 1, limit: 5 }).then(r => 'events' in r ? ids(r.events) : r), ['3:a3', '4:b1'])
})

reads('list: a cursor below compactedLsn answers { compactedLsn }; at it, it resumes', async ctx => {
  const { log } = await openLog(ctx)
  await log.append([1, 2, 3, 4].map(s => ev('a', s)))
  assert.equal(await log.compact({ now: 0, maxAgeMs: Infinity, maxEvents: 2 }), { removed: 2 })
  assert.equal(await log.list({ limit: 10 }), { compactedLsn: 2 })
  assert.equal(await log.list({ since: 1, limit: 10, topic: 'news' }), { compactedLsn: 2 })
  assert.equal(await log.list({ since: 2, limit: 10 }), { events: [{ lsn: 3, event: ev('a', 3) }, { lsn: 4, event: ev('a', 4) }], next: 4 })
})

reads.run()

