/**
 * What receiving gossip costs a node (issue "hot paths"), counted on five in-process nodes (real libp2p over the
 * memory transport, real LevelDB):
 * - verify once: gossipsub itself verifies nothing (the gossip wire is unsigned, decisions/0010): the only
 *   signature a receiver checks is the event's own, once per event, since copies from other mesh peers are
 *   dropped by content id before validation. Every Ed25519 verify through the public-key class gossipsub uses is
 *   counted (before the unsigned wire: one per message received);
 * - group commit on receivers: a burst of gossiped events is appended in a few LevelDB batches, not one each
 *   (counted through a wrapped store);
 * - follow from memory: a subscriber that keeps up is served its events without LevelDB reads;
 * - early delivery: a subscriber gets a gossiped event while the receiver's append of it is still being written
 *   (held at a gate in a wrapped store), under the LSN the log then stores it with; a KV watcher gets a gossiped
 *   write's change too, while `kv.get` of that key waits for the batch; what the receiver writes on being told is
 *   stamped after what it was told of (the writer's clock 2 s ahead); if the batch fails, neither the watcher's
 *   change number nor the subscriber's LSN is reused or served again, and the write comes back by repair later.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { KV_TOPIC } from '@shoal/core'
import type { Clock } from '@shoal/core'
import { swarmProtocols } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'
import type { Store } from '@shoal/store'
import { MemorySwarm, hookBatches, skewedClock, waitUntil } from '@shoal/test-utils'

/** An event's HLC time. */
interface Stamp { wall: number, logical: number }
const laterStamp = (a: Stamp, b: Stamp): boolean => a.wall > b.wall || (a.wall === b.wall && a.logical > b.logical)

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 }, events: { digestIntervalMs: 60_000 } }
const NODES = 5
/** What the gossipsub class has beyond the PubSub interface it is typed as. */
interface Mesh { getMeshPeers: (topic: string) => string[] }
const EVENTS = 20

/** Two nodes, the second's store wrapped, alive to each other and meshed on the events topic; `clock` is the first's. */
async function meshedPair (swarm: MemorySwarm, wrapStore: (store: Store) => Store, clock?: Clock): Promise<{ first: ShoalNode, receiver: ShoalNode }> {
  const first = await swarm.add({ bootstrap: null, ...(clock !== undefined ? { clock } : {}) })
  const receiver = await swarm.add({ bootstrap: first, wrapStore })
  await waitUntil('both alive', () => swarm.counts('alive').every(n => n === 2))
  const eventsTopic = swarmProtocols('default').topics.events
  await waitUntil('meshed on the events topic', () => (first.libp2p.services.pubsub as unknown as Mesh).getMeshPeers(eventsTopic).length === 1)
  return { first, receiver }
}

test('gossipsub verifies no signature on the events topic, however many mesh peers forward a message', async () => {
  const topic = Buffer.from(swarmProtocols('default').topics.events)
  const proto = Object.getPrototypeOf((await generateKeyPair('Ed25519')).publicKey) as { verify: (data: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean> }
  const original = proto.verify
  let verifies = 0
  let counting = false
  const contains = (data: Uint8Array, part: Buffer): boolean => Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(part)
  proto.verify = function (this: unknown, data: Uint8Array, sig: Uint8Array) {
    if (counting && contains(data, topic)) verifies++
    return original.call(this, data, sig)
  }
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const first = await swarm.add({ bootstrap: null })
    for (let i = 1; i < NODES; i++) await swarm.add({ bootstrap: first })
    await waitUntil('all alive everywhere', () => swarm.counts('alive').every(n => n === NODES))
    const eventsTopic = swarmProtocols('default').topics.events
    await waitUntil('every node meshed with every other on the events topic', () =>
      swarm.nodes.every(n => (n.libp2p.services.pubsub as unknown as Mesh).getMeshPeers(eventsTopic).length === NODES - 1), { timeoutMs: 20_000 })
    const heads = (): number[] => swarm.nodes.map(n => n.events.stats().heads[first.peerId] ?? 0)
    counting = true
    for (let i = 0; i < EVENTS; i++) await first.events.publish('t', String(i))
    await waitUntil('every event on every node', () => heads().every(h => h === EVENTS))
    // Late copies still in flight from the other mesh members: an earlier build verified some of those again.
    await new Promise(resolve => setTimeout(resolve, 500))
    counting = false
    assert.is(verifies, 0, `${verifies} gossipsub signature verifies for ${EVENTS} events on ${NODES - 1} receivers`)
    const received = swarm.nodes.slice(1).reduce((n, node) => n + node.events.stats().received, 0)
    assert.ok(received >= EVENTS * (NODES - 1) * 0.9, `the events came by gossip (${received} received), so the counter had messages to see`)
    // The hook is live: a verify through the same class, of bytes holding the topic, is counted.
    const control = await generateKeyPair('Ed25519')
    counting = true
    await control.publicKey.verify(topic, await control.sign(topic))
    counting = false
    assert.is(verifies, 1, 'the counter sees a verify through gossipsub\'s key class')
  } finally {
    proto.verify = original
    await swarm.destroy()
  }
})

