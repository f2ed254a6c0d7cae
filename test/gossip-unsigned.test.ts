/**
 * The unsigned gossip wire (decisions/0010): gossipsub carries Shoal's messages without its own signature, with
 * message ids from their content, and Shoal's own check of the origin's signature is what keeps forgeries out.
 * Two real daemons and a hand-built libp2p peer (the rogue) connected to both:
 * - what a daemon gossips carries no gossipsub signature, publisher or seqno, and its message id is the SHA-256
 *   of its bytes;
 * - a copy of an event altered in flight (payload changed, origin's signature kept) is rejected, and, sent first,
 *   does not shadow the real event that follows it;
 * - an event that names another daemon as its origin but is signed by the rogue is rejected and never stored.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { GossipsubMessage } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { EnvelopeCodec, resolveConfig, EVENT_WIRE_VERSION } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { buildLibp2p, DenyList, signEvent, swarmProtocols } from '@shoal/node'
import type { ShoalLibp2p } from '@shoal/node'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

const protocols = swarmProtocols('default')
const topic = protocols.topics.events
let swarm: LocalSwarm
let a: LocalNode
let b: LocalNode
let rogue: ShoalLibp2p
const codec = new EnvelopeCodec<ShoalEvent>({ maxBytes: 1024 * 1024, validators: { event: p => p as ShoalEvent } })
const received: GossipsubMessage[] = []

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  a = await swarm.start(1)
  b = await swarm.start(2, { bootstrap: [a.addrs[0]!] })
  const key = await generateKeyPair('Ed25519')
  const config = resolveConfig({ defaultDataDir: swarm.root, flags: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
  rogue = await buildLibp2p({ privateKey: key, config, protocols, denyList: new DenyList(), topics: [topic] })
  rogue.services.pubsub.subscribe(topic)
  rogue.services.pubsub.addEventListener('gossipsub:message', e => { received.push(e.detail) })
  await rogue.dial(multiaddr(a.addrs[0]!))
  await rogue.dial(multiaddr(b.addrs[0]!))
  await waitUntil('both daemons subscribed to the events topic in the rogue\'s view', () => {
    const subscribers = rogue.services.pubsub.getSubscribers(topic).map(String)
    return subscribers.includes(a.peerId) && subscribers.includes(b.peerId)
  })
})

test.after(async () => {
  await rogue.stop()
  await swarm.destroy()
})

async function rejected (node: LocalNode, reason: string): Promise<number> {
  return (await node.client.call('events.stats', {})).rejected[reason] ?? 0
}

test('a daemon gossips events without a gossipsub signature, under a message id made from the bytes', async () => {
  const published = await a.client.call('events.publish', { topic: 'wire', data: { n: 1 } })
  await waitUntil('the rogue to receive the event by gossip', () => received.some(m => m.msg.topic === topic))
  const got = received.find(m => m.msg.topic === topic)!
  assert.is(got.msg.type, 'unsigned', 'no signature, publisher or seqno on the wire')
  assert.is(got.msgId, createHash('sha256').update(got.msg.data).digest('base64').replace(/=+$/, ''), 'message id = SHA-256 of the message bytes (unpadded base64)')
  const decoded = codec.decode(got.msg.data)
  assert.ok(decoded.ok)
  if (decoded.ok) {
    assert.is(decoded.envelope.payload.origin, a.peerId)
    assert.is(decoded.envelope.payload.seq, published.seq)
  }
})

test('a copy altered in flight is rejected and does not shadow the real event sent after it', async () => {
  const key = await generateKeyPair('Ed25519')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const origin = peerIdFromPrivateKey(key).toString()
  const real = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq: 1, hlc: { wall: Date.now(), logical: 0 }, data: '{"pay":"alice"}' }, key)
  const altered = { ...real, data: '{"pay":"mallory"}' }
  const sentAt = Date.now()
  const before = await rejected(b, 'bad-signature')
  // The same envelope but for the changed field, so only the alteration tells the two apart.
  await rogue.services.pubsub.publish(topic, codec.encode('event', altered, sentAt))
  await waitUntil('the altered copy to be rejected', async () => await rejected(b, 'bad-signature') > before)
  await rogue.services.pubsub.publish(topic, codec.encode('event', real, sentAt))
  await waitUntil('the real event to be stored', async () => (await b.client.call('events.stats', {})).heads[origin] === 1)
  const { events } = await b.client.call('events.list', { topic: 't' })
  assert.equal(events.filter(e => e.origin === origin).map(e => e.data), [{ pay: 'alice' }])
})

test('an event naming another daemon as its origin, signed by someone else, is rejected and never stored', async () => {
  const own = await a.client.call('events.publish', { topic: 'mine', data: 1 })
  await waitUntil('b to hold a\'s event', async () => ((await b.client.call('events.stats', {})).heads[a.peerId] ?? 0) >= own.seq)
  const spoofed = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 'spoof', origin: a.peerId, seq: own.seq + 1, hlc: { wall: Date.now(), logical: 0 }, data: '"not a"' }, await generateKeyPair('Ed25519'))
  const before = await rejected(b, 'bad-signature')
  await rogue.services.pubsub.publish(topic, codec.encode('event', spoofed, Date.now()))
  await waitUntil('the spoofed event to be rejected', async () => await rejected(b, 'bad-signature') > before)
  assert.is((await b.client.call('events.stats', {})).heads[a.peerId], own.seq, 'nothing stored under a\'s name')
  assert.equal((await b.client.call('events.list', { topic: 'spoof' })).events, [])
})

test.run()
