/**
 * Invariant 7 (quorum over the members last known, not those visible now) and fault kind 4 (a put replayed
 * after its delete's tombstone was collected must not come back), on real in-process nodes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { ShoalNode } from '@shoal/node'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }

async function valueOn (node: ShoalNode, key: string): Promise<unknown> {
  return await node.kv.get(key).then(r => r.value, () => undefined)
}

test('invariant 7: a node cut off from the other two of three cannot acknowledge a quorum write; the majority can', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    const c = await swarm.add({ bootstrap: a })
    await waitUntil('a formed swarm of 3', () => swarm.counts('alive').every(n => n === 3))
    // The minority side: a refuses b and c (and they it), as a pulled cable would.
    await a.partition([b.peerId, c.peerId])
    await waitUntil('a sees b and c dead', () => a.members().filter(m => m.state === 'dead').length === 2)
    await a.kv.put('q', 'minority', { acks: 'quorum', timeoutMs: 1_000 }).then(
      () => assert.unreachable('a quorum write on a minority of the known members was acknowledged'),
      (err: Error & { code?: string, data?: { acked: number, required: number } }) => {
        assert.is(err.code, 'ERR_TIMEOUT')
        assert.equal(err.data, { acked: 1, required: 2, key: 'q' })
      })
    // The majority side reaches its quorum.
    await waitUntil('b sees a dead', () => b.members().some(m => m.id === a.peerId && m.state === 'dead'))
    const ok = await b.kv.put('q', 'majority', { acks: 'quorum' })
    assert.is(ok.required, 2)
    assert.ok(ok.acked >= 2)
  } finally {
    await swarm.destroy()
  }
})

test('invariant 7 across a restart: a node that comes back cut off still counts the members it knew, so it cannot make a quorum alone', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    const c = await swarm.add({ bootstrap: a })
    await waitUntil('a formed swarm of 3', () => swarm.counts('alive').every(n => n === 3))
    // a restarts behind a partition: its in-memory view is gone and it meets nobody.
    const again = await swarm.restart(0, { config: { ...FAST, deny: [b.peerId, c.peerId] } })
    assert.is(again.members().filter(m => m.id !== again.peerId).length, 0, 'a sees nobody after the restart')
    await again.kv.put('q', 'alone', { acks: 'quorum', timeoutMs: 1_000 }).then(
      () => assert.unreachable('a node that knew 3 members acknowledged a quorum write alone after a restart'),
      (err: Error & { code?: string, data?: { acked: number, required: number } }) => {
        assert.is(err.code, 'ERR_TIMEOUT')
        assert.is(err.data?.required, 2)
      })
  } finally {
    await swarm.destroy()
  }
})

test('invariant 7 after a lost store: a node whose db/ was moved aside still counts the members it knew', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    const c = await swarm.add({ bootstrap: a })
    await waitUntil('a formed swarm of 3', () => swarm.counts('alive').every(n => n === 3))
    // The memory beside db/ is written a moment after the view changes; a graceful stop flushes it anyway.
    await a.stop()
    await rename(join(swarm.dataDir(0), 'db'), join(swarm.dataDir(0), 'db.lost'))
    const again = await swarm.restart(0, { config: { ...FAST, deny: [b.peerId, c.peerId] } })
    assert.is(again.members().filter(m => m.id !== again.peerId).length, 0, 'a sees nobody after the restart')
    await again.kv.put('q', 'alone', { acks: 'quorum', timeoutMs: 1_000 }).then(
      () => assert.unreachable('a node with a lost store acknowledged a quorum write alone'),
      (err: Error & { code?: string, data?: { acked: number, required: number } }) => {
        assert.is(err.code, 'ERR_TIMEOUT')
        assert.is(err.data?.required, 2)
      })
  } finally {
    await swarm.destroy()
  }
})

test('kind 4: a put older than the tombstone horizon, replayed from the event log after the tombstone was collected, stays deleted', async () => {
  const HORIZON = 1_500
  const swarm = await MemorySwarm.create({ config: { ...FAST, kv: { tombstoneHorizonMs: HORIZON } } })
  try {
    const a = await swarm.add({ bootstrap: null })
    const put = await a.events.publish('kv', JSON.stringify({ key: 'gone', value: 'old' }), { type: 'kv.put', internal: true })
    assert.is(await valueOn(a, 'gone'), 'old')
    await a.kv.delete('gone')
    // Collection runs on its timer (min(horizon, 1 h)); wait until the tombstone is gone.
    await waitUntil('the tombstone was collected', async () => (await a.kv.record('gone')) === undefined, { timeoutMs: 10_000 })
    // The old put comes back through the event path (a peer that still held it in its log replays it).
    const b = await swarm.add({ bootstrap: null })
    await b.events.ingest([put.event])
    // A barrier through the KV write path: everything delivered before it has been merged (or refused).
    await b.kv.put('barrier', 1)
    assert.is(b.events.stats().heads[a.peerId], put.seq, 'b delivered the replayed put')
    assert.is(await valueOn(b, 'gone'), undefined, 'a put older than the horizon was merged from the event path')
  } finally {
    await swarm.destroy()
  }
})

test.run()
