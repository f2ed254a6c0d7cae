/**
 * Every gossip topic has a validator: malformed, oversized, unknown-type or wrong-version messages from a
 * peer are rejected before anything handles them, counted by reason, lower the sender's gossipsub score,
 * and the receiving node keeps working.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'
import { swarmProtocols } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'

let swarm: MemorySwarm
let honest: ShoalNode
let rogue: ShoalNode
const topic = swarmProtocols('default').topics.membership
const rejections: Array<{ from: string, reason: string }> = []

test.before(async () => {
  swarm = await MemorySwarm.create({ seed: 7 })
  honest = await swarm.add({ bootstrap: null })
  rogue = await swarm.add()
  honest.bus.on('gossip:rejected', e => { rejections.push(e) })
  await waitUntil('both nodes alive in each other\'s view', () => swarm.counts('alive').every(c => c === 2))
  await waitUntil('the rogue to be in the honest node\'s mesh for the membership topic', () =>
    rogue.libp2p.services.pubsub.getSubscribers(topic).some(p => p.toString() === honest.peerId))
})

test.after(async () => {
  await swarm.destroy()
})

test('bad messages are rejected by reason, lower the sender\'s score, and change nothing', async () => {
  const enc = new TextEncoder()
  const bad: Array<[string, Uint8Array]> = [
    ['malformed', enc.encode('not json at all')],
    ['malformed', new Uint8Array([0xff, 0xfe, 0xfd])],
    ['unsupported-version', enc.encode(JSON.stringify({ v: 99, type: 'membership.update', sentAt: 1, payload: {} }))],
    ['unknown-type', enc.encode(JSON.stringify({ v: 1, type: 'kv.put', sentAt: 1, payload: {} }))],
    ['invalid-payload', enc.encode(JSON.stringify({ v: 1, type: 'membership.update', sentAt: 1, payload: { updates: [{ kind: 'dead', id: honest.peerId }] } }))],
    ['oversized', enc.encode(JSON.stringify({ v: 1, type: 'membership.update', sentAt: 1, payload: { pad: 'x'.repeat(70 * 1024) } }))]
  ]
  const before = honest.members().map(m => `${m.id}:${m.state}:${m.incarnation}`).sort()
  for (const [, data] of bad) await rogue.libp2p.services.pubsub.publish(topic, data).catch(() => {})
  // Oversized frames may be dropped by gossipsub's own inbound limit before the validator sees them.
  const expected = new Set(bad.map(([reason]) => reason).filter(r => r !== 'oversized'))
  await waitUntil('every kind of bad message to be rejected', () => [...expected].every(r => rejections.some(x => x.reason === r)))
  assert.ok(rejections.every(r => r.from === rogue.peerId), 'rejections are attributed to the sender')
  await waitUntil('the rogue\'s score to drop below zero', () =>
    (honest.libp2p.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(rogue.peerId) < 0, { timeoutMs: 5000 })
  const after = honest.members().map(m => `${m.id}:${m.state}:${m.incarnation}`).sort()
  assert.equal(after, before, 'no bad message changed the membership view')
  assert.is(honest.members().find(m => m.id === honest.peerId)?.state, 'alive')
})

test.run()
