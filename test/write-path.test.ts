/**
 * The one write path (issue "never lose an acknowledged write", fault kinds 1, 3, 6 and 9), each with the fault
 * that broke it injected deterministically into real in-process nodes (real LevelDB, libp2p memory transport):
 * - kind 1: a record that reached a node by anti-entropy or a store push, or sits on its own disk after a
 *   restart, must move its clock: the node's next write of that key wins, however far ahead the record's clock;
 * - kind 3: a node's own event is fsync'd before any peer can see it;
 * - kind 9: a write whose batch fails (a full disk) has no effect here or anywhere, also after a restart;
 * - kind 6: the KV store's own topic cannot be written through the generic events API.
 */
import { test } from 'uvu'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EVENT_WIRE_VERSION, KV_TOPIC, compareVersions, kvEventData } from '@shoal/core'
import type { KvVersion, ShoalEvent } from '@shoal/core'
import { signEvent, verifyEvent } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'
import type { Store } from '@shoal/store'
import { MemorySwarm, hookBatches, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }

/** A kv event signed by another node (C) whose clock runs `aheadMs` in front of ours. */
async function foreignPut (key: string, value: unknown, aheadMs: number): Promise<ShoalEvent> {
  const privateKey = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(privateKey).toString()
  return await signEvent({ v: EVENT_WIRE_VERSION, type: 'kv.put', topic: KV_TOPIC, origin, seq: 1, hlc: { wall: Date.now() + aheadMs, logical: 7 }, data: kvEventData(key, value) }, privateKey)
}

const versionOf = (e: ShoalEvent): KvVersion => ({ wall: e.hlc.wall, logical: e.hlc.logical, node: e.origin })

async function valueOn (node: ShoalNode, key: string): Promise<unknown> {
  return await node.kv.get(key).then(r => r.value, () => undefined)
}

test('kind 1: a write after a record arrived by anti-entropy or a store push wins over it, even from a clock 12 s ahead; from one further ahead than half the drift bound it is refused, not lost', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    const theirs = await foreignPut('k', 'from-c', 12_000)
    // The entry point anti-entropy rounds and store pushes use (kv-sync.ts): no event-log delivery.
    assert.is(await a.kv.applyEvents([theirs]), 1)
    const mine = await a.kv.put('k', 'from-a')
    assert.ok(compareVersions(mine.version, versionOf(theirs)) > 0, `the later write's version ${JSON.stringify(mine.version)} is above ${JSON.stringify(versionOf(theirs))}`)
    assert.is(await valueOn(a, 'k'), 'from-a')
    // A record further ahead than half the drift bound (15 s of the default 30 s) moves the clock as far: a write
    // stamped now would overrule writes made elsewhere in the next 20 s, so it is refused until time catches up.
    assert.is(await a.kv.applyEvents([await foreignPut('far', 'from-c', 20_000)]), 1)
    await a.kv.put('far', 'from-a').then(() => assert.unreachable('a write from a clock 20 s ahead of the swarm was acknowledged'),
      (err: { code?: string, message: string }) => { assert.is(err.code, 'ERR_CLOCK_SKEW'); assert.match(err.message, /hybrid clock is 20\.\d s ahead/) })
    assert.is(await valueOn(a, 'far'), 'from-c')
  } finally {
    await swarm.destroy()
  }
})

test('kind 1: after a restart the clock starts above every version on disk, not only above the node\'s own last event', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    await a.kv.put('own', 1)
    const theirs = await foreignPut('k2', 'from-c', 14_000)
    assert.is(await a.kv.applyEvents([theirs]), 1)
    const again = await swarm.restart(0)
    const mine = await again.kv.put('k2', 'from-a')
    assert.ok(compareVersions(mine.version, versionOf(theirs)) > 0, 'the write after the restart is ordered after the record on disk')
    assert.is(await valueOn(again, 'k2'), 'from-a')
  } finally {
    await swarm.destroy()
  }
})

