/**
 * Each event's signature is checked once per node (issue 11, "verify once"), whatever the number of paths it
 * arrives by. A write with acks 2 reaches the acknowledging peer twice (the writer's push asking for the ack, and
 * gossip), and the push path checks it twice itself (before the store, and again on entering the event log):
 * three Ed25519 checks before VerifiedSignatures, one after. Real in-process nodes (LevelDB, libp2p memory
 * transport); the counts are the event service's own (`shoal_events_signature_checks_total`).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }
const WRITES = 20

test('a write with acks 2 is verified once on the peer that acknowledges it, though it arrives by push and by gossip', async () => {
  const swarm = await MemorySwarm.create({ config: FAST, seed: 5 })
  try {
    const writer = await swarm.add({ bootstrap: null })
    const peer = await swarm.add({ bootstrap: writer })
    await waitUntil('both see 2 alive', () => swarm.counts('alive').every(n => n === 2), { timeoutMs: 20_000 })
    const before = { ...peer.events.signatureCheckCounts() }
    for (let i = 0; i < WRITES; i++) {
      const result = await writer.kv.put(`once/${i}`, { i }, { acks: 2 })
      assert.is(result.acked, 2, `write ${i} was acknowledged by the peer (so it came by push)`)
    }
    await waitUntil('the peer holds every write in its event log', () => (peer.events.stats().heads[writer.peerId] ?? 0) >= WRITES, { timeoutMs: 10_000 })
    await waitUntil('the gossip copies have arrived too', () => peer.events.stats().duplicates >= WRITES, { timeoutMs: 10_000 })
    const after = peer.events.signatureCheckCounts()
    const valid = after.valid - before.valid
    const known = after.known - before.known
    assert.is(after.invalid - before.invalid, 0, 'no check failed')
    assert.is(valid, WRITES, `${valid} Ed25519 checks for ${WRITES} events (one each)`)
    assert.ok(known >= 2 * WRITES, `${known} later copies found already verified (push path's second check, gossip copy)`)
  } finally {
    await swarm.destroy()
  }
})

test.run()
