/** RecentWindow (and its two uses): the in-memory windows subscribers and watchers that keep up are served from. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ShoalEvent } from '@shoal/core'
import type { Delivered, StoredKvRecord } from '@shoal/store'
import { RECENT_DELIVERIES_MAX, RECENT_DELIVERIES_MAX_BYTES, recentDeliveries } from '../src/events/recent-deliveries.js'
import { RecentChanges } from '../src/kv/recent-changes.js'

const d = (lsn: number, topic = 't', data = '1'): Delivered => ({ lsn, event: { topic, seq: lsn, origin: 'o', data } as unknown as ShoalEvent })
const lsns = (r: { items: Delivered[] } | undefined): number[] | undefined => r?.items.map(x => x.lsn)
const onTopic = (topic: string) => (x: Delivered) => x.event.topic === topic

test('serves what follows a cursor inside the window, filtered, up to a limit; nothing before the window', () => {
  const r = recentDeliveries()
  assert.is(r.after(0, 10), undefined, 'empty: read the log')
  r.add([d(5), d(6, 'u'), d(7), d(8)])
  assert.is(r.after(3, 10), undefined, 'the window starts at 5: a cursor at 3 misses 4')
  assert.equal(lsns(r.after(4, 10)), [5, 6, 7, 8])
  assert.equal(r.after(6, 10, onTopic('t')), { items: [d(7), d(8)], next: 8 })
  assert.equal(r.after(4, 2), { items: [d(5), d(6, 'u')], next: 6 })
  assert.equal(r.after(8, 10), { items: [], next: 8 }, 'caught up: nothing new')
  assert.equal(r.after(5, 10, onTopic('u')), { items: [d(6, 'u')], next: 8 })
})

test('bounded by count and by bytes; a gap in numbers restarts the window', () => {
  const r = recentDeliveries()
  r.add(Array.from({ length: RECENT_DELIVERIES_MAX + 10 }, (_, i) => d(i + 1)))
  assert.is(r.after(5, 1), undefined)
  assert.equal(lsns(r.after(10, 1)), [11])
  r.add([d(RECENT_DELIVERIES_MAX + 20)])
  assert.is(r.after(RECENT_DELIVERIES_MAX + 10, 10), undefined, 'after the gap only the new run is kept')
  const big = recentDeliveries()
  const data = 'x'.repeat(1024 * 1024)
  big.add(Array.from({ length: 20 }, (_, i) => d(i + 1, 't', data)))
  const from = Array.from({ length: 21 }, (_, since) => since).find(since => big.after(since, 100) !== undefined)!
  const kept = big.after(from, 100)!.items.length
  assert.ok(kept >= 1 && kept <= RECENT_DELIVERIES_MAX_BYTES / data.length, `kept ${kept} MiB-sized events`)
  assert.ok(big.retained <= 2 * kept + 1, `${big.retained} MiB-sized events still referenced, ${kept} kept`)
  assert.is(big.last, 20)
  assert.ok(r.retained <= 2 * RECENT_DELIVERIES_MAX + 1, `${r.retained} small items referenced`)
})

const rec = (key: string, value: number): { record: StoredKvRecord } => ({ record: { key, value, tombstone: false, event: { data: JSON.stringify({ key, value }) } } as unknown as StoredKvRecord })

test('dropAfter forgets the newest items, down to a number', () => {
  const r = recentDeliveries()
  r.add([d(1), d(2), d(3), d(4)])
  r.dropAfter(2)
  assert.is(r.last, 2)
  assert.equal(lsns(r.after(0, 10)), [1, 2])
  r.add([d(5)])
  assert.is(r.after(0, 10), undefined, 'a gap after the drop restarts the window')
  assert.equal(lsns(r.after(4, 10)), [5])
})

test('KV changes: served by prefix with the record each change stored; the log answers when memory is behind it or compacted', () => {
  const r = new RecentChanges()
  const stats = (lastChange: number, compactedChange = 0) => ({ lastChange, compactedChange })
  assert.is(r.after(0, 10, undefined, stats(0)), undefined, 'nothing in memory: the log')
  r.add([rec('a/1', 1), rec('b/1', 2), rec('a/1', 3)], [{ change: 1, key: 'a/1' }, { change: 2, key: 'b/1' }, { change: 3, key: 'a/1' }])
  const page = r.after(0, 10, 'a/', stats(3))!
  assert.equal(page.items.map(c => [c.change, c.key, (c.record as unknown as { value: number }).value]), [[1, 'a/1', 1], [3, 'a/1', 3]], 'each change with its own record, not the newest')
  assert.is(page.next, 3)
  assert.is(r.after(1, 10, 'b/', stats(3))!.items.length, 1)
  assert.is(r.after(3, 10, undefined, stats(4)), undefined, 'change 4 is in the log but not yet here: the log')
  assert.is(r.after(1, 10, undefined, stats(3, 2)), undefined, 'a cursor below compaction: the log (which says compacted)')
})

test.run()
