/**
 * What `kv.watch` readers see (kv/kv-watch.ts) when they read the change log: a watcher of a narrow prefix far
 * behind gets its changes without waiting for a new one, though the log's pages (CHANGES_SCAN_LIMIT entries at
 * most with a prefix) hold none of them for a long way, and leaves no waiter behind while it reads on; once at the
 * end of the log it waits, without reading the log again and again. A real repository on LevelDB, written
 * directly (no node around it).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { getEventListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHANGES_SCAN_LIMIT, KvRepository, openStore } from '@shoal/store'
import type { StoredKvRecord } from '@shoal/store'
import { KvWatchFeed } from '../src/kv/kv-watch.js'

/** A live record of `key` at wall time `wall` (its event is a stand-in: the repository does not read it). */
function put (key: string, wall: number): StoredKvRecord {
  return {
    key, tombstone: false, version: { wall, logical: 0, node: 'n1' }, value: { wall },
    event: { v: 1, type: 'kv.put', topic: 'kv', origin: 'n1', seq: wall, hlc: { wall, logical: 0 }, data: JSON.stringify({ key, value: { wall } }), sig: `sig-${wall}` }
  }
}

test('a watcher of a narrow prefix far behind gets its change at once, then waits without rereading the log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-kv-watch-'))
  const store = await openStore(join(dir, 'db'))
  const controller = new AbortController()
  try {
    const repo = await KvRepository.open(store)
    const others = CHANGES_SCAN_LIMIT + 500
    for (let from = 0; from < others; from += 2000) {
      await repo.write(Array.from({ length: Math.min(2000, others - from) }, (_, i) => ({ record: put(`other/${from + i}`, from + i + 1) })))
    }
    await repo.write([{ record: put('p/x', others + 1) }])
    let reads = 0
    const counted = { stats: () => repo.stats(), get: async (key: string) => await repo.get(key), changes: async (opts: Parameters<KvRepository['changes']>[0]) => { reads++; return await repo.changes(opts) } }
    const feed = new KvWatchFeed(counted)
    const watch = feed.watch({ prefix: 'p/', since: 0 }, controller.signal)
    // Nothing else is written or told: before the fix the watcher waited after the first page, which matched nothing.
    const first = await Promise.race([watch.next(), new Promise<'stalled'>(resolve => setTimeout(() => resolve('stalled'), 10_000).unref())])
    assert.ok(first !== 'stalled', 'the change under the prefix came within 10 s, with no new change to wake the watcher')
    assert.equal(first.value, { change: others + 1, key: 'p/x', record: put('p/x', others + 1) })
    assert.is(reads, 2, 'one page up to the scan limit, one to the end of the log')
    assert.is(getEventListeners(controller.signal, 'abort').length, 0, 'reading on left no waiter (and its abort listener) behind')
    // At the end of the log it parks on a waiter (whose abort listener shows) and reads nothing more.
    const second = watch.next()
    const deadline = Date.now() + 10_000
    while (getEventListeners(controller.signal, 'abort').length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
    assert.is(getEventListeners(controller.signal, 'abort').length, 1, 'one waiter at the end of the log')
    assert.is(reads, 2, 'no rereading of the log while nothing changes')
    // And it stays parked. An absence cannot be waited for: 100 ms in which a feed that also polled on a timer would read.
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.is(reads, 2, 'still no rereading 100 ms later')
    assert.is(getEventListeners(controller.signal, 'abort').length, 1, 'still the one waiter')
    controller.abort()
    feed.stop()
    assert.is((await second).done, true)
  } finally {
    controller.abort()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