test('a burst of gossiped events is appended in groups on each receiver, not one batch per event', async () => {
  const BURST = 300
  let counting = false
  let batches = 0
  const counted = (store: Store): Store => hookBatches(store, { after: () => { if (counting) batches++ } })
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const { first, receiver } = await meshedPair(swarm, counted)
    counting = true
    await Promise.all(Array.from({ length: BURST }, async (_, i) => await first.events.publish('t', String(i))))
    await waitUntil('the burst on the receiver', () => (receiver.events.stats().heads[first.peerId] ?? 0) === BURST)
    counting = false
    const received = receiver.events.stats().received
    assert.ok(received >= BURST * 0.9, `${received} of ${BURST} came by gossip`)
    assert.ok(batches <= BURST / 4, `${batches} LevelDB batches on the receiver for a burst of ${BURST} gossiped events`)
  } finally {
    await swarm.destroy()
  }
})

test('a subscriber that keeps up is served from memory: no LevelDB iterator or get per delivered event', async () => {
  const EVENTS = 200
  let reads = 0
  let counting = false
  const counted = (store: Store): Store => ({
    get path () { return store.path },
    get created () { return store.created },
    bucket: <V>(name: Parameters<Store['bucket']>[0]) => {
      const handle = store.bucket<V>(name)
      return {
        get: async (key: string) => { if (counting) reads++; return await handle.get(key) },
        getMany: async (keys: string[]) => { if (counting) reads++; return await handle.getMany(keys) },
        put: handle.put.bind(handle),
        del: handle.del.bind(handle),
        entries: (opts?: Parameters<typeof handle.entries>[0]) => { if (counting) reads++; return handle.entries(opts) },
        keys: (opts?: Parameters<typeof handle.keys>[0]) => { if (counting) reads++; return handle.keys(opts) }
      }
    },
    batch: async (ops, opts) => { await store.batch(ops, opts) },
    snapshot: () => store.snapshot(),
    close: async () => { await store.close() }
  })
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const node = await swarm.add({ bootstrap: null, wrapStore: counted })
    const controller = new AbortController()
    const got: number[] = []
    const following = (async () => {
      for await (const d of node.events.follow({ topic: 'f' }, controller.signal)) {
        got.push(d.lsn)
        if (got.length === EVENTS) break
      }
    })()
    // The first page (from the log) is read before counting starts: a subscriber that starts behind reads the log.
    await node.events.publish('f', '"first"')
    await waitUntil('the subscriber has the first event', () => got.length === 1)
    counting = true
    for (let i = 1; i < EVENTS; i++) await node.events.publish('f', String(i))
    await following
    counting = false
    controller.abort()
    assert.is(got.length, EVENTS)
    assert.ok(reads <= 10, `${reads} LevelDB reads (iterators and gets) on the node while it served ${EVENTS - 1} events to a subscriber that kept up`)
  } finally {
    await swarm.destroy()
  }
})

test('early delivery: a subscriber and a KV watcher get a gossiped event before its append lands on the receiver; kv.get waits for it', async () => {
  let holding = false
  let held = 0
  let open: () => void = () => {}
  let gate = Promise.resolve()
  const gated = (store: Store): Store => hookBatches(store, {
    before: async ops => {
      if (!holding || !ops.some(op => op.bucket === 'events')) return
      held++
      await gate
    }
  })
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    // The writer's clock runs 2 s ahead: what the receiver writes on being told must still come after it.
    const { first, receiver } = await meshedPair(swarm, gated, skewedClock(2000))
    const controller = new AbortController()
    const got: Array<{ topic: string, lsn: number, hlc: Stamp }> = []
    const follow = async (topic: string): Promise<void> => {
      for await (const d of receiver.events.follow({ topic }, controller.signal)) got.push({ topic, lsn: d.lsn, hlc: d.event.hlc })
    }
    const following = [follow('t'), follow(KV_TOPIC)]
    const hold = (): void => { held = 0; gate = new Promise(resolve => { open = resolve }); holding = true }
    const release = (): void => { holding = false; open() }
    hold()
    const before = receiver.events.stats().lastLsn
    await first.events.publish('t', '"early"')
    await waitUntil('the subscriber has the event', () => got.some(g => g.topic === 't'))
    assert.is(held, 1, 'its append is held at the gate')
    assert.is(receiver.events.stats().lastLsn, before, 'not in the log yet')
    const early = got.find(g => g.topic === 't')!
    const reply = receiver.events.publish('t', '"reply"')
    // Stamped at the next turns of the event loop, while the append is still held.
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    assert.is(receiver.events.stats().lastLsn, before, 'still held')
    release()
    await waitUntil('the append landed', () => receiver.events.stats().lastLsn > before)
    const replied = await reply
    assert.ok(laterStamp(replied.hlc, early.hlc), `a reply stamped while the event was told early: ${JSON.stringify(replied.hlc)} after ${JSON.stringify(early.hlc)}`)
    const listed = await receiver.events.list({ topic: 't', since: before, limit: 10 })
    assert.equal(listed.events.map(d => d.lsn)[0], early.lsn, 'the log stores it under the LSN the subscriber got')
    // A KV write: the event subscriber and a watcher get it while the batch that merges it is held; a read of the
    // key waits for that batch, so it returns what the watcher was told.
    const watched: Array<{ change: number, key: string, value: unknown }> = []
    const watching = (async () => {
      for await (const c of receiver.kv.watch({ prefix: 'k' }, controller.signal)) watched.push({ change: c.change, key: c.key, value: c.record?.value })
    })()
    hold()
    await first.kv.put('k', 1)
    await waitUntil('the KV event at the gate', () => held === 1)
    await waitUntil('the KV event and change handed on early', () => got.some(g => g.topic === KV_TOPIC) && watched.length === 1)
    assert.equal(watched, [{ change: receiver.kv.stats().lastChange + 1, key: 'k', value: 1 }], 'the change number the batch will store')
    let read: unknown
    const reading = receiver.kv.get('k').then(r => { read = r.value }, (err: Error) => { read = err.message })
    // A write made on being told: stamped now, while the batch is held; it must win over what it answers.
    const overwrite = receiver.kv.put('k', 2)
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    assert.is(read, undefined, 'kv.get answered before the batch landed')
    release()
    await reading
    assert.ok(read === 1 || read === 2, `read ${String(read)} once the batch landed`)
    await overwrite
    assert.is((await receiver.kv.get('k')).value, 2, 'the write made on being told wins')
    assert.ok(watched.some(w => w.change === watched[0]!.change + 1 && w.value === 2))
    following.push(watching)
    controller.abort()
    await Promise.allSettled(following)
  } finally {
    holding = false
    open()
    await swarm.destroy()
  }
})

