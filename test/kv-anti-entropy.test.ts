/**
 * Anti-entropy is push-pull (docs/protocols/kv.md): one round started by either replica repairs both. Two real
 * in-process nodes (real LevelDB, libp2p memory transport) whose periodic rounds are an hour apart, so only the
 * round the test starts can move records; each holds a record the other lacks, put there through the entry point
 * rounds and store pushes use (no gossip, no event log). An import asks the live members to pull (`pull`).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EVENT_WIRE_VERSION, KV_TOPIC, kvEventData } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { signEvent, verifyPool } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

const CONFIG = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 }, kv: { antiEntropyIntervalMs: 3_600_000 } }

/** A kv put signed by a third node that is not in the swarm. */
async function foreignPut (key: string, value: unknown): Promise<ShoalEvent> {
  const privateKey = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(privateKey).toString()
  return await signEvent({ v: EVENT_WIRE_VERSION, type: 'kv.put', topic: KV_TOPIC, origin, seq: 1, hlc: { wall: Date.now(), logical: 0 }, data: kvEventData(key, value) }, privateKey)
}

async function valueOn (node: ShoalNode, key: string): Promise<unknown> {
  return await node.kv.get(key).then(r => r.value, () => undefined)
}

test('one round started by A pulls B\'s record to A and makes B pull A\'s record back', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG, seed: 7 })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add()
    await waitUntil('A and B see each other alive', () => swarm.counts('alive').every(c => c === 2), { timeoutMs: 10_000 })
    assert.is(await a.kv.applyEvents([await foreignPut('only-on-a', 'a')]), 1)
    assert.is(await b.kv.applyEvents([await foreignPut('only-on-b', 'b')]), 1)
    assert.is(await valueOn(b, 'only-on-a'), undefined, 'B lacks A\'s record before the round')

    await a.kv.syncWith(b.peerId)
    assert.is(await valueOn(a, 'only-on-b'), 'b', 'A pulled B\'s record')
    await waitUntil('B to pull A\'s record back', async () => await valueOn(b, 'only-on-a') === 'a', { timeoutMs: 5000, intervalMs: 50 })
    await a.kv.freshTree()
    await b.kv.freshTree()
    assert.is(a.kv.root(), b.kv.root(), 'equal Merkle roots after one round')
  } finally {
    await swarm.destroy()
  }
})

test('the round counts the bytes it carried: a pull of 50 records receives about their size, and a round in sync a few hundred bytes', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG, seed: 9 })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add()
    await waitUntil('A and B see each other alive', () => swarm.counts('alive').every(c => c === 2), { timeoutMs: 10_000 })
    const records = await Promise.all(Array.from({ length: 50 }, async (_, i) => await foreignPut(`k/${i}`, { i, pad: 'x'.repeat(1000) })))
    assert.is(await b.kv.applyEvents(records), 50)
    const size = records.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0)
    const before = a.kv.sync.traffic()
    await a.kv.syncWith(b.peerId)
    assert.is(a.kv.stats().keys, 50)
    const pulled = { sent: a.kv.sync.traffic().sent - before.sent, received: a.kv.sync.traffic().received - before.received }
    assert.ok(pulled.received >= size && pulled.received <= 1.5 * size, `received ${pulled.received} B for ${size} B of records`)
    assert.ok(pulled.sent > 0 && pulled.sent < size / 4, `sent ${pulled.sent} B`)
    await a.kv.freshTree()
    await b.kv.freshTree()
    const inSync = a.kv.sync.traffic()
    await a.kv.syncWith(b.peerId)
    const round = a.kv.sync.traffic().sent + a.kv.sync.traffic().received - inSync.sent - inSync.received
    assert.ok(round > 0 && round < 400, `a round in sync carried ${round} B`)
  } finally {
    await swarm.destroy()
  }
})

test('an import asks every live member to pull it: no periodic round needed', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG, seed: 8 })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add()
    const c = await swarm.add()
    await waitUntil('all three see each other alive', () => swarm.counts('alive').every(n => n === 3), { timeoutMs: 10_000 })
    assert.is(await b.kv.importEvents([await foreignPut('imported', 'i')]), 1)
    await waitUntil('A and C pull the imported record', async () => await valueOn(a, 'imported') === 'i' && await valueOn(c, 'imported') === 'i', { timeoutMs: 5000, intervalMs: 50 })
  } finally {
    await swarm.destroy()
  }
})

test('records altered in a pull are refused: the reply holding one is not merged, and the check counts it', async () => {
  const swarm = await MemorySwarm.create({ config: CONFIG, seed: 10 })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add()
    await waitUntil('A and B see each other alive', () => swarm.counts('alive').every(c => c === 2), { timeoutMs: 10_000 })
    // B answers A's record requests with one record's value changed after it was signed. Forty records to a reply,
    // enough for their checks to leave the main thread (events/verify-pool.ts): on libuv's pool until a worker
    // thread answers, then on the worker. Rounds go on until one ran on the worker; each must refuse the reply.
    const answer = b.kv.sync.answer.bind(b.kv.sync)
    b.kv.sync.answer = async (msg, from) => {
      const reply = await answer(msg, from)
      if (reply.type === 'records' && reply.records.length > 0) {
        const [first, ...rest] = reply.records as ShoalEvent[]
        return { ...reply, records: [{ ...first!, data: first!.data.replace('"genuine"', '"altered"') }, ...rest] }
      }
      return reply
    }
    let onWorker = false
    for (let round = 1; !onWorker; round++) {
      assert.ok(round <= 40, 'no round\'s checks ran on a worker thread in 40 rounds')
      const records = await Promise.all(Array.from({ length: 40 }, async (_, i) => await foreignPut(`r${round}/${i}`, 'genuine')))
      assert.is(await b.kv.applyEvents(records), 40)
      const before = a.events.stats().rejected['bad-signature'] ?? 0
      const checkedOnWorker = verifyPool.counts.worker
      await a.kv.syncWith(b.peerId)
      onWorker = verifyPool.counts.worker > checkedOnWorker
      assert.ok((a.events.stats().rejected['bad-signature'] ?? 0) > before, `round ${round}: the altered record counted as a bad signature`)
      const held = await a.kv.list({ prefix: `r${round}/`, limit: 100 })
      assert.is(held.records.length, 0, `round ${round}: nothing of the reply holding the altered record was merged`)
    }
  } finally {
    await swarm.destroy()
  }
})

test.run()
