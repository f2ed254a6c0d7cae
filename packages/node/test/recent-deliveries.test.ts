/** RecentDeliveries: the in-memory window subscribers that keep up are served from. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ShoalEvent } from '@shoal/core'
import type { Delivered } from '@shoal/store'
import { RECENT_DELIVERIES_MAX, RECENT_DELIVERIES_MAX_BYTES, RecentDeliveries } from '../src/events/recent-deliveries.js'

const d = (lsn: number, topic = 't', data = '1'): Delivered => ({ lsn, event: { topic, seq: lsn, origin: 'o', data } as unknown as ShoalEvent })
const lsns = (r: { events: Delivered[] } | undefined): number[] | undefined => r?.events.map(x => x.lsn)

test('serves what follows a cursor inside the window, by topic, up to a limit; nothing before the window', () => {
  const r = new RecentDeliveries()
  assert.is(r.after(0, 10), undefined, 'empty: read the log')
  r.add([d(5), d(6, 'u'), d(7), d(8)])
  assert.is(r.after(3, 10), undefined, 'the window starts at 5: a cursor at 3 misses 4')
  assert.equal(lsns(r.after(4, 10)), [5, 6, 7, 8])
  assert.equal(r.after(6, 10, 't'), { events: [d(7), d(8)], next: 8 })
  assert.equal(r.after(4, 2), { events: [d(5), d(6, 'u')], next: 6 })
  assert.equal(r.after(8, 10), { events: [], next: 8 }, 'caught up: nothing new')
  assert.equal(r.after(5, 10, 'u'), { events: [d(6, 'u')], next: 8 })
})

test('bounded by count and by bytes; a gap in LSNs restarts the window', () => {
  const r = new RecentDeliveries()
  r.add(Array.from({ length: RECENT_DELIVERIES_MAX + 10 }, (_, i) => d(i + 1)))
  assert.is(r.after(5, 1), undefined)
  assert.equal(lsns(r.after(10, 1)), [11])
  r.add([d(RECENT_DELIVERIES_MAX + 20)])
  assert.is(r.after(RECENT_DELIVERIES_MAX + 10, 10), undefined, 'after the gap only the new run is kept')
  const big = new RecentDeliveries()
  const data = 'x'.repeat(1024 * 1024)
  big.add(Array.from({ length: 20 }, (_, i) => d(i + 1, 't', data)))
  const from = Array.from({ length: 21 }, (_, since) => since).find(since => big.after(since, 100) !== undefined)!
  const kept = big.after(from, 100)!.events.length
  assert.ok(kept >= 1 && kept <= RECENT_DELIVERIES_MAX_BYTES / data.length, `kept ${kept} MiB-sized events`)
  assert.is(big.lastLsn, 20)
})

test.run()