/** Records every batch a node writes: its event keys, whether it was fsync'd, and when it finished. */
function recordingStore (store: Store, log: Array<{ keys: string[], sync: boolean, doneAt: number }>, fail: { sync: boolean }): Store {
  return hookBatches(store, {
    before: (_ops, opts) => { if (fail.sync && opts?.sync === true) throw Object.assign(new Error('injected: no space left on device'), { code: 'ENOSPC' }) },
    after: (ops, opts) => { log.push({ keys: ops.filter(o => o.bucket === 'events' && o.type === 'put').map(o => o.key), sync: opts?.sync === true, doneAt: performance.now() }) }
  })
}

test('kind 3: an own event is fsync\'d before any peer has it (a machine crash cannot drop a seq that peers hold)', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const batches: Array<{ keys: string[], sync: boolean, doneAt: number }> = []
  try {
    const a = await swarm.add({ bootstrap: null, wrapStore: s => recordingStore(s, batches, { sync: false }) })
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('a and b see each other', () => swarm.counts('alive').every(n => n === 2))
    const seen = new Map<number, number>()
    const stop = b.bus.on('event:delivered', d => { if (d.event.origin === a.peerId && !seen.has(d.event.seq)) seen.set(d.event.seq, performance.now()) })
    const published = await Promise.all(Array.from({ length: 20 }, async (_, i) => await a.events.publish('orders', JSON.stringify({ i }))))
    await waitUntil('b has all 20 events', () => published.every(p => seen.has(p.seq)))
    stop()
    for (const p of published) {
      const key = `${a.peerId}/${String(p.seq).padStart(16, '0')}`
      const first = batches.find(b => b.keys.includes(key))
      assert.ok(first !== undefined, `seq ${p.seq} was written`)
      assert.ok(first.sync, `seq ${p.seq} was first written without fsync`)
      assert.ok(first.doneAt <= seen.get(p.seq)!, `seq ${p.seq} reached the peer before it was durable here`)
    }
  } finally {
    await swarm.destroy()
  }
})

test('kind 3: a node whose db/ was moved aside never signs a seq again: its next event is delivered, not refused as equivocation', async () => {
  const swarm = await MemorySwarm.create({ config: { ...FAST, events: { digestIntervalMs: 300 } } })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('a and b see each other', () => swarm.counts('alive').every(n => n === 2))
    for (let i = 1; i <= 5; i++) await a.events.publish('orders', JSON.stringify({ i }))
    await waitUntil('b has a\'s five events', () => b.events.stats().heads[a.peerId] === 5)
    await a.stop()
    // What an operator does with a damaged store (the store's own error message advises it).
    await rename(join(swarm.dataDir(0), 'db'), join(swarm.dataDir(0), 'db.broken'))
    const again = await swarm.restart(0)
    const next = await again.events.publish('orders', JSON.stringify({ i: 6 }))
    assert.ok(next.seq > 5, `the new log started at seq ${next.seq}, under seqs peers already hold`)
    await waitUntil('b delivered a\'s next event', () => b.events.stats().heads[a.peerId] === next.seq)
    assert.is(b.events.stats().rejected.equivocation, undefined, 'b saw two events under one (origin, seq)')
    const list = await b.events.list({ topic: 'orders', limit: 100 })
    assert.equal(list.events.filter(d => d.event.origin === a.peerId).map(d => JSON.parse(d.event.data).i), [1, 2, 3, 4, 5, 6])
    // A newcomer that asks the origin first hears "compacted below 10 001": it must still get 1..5 from b, who
    // holds them, and skip only the seqs nobody ever signed.
    const c = await swarm.add({ bootstrap: again })
    await waitUntil('c delivered a\'s events', () => c.events.stats().heads[a.peerId] === next.seq)
    const onC = await c.events.list({ topic: 'orders', limit: 100 })
    assert.equal(onC.events.filter(d => d.event.origin === a.peerId).map(d => JSON.parse(d.event.data).i), [1, 2, 3, 4, 5, 6])
  } finally {
    await swarm.destroy()
  }
})

