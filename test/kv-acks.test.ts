/**
 * A write that needs acknowledgements pushes to as many members as it needs plus one spare, not to every member
 * (docs/protocols/kv.md, "Acknowledged writes"): every member gets the write by gossip anyway, and each push is
 * an fsync on the member. Six real in-process nodes (real LevelDB, libp2p memory transport); each peer's store
 * counts its fsync'd batches, which on a member that writes nothing itself are exactly the pushes it stored
 * (gossip and anti-entropy merges are not fsync'd).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ShoalNode } from '@shoal/node'
import { MemorySwarm, hookBatches, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }
const PEERS = 5

test('a write with acks 2 is pushed to 2 of 5 peers (one ack needed, one spare), and still reaches all 5', async () => {
  const swarm = await MemorySwarm.create({ config: FAST, seed: 11 })
  const counts = Array.from({ length: PEERS }, () => ({ synced: 0 }))
  try {
    const writer = await swarm.add({ bootstrap: null })
    const peers: ShoalNode[] = []
    for (const c of counts) peers.push(await swarm.add({ bootstrap: writer, wrapStore: s => hookBatches(s, { after: (_ops, opts) => { if (opts?.sync === true) c.synced++ } }) }))
    await waitUntil('everyone sees 6 alive', () => swarm.counts('alive').every(n => n === PEERS + 1), { timeoutMs: 20_000 })
    const before = counts.map(c => c.synced)
    const result = await writer.kv.put('pushed', 'v', { acks: 2 })
    assert.is(result.acked, 2)
    await waitUntil('every peer has the write (gossip)', async () => {
      const values = await Promise.all(peers.map(async p => await p.kv.get('pushed').then(r => r.value, () => undefined)))
      return values.every(v => v === 'v')
    }, { timeoutMs: 10_000 })
    const pushes = counts.reduce((sum, c, i) => sum + c.synced - before[i]!, 0)
    assert.ok(pushes >= 1 && pushes <= 2, `${pushes} peers fsync'd a push for one write with acks 2 (at most 2: the ack and a spare)`)
  } finally {
    await swarm.destroy()
  }
})

test.run()
