/**
 * Fault kind 5 of the correctness issue: a peer's repair answers are not trusted. A rogue peer that claims huge
 * heads for every origin and answers every pull with `compacted` below 2^53-1 (and no signed evidence) must not
 * make a node skip any origin's events: not another node's, and not its own (which would stop it publishing).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { resolveConfig, silentLogger } from '@shoal/core'
import { buildLibp2p, DenyList, handleRequests, swarmProtocols } from '@shoal/node'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 }, events: { digestIntervalMs: 300 } }
const HUGE = Number.MAX_SAFE_INTEGER

test('kind 5: forged heads and evidence-free `compacted` answers make no node skip an origin', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const protocols = swarmProtocols('default')
  try {
    const a = await swarm.add({ bootstrap: null })
    const b = await swarm.add({ bootstrap: a })
    await waitUntil('a and b see each other', () => swarm.counts('alive').every(n => n === 2))
    await a.events.publish('t', '1')
    await b.events.publish('t', '1')
    await waitUntil('both heads everywhere', () => a.events.stats().heads[b.peerId] === 1 && b.events.stats().heads[a.peerId] === 1)

    const pulled = new Map<string, number>()
    const config = resolveConfig({ defaultDataDir: swarm.dataDir(9), flags: { listen: [`/memory/rogue-${process.pid}`] } })
    const rogue = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), config, protocols, denyList: new DenyList(), transport: 'memory', topics: [] })
    await handleRequests(rogue, protocols.events, async (msg: any) => {
      if (msg.type === 'digest') return { v: 1, type: 'digest', heads: { [a.peerId]: HUGE, [b.peerId]: HUGE } }
      if (msg.type === 'pull') { pulled.set(msg.origin, (pulled.get(msg.origin) ?? 0) + 1); return { v: 1, type: 'error', code: 'compacted', compactedBelow: HUGE } }
      return { v: 1, type: 'error', code: 'bad-request', message: 'no' }
    }, { timeoutMs: 5000, logger: silentLogger })
    try {
      await rogue.dial(multiaddr(a.info().addresses[0]!))
      // The node exchanges digests with the rogue on identify and on its timer. A second pull of an origin starts
      // only after the first one's answer was handled, so two pulls of each (or any skip) is the barrier.
      await waitUntil('a handled the rogue\'s answers for both origins', () =>
        a.events.stats().gapsSkipped > 0 || ((pulled.get(a.peerId) ?? 0) >= 2 && (pulled.get(b.peerId) ?? 0) >= 2))
      assert.is(a.events.stats().heads[a.peerId], 1, 'the node\'s own head did not move')
      assert.is(a.events.stats().heads[b.peerId], 1, 'b\'s head on a did not move')
      assert.is(a.events.stats().gapsSkipped, 0)
      // Both origins keep flowing: a publishes seq 2, and b's seq 2 is delivered on a.
      const mine = await a.events.publish('t', '2')
      assert.is(mine.seq, 2)
      await b.events.publish('t', '2')
      await waitUntil('b\'s next event delivered on a', () => a.events.stats().heads[b.peerId] === 2)
      await waitUntil('a\'s next event delivered on b', () => b.events.stats().heads[a.peerId] === 2)
    } finally {
      await rogue.stop()
    }
  } finally {
    await swarm.destroy()
  }
})

test.run()