test('a group large enough to be signed on the thread pool keeps seqs contiguous: 100 concurrent publishes, one refused, 99 seqs without a hole, each signature valid at the peer', async () => {
  const swarm = await MemorySwarm.create({ config: { ...FAST, events: { maxPayloadBytes: 1024 } } })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('a and b see each other', () => swarm.counts('alive').every(n => n === 2))
    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, async (_, i) =>
      await a.events.publish('orders', JSON.stringify({ i, pad: i === 37 ? 'x'.repeat(2000) : '' }))))
    const refused = outcomes.flatMap((o, i) => o.status === 'rejected' ? [i] : [])
    assert.equal(refused, [37], 'only the oversized publish is refused')
    const seqs = outcomes.flatMap(o => o.status === 'fulfilled' ? [o.value.seq] : []).sort((x, y) => x - y)
    assert.equal(seqs, Array.from({ length: 99 }, (_, i) => i + 1), 'the 99 accepted events hold seqs 1..99')
    await waitUntil('b delivered all 99', () => b.events.stats().heads[a.peerId] === 99)
    assert.is(Object.values(b.events.stats().rejected).reduce((n, c) => n + (c ?? 0), 0), 0, 'b rejected none of them (a bad signature would be)')
    const listed = await b.events.list({ topic: 'orders', limit: 200 })
    assert.is(listed.events.filter(d => d.event.origin === a.peerId).length, 99)
    for (const d of listed.events) assert.ok(await verifyEvent(d.event), `seq ${d.event.seq} verifies`)
  } finally {
    await swarm.destroy()
  }
})

test('kind 9: a put that fails on a full disk has no effect anywhere, also after the writer restarts', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const fail = { sync: false }
  try {
    const a = await swarm.add({ bootstrap: null, wrapStore: s => recordingStore(s, [], fail) })
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('a and b see each other', () => swarm.counts('alive').every(n => n === 2))
    fail.sync = true
    await a.kv.put('lost', 'must not exist').then(() => assert.unreachable('the put should have failed'), err => { assert.match((err as Error).message, /no space/) })
    fail.sync = false
    // A barrier, not a sleep: b has everything a gossiped before it once it has this later write (per-origin order).
    await a.kv.put('after', 'ok', { acks: 'all' })
    await a.events.publish('barrier', '1')
    await waitUntil('b has the later writes', async () => await valueOn(b, 'after') === 'ok' && b.events.stats().heads[a.peerId] === a.events.stats().heads[a.peerId])
    assert.is(await valueOn(b, 'lost'), undefined, 'the failed put reached a peer')
    assert.is(await valueOn(a, 'lost'), undefined, 'the failed put is visible on its writer')
    const again = await swarm.restart(0, { wrapStore: undefined })
    assert.is(await valueOn(again, 'lost'), undefined, 'the failed put came back after a restart')
    assert.is(await valueOn(again, 'after'), 'ok')
  } finally {
    await swarm.destroy()
  }
})

test('kind 6: the KV store\'s topic is closed to the generic events API (no forged kv.put of _shoal/ records)', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    const forged = kvEventData('_shoal/job/x/final', { state: 'done', result: 42 })
    await a.events.publish(KV_TOPIC, forged, { type: 'kv.put' }).then(() => assert.unreachable('publish on the kv topic should be refused'), err => {
      assert.is((err as { code?: string }).code, 'ERR_INVALID_INPUT')
      assert.match((err as Error).message, /topic "kv"/)
    })
    assert.is(await valueOn(a, '_shoal/job/x/final'), undefined)
    assert.is((await a.kv.record('_shoal/job/x/final')), undefined)
  } finally {
    await swarm.destroy()
  }
})

test.run()
