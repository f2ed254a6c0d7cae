/**
 * Fault kind 2 and invariant 2 of the correctness issue (bounded skew): a write acknowledged more than
 * maxClockDriftMs before another write of the same key was invoked never wins over it, even when the first
 * writer's clock runs far ahead. Real in-process nodes; one node's wall clock is skewed (timers and its
 * monotonic clock stay real, as with faketime). Also: a future-dated record neither aborts an anti-entropy
 * round nor lowers the score of the peer that forwarded it, and anti-entropy honours kv.maxKeyBytes (kind 11).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { EVENT_WIRE_VERSION, EnvelopeCodec, KV_TOPIC, compareVersions, kvEventData } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { signEvent, swarmProtocols, unhandleRequests } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'
import { MemorySwarm, skewedClock, waitUntil } from '@shoal/test-utils'

const DRIFT_MS = 4_000
const CONFIG = {
  membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 },
  events: { maxClockDriftMs: DRIFT_MS, digestIntervalMs: 300 },
  kv: { antiEntropyIntervalMs: 300, maxKeyBytes: 2048 }
}

async function valueOn (node: ShoalNode, key: string): Promise<unknown> {
  return await node.kv.get(key).then(r => r.value, () => undefined)
}

async function foreignPut (key: string, value: unknown, wall: number): Promise<ShoalEvent> {
  const privateKey = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(privateKey).toString()
  return await signEvent({ v: EVENT_WIRE_VERSION, type: 'kv.put', topic: KV_TOPIC, origin, seq: 1, hlc: { wall, logical: 0 }, data: kvEventData(key, value, { maxKeyBytes: 2048, maxValueBytes: 65536 }) }, privateKey)
}

test('invariant 2: a writer whose clock is 2.25x the drift bound ahead cannot acknowledge a write that beats later ones', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  const fast = skewedClock(2.25 * DRIFT_MS)
  try {
    const a = await swarm.add({ bootstrap: null })
    await swarm.add({ bootstrap: a })
    const c = await swarm.add({ bootstrap: a, clock: fast })
    await waitUntil('a formed swarm of 3', () => swarm.counts('alive').every(n => n === 3))
    await waitUntil('c has sampled both peers\' clocks', () => c.clockSkew().peers >= 2)
    const first = await c.kv.put('k', 'from-c').then(r => ({ ok: true as const, r }), (err: Error & { code?: string }) => ({ ok: false as const, err }))
    const ackedAt = Date.now()
    if (!first.ok) {
      assert.is(first.err.code, 'ERR_CLOCK_SKEW')
      assert.match(first.err.message, /ahead of the swarm's/)
    }
    // More than the drift bound later (real time), another node writes the key.
    await waitUntil('the drift bound has passed since the acknowledgement', () => Date.now() > ackedAt + DRIFT_MS + 200, { intervalMs: 50 })
    const second = await a.kv.put('k', 'from-a')
    if (first.ok) assert.ok(compareVersions(second.version, first.r.version) > 0, `the later write (${JSON.stringify(second.version)}) is ordered before the earlier acknowledged one (${JSON.stringify(first.r.version)})`)
    // Every replica ends with the later write (the acknowledged earlier one, had it been allowed, would win everywhere).
    for (const n of swarm.nodes) await waitUntil(`node ${n.peerId.slice(-4)} holds the later write`, async () => await valueOn(n, 'k') === 'from-a', { timeoutMs: 15_000 })
    // The clock comes back: writes are accepted again at once (the estimate lives on the monotonic clock).
    fast.offsetMs = 0
    const back = await c.kv.put('k2', 'c is back')
    assert.is(await valueOn(c, 'k2'), 'c is back')
    // ... and stamped with the real time: what c received while its clock ran fast left nothing in its HLC (a
    // write stamped 9 s ahead would overrule every write made elsewhere in the next 9 s; the 30-minute chaos run
    // found that).
    assert.ok(back.version.wall <= Date.now() + DRIFT_MS / 2, `c's write after its clock came back is stamped ${back.version.wall - Date.now()} ms ahead`)
    // A jump while running is seen at once too, without waiting for a new sample.
    fast.offsetMs = 3 * DRIFT_MS
    await c.kv.put('k3', 'x').then(() => assert.unreachable('a write right after the clock jumped should be refused'), (err: { code?: string }) => { assert.is(err.code, 'ERR_CLOCK_SKEW') })
  } finally {
    await swarm.destroy()
  }
})

test('clock samples ride on probe acks: a node learns how far its clock is from its peers\' with the time protocol answered nowhere', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  const fast = skewedClock(3 * DRIFT_MS)
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    // Neither peer answers /time any more: what c learns of their clocks can only come from its probes' acks.
    for (const n of [a, b]) {
      const time = n.libp2p.getProtocols().find(p => p.endsWith('/time/1.0.0'))
      assert.ok(time !== undefined, 'the time protocol is served')
      await unhandleRequests(n.libp2p, time)
    }
    const c = await swarm.add({ bootstrap: a, clock: fast })
    await waitUntil('a formed swarm of 3', () => swarm.counts('alive').every(n => n === 3))
    await waitUntil('c knows it is ahead of both peers', () => {
      const skew = c.clockSkew()
      return skew.peers >= 2 && Math.abs(skew.offsetMs - 3 * DRIFT_MS) < DRIFT_MS / 4
    }, { timeoutMs: 10_000 })
    await c.kv.put('k', 'x').then(() => assert.unreachable('c\'s clock is 3 drift bounds ahead: its writes are refused'), (err: { code?: string }) => { assert.is(err.code, 'ERR_CLOCK_SKEW') })
  } finally {
    await swarm.destroy()
  }
})

test('kind 2: a record dated past the drift bound is deferred, not fatal: the rest of the anti-entropy round still lands', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  try {
    const a = await swarm.add({ bootstrap: null })
    // Put on a's replica directly (the anti-entropy entry point), so only anti-entropy can carry them to b.
    const future = await foreignPut('future-key', 'later', Date.now() + 6 * DRIFT_MS)
    const records = await Promise.all(Array.from({ length: 20 }, async (_, i) => await foreignPut(`now-${i}`, i, Date.now())))
    await a.kv.applyEvents([future, ...records])
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('b has every record that is not future-dated', async () => (await Promise.all(records.map(async (_, i) => await valueOn(b, `now-${i}`) === i))).every(Boolean))
    assert.is(await valueOn(b, 'future-key'), undefined, 'the future-dated record was taken early')
  } finally {
    await swarm.destroy()
  }
})

test('kind 2: a deferred record is taken once within the bound, never before, and a write issued after it is taken wins everywhere', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    const dated = Date.now() + 1.5 * DRIFT_MS
    await a.kv.applyEvents([await foreignPut('deferred', 'future', dated)])
    let takenAt = 0
    await waitUntil('b takes the record', async () => {
      if (await valueOn(b, 'deferred') !== 'future') return false
      takenAt = Date.now()
      return true
    }, { timeoutMs: 15_000 })
    assert.ok(takenAt + DRIFT_MS >= dated, `taken ${dated - takenAt - DRIFT_MS} ms before it was within the bound`)
    // b's clock took in the record's version when it stored it (kind 1), so b refuses writes while its clock is more
    // than half the bound ahead of the swarm's time (ERR_CLOCK_SKEW), then stamps them above the record.
    await waitUntil('b accepts a write', async () => await b.kv.put('deferred', 'after').then(() => true, () => false), { timeoutMs: 15_000 })
    await waitUntil('both hold the later write', async () => await valueOn(a, 'deferred') === 'after' && await valueOn(b, 'deferred') === 'after', { timeoutMs: 15_000 })
  } finally {
    await swarm.destroy()
  }
})

test('kind 2: a future-dated event is ignored by gossipsub\'s validator (no score penalty for the forwarder), a forged one rejected', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  const protocols = swarmProtocols('default')
  const codec = new EnvelopeCodec<unknown>({ maxBytes: 1024 * 1024, validators: { event: p => p } })
  try {
    const a = await swarm.add({ bootstrap: null })
    const validate = a.libp2p.services.pubsub.topicValidators.get(protocols.topics.events)!
    const forwarder = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const verdict = async (event: ShoalEvent): Promise<unknown> => await validate(forwarder, { type: 'unsigned', topic: protocols.topics.events, data: codec.encode('event', event, Date.now()) } as never)
    // Signed by its origin, dated past a's drift bound: an honest forwarder whose clock is ahead would pass it on.
    assert.is(await verdict(await foreignPut('f', 1, Date.now() + 3 * DRIFT_MS)), TopicValidatorResult.Ignore)
    // A bad signature is the forwarder's fault.
    const forged = { ...(await foreignPut('g', 1, Date.now())), origin: a.peerId }
    assert.is(await verdict(forged), TopicValidatorResult.Reject)
    assert.is(await verdict(await foreignPut('h', 1, Date.now())), TopicValidatorResult.Accept)
  } finally {
    await swarm.destroy()
  }
})

test('kind 11: anti-entropy takes keys up to kv.maxKeyBytes, not a built-in 512', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG })
  try {
    const a = await swarm.add({ bootstrap: null })
    const key = `long/${'k'.repeat(1500)}`
    await a.kv.applyEvents([await foreignPut(key, 'long', Date.now())])
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('b has the long key by anti-entropy', async () => await valueOn(b, key) === 'long')
  } finally {
    await swarm.destroy()
  }
})

test.run()
