/**
 * A write with acks 2 reaches the acknowledging peer twice: by the writer's push asking for the ack, and by
 * gossip. On that peer each event's signature is checked once (issue 11, "verify once"), and the push is stored in
 * one fsync'd batch that holds the event and its KV record (issue 11, "one write path"); the gossip copy then costs
 * no write. Before: three Ed25519 checks per write (the push, the push's entry into the event log, the gossip
 * copy) and two batches (the fsync'd KV merge, then the event log's own). Real in-process nodes (LevelDB, libp2p
 * memory transport); checks are the event service's own counts (`shoal_events_signature_checks_total`), batches
 * are counted at the peer's store.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { BatchOp } from '@shoal/store'
import { MemorySwarm, hookBatches, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }
const WRITES = 20

test('a write with acks 2 is verified once and written once on the peer that acknowledges it, though it arrives by push and by gossip', async () => {
  const swarm = await MemorySwarm.create({ config: FAST, seed: 5 })
  const batches: Array<{ ops: BatchOp[], sync: boolean }> = []
  try {
    const writer = await swarm.add({ bootstrap: null })
    const peer = await swarm.add({ bootstrap: writer, wrapStore: s => hookBatches(s, { after: (ops, opts) => { batches.push({ ops, sync: opts?.sync === true }) } }) })
    await waitUntil('both see 2 alive', () => swarm.counts('alive').every(n => n === 2), { timeoutMs: 20_000 })
    const before = { ...peer.events.signatureCheckCounts() }
    const firstSeq = (peer.events.stats().heads[writer.peerId] ?? 0) + 1
    for (let i = 0; i < WRITES; i++) {
      const result = await writer.kv.put(`once/${i}`, { i }, { acks: 2 })
      assert.is(result.acked, 2, `write ${i} was acknowledged by the peer (so it came by push)`)
    }
    await waitUntil('the peer holds every write in its event log', () => (peer.events.stats().heads[writer.peerId] ?? 0) >= firstSeq + WRITES - 1, { timeoutMs: 10_000 })
    await waitUntil('the gossip copies have arrived too', () => peer.events.stats().duplicates >= WRITES, { timeoutMs: 10_000 })

    const after = peer.events.signatureCheckCounts()
    const valid = after.valid - before.valid
    const known = after.known - before.known
    assert.is(after.invalid - before.invalid, 0, 'no check failed')
    assert.is(valid, WRITES, `${valid} Ed25519 checks for ${WRITES} events (one each)`)
    assert.ok(known >= WRITES, `${known} later copies found already verified (the gossip copies)`)

    // Every batch that stored one of the writes' events: one per write, fsync'd, with its KV record in it.
    const key = (seq: number): string => `${writer.peerId}/${String(seq).padStart(16, '0')}`
    const wanted = new Set(Array.from({ length: WRITES }, (_, i) => key(firstSeq + i)))
    const storing = batches.filter(b => b.ops.some(op => op.bucket === 'events' && wanted.has(op.key)))
    assert.is(storing.length, WRITES, `${storing.length} batches stored the ${WRITES} events (one each)`)
    assert.ok(storing.every(b => b.sync), 'each of them fsync\'d (the ack promises the write is durable here)')
    assert.ok(storing.every(b => b.ops.some(op => op.bucket === 'kv')), 'each with its KV record')
    const kvOnly = batches.filter(b => b.ops.some(op => op.bucket === 'kv' && op.key.startsWith('once/')) && !b.ops.some(op => op.bucket === 'events'))
    assert.is(kvOnly.length, 0, `${kvOnly.length} batches wrote a record of these writes apart from its event`)
  } finally {
    await swarm.destroy()
  }
})

test('concurrent writes with acks 2: each one is durable on the acknowledging peer before its ack, whatever order its copies arrive in', async () => {
  const swarm = await MemorySwarm.create({ config: FAST, seed: 6 })
  const batches: Array<{ kv: string[], sync: boolean }> = []
  try {
    const writer = await swarm.add({ bootstrap: null })
    const peer = await swarm.add({ bootstrap: writer, wrapStore: s => hookBatches(s, { after: (ops, opts) => { batches.push({ kv: ops.filter(op => op.bucket === 'kv').map(op => op.key), sync: opts?.sync === true }) } }) })
    await waitUntil('both see 2 alive', () => swarm.counts('alive').every(n => n === 2), { timeoutMs: 20_000 })
    // Copies come in any order: a push can overtake the one before it (held behind the gap, it takes the other
    // path: the KV merge fsync'd on its own), and gossip can deliver a write before its push (then stored without
    // an fsync, and the push's fsync'd write, even an empty one, makes it durable). Each ack must follow an fsync
    // that covers the record: a synced batch after the one that wrote it, before the writer heard the ack.
    const acked: Array<{ i: number, at: number }> = []
    await Promise.all(Array.from({ length: WRITES }, async (_, i) => {
      const r = await writer.kv.put(`many/${i}`, { i }, { acks: 2 })
      assert.is(r.acked, 2, `write ${i} acknowledged by the peer`)
      acked.push({ i, at: batches.length })
    }))
    for (const { i, at } of acked) {
      const written = batches.findIndex(b => b.kv.includes(`many/${i}`))
      assert.ok(written >= 0 && written < at, `write ${i}: its record was written on the peer before the ack`)
      assert.ok(batches.slice(written, at).some(b => b.sync), `write ${i}: an fsync'd batch covered its record before the ack`)
    }
    await waitUntil('the peer holds every write', async () => (await Promise.all(Array.from({ length: WRITES }, async (_, i) => await peer.kv.get(`many/${i}`).then(r => r.value, () => undefined)))).every((v, i) => (v as { i: number } | undefined)?.i === i), { timeoutMs: 10_000 })
  } finally {
    await swarm.destroy()
  }
})

test.run()