test('early KV changes of a batch that fails are forgotten and their numbers stay unused; repair brings the write back under a later one', async () => {
  let failing = false
  let failed = 0
  const failingOnce = (store: Store): Store => hookBatches(store, {
    before: async ops => {
      if (!failing || !ops.some(op => op.bucket === 'kv')) return
      failing = false
      failed++
      throw new Error('IO error: /db/000005.log: No space left on device')
    }
  })
  const swarm = await MemorySwarm.create({ config: FAST })
  const controller = new AbortController()
  try {
    const { first, receiver } = await meshedPair(swarm, failingOnce)
    const watched: Array<{ change: number, key: string }> = []
    const watching = (async () => {
      for await (const c of receiver.kv.watch({ prefix: 'f/' }, controller.signal)) watched.push({ change: c.change, key: c.key })
    })()
    await first.kv.put('f/warm', 0)
    await waitUntil('the warm-up write watched', () => watched.length === 1)
    const lsnBefore = receiver.events.stats().lastLsn
    const followed: number[] = []
    const following = (async () => {
      for await (const d of receiver.events.follow({ topic: KV_TOPIC, since: lsnBefore }, controller.signal)) followed.push(d.lsn)
    })()
    failing = true
    await first.kv.put('f/lost', 1)
    await waitUntil('the receiver\'s batch failed after the watcher was told', () => failed === 1 && watched.some(w => w.key === 'f/lost'))
    const announced = watched.find(w => w.key === 'f/lost')!.change
    await waitUntil('the KV event told to an event subscriber too', () => followed.length === 1)
    const announcedLsn = followed[0]!
    assert.is(await receiver.kv.get('f/lost').then(() => 'found', (err: Error) => err.name), 'NotFoundError', 'a failed batch leaves nothing to read')
    // The next write of the same origin shows the receiver its gap; repair brings the lost write back.
    await first.kv.put('f/next', 2)
    await waitUntil('the lost write told again', () => watched.filter(w => w.key === 'f/lost').length === 2 && watched.some(w => w.key === 'f/next'), { timeoutMs: 15_000 })
    assert.is((await receiver.kv.get('f/lost')).value, 1)
    const again = watched.filter(w => w.key === 'f/lost')[1]!.change
    assert.ok(again > announced, `told again as change ${again}, after ${announced}`)
    assert.ok(watched.every((w, i) => i === 0 || w.change > watched[i - 1]!.change), `change numbers increase: ${JSON.stringify(watched)}`)
    // A cursor just below the abandoned number finds no change stored under it.
    const resumed = receiver.kv.watch({ prefix: 'f/', since: announced - 1 }, controller.signal)
    const next = await resumed.next()
    assert.ok(!next.done && next.value.change > announced, `the change after cursor ${announced - 1} is ${JSON.stringify(next.value)}`)
    // Likewise for events: a subscriber from before the failure is not served the event that was never stored.
    const refollow = receiver.events.follow({ topic: KV_TOPIC, since: lsnBefore }, controller.signal)
    const firstAfter = await refollow.next()
    assert.ok(!firstAfter.done && firstAfter.value.lsn > announcedLsn, `the first event after LSN ${lsnBefore} is at ${firstAfter.done ? 'none' : firstAfter.value.lsn}, the failed one had ${announcedLsn}`)
    controller.abort()
    await Promise.allSettled([watching, following, resumed.return(undefined), refollow.return(undefined)])
  } finally {
    controller.abort()
    await swarm.destroy()
  }
})

test.run()
