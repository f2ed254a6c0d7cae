/**
 * A hand-built libp2p peer injects forged and malformed events into a real daemon, on the gossip path and on
 * the repair path. Every one is rejected and counted by reason, none is stored, and the daemon keeps running.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { EnvelopeCodec, resolveConfig, EVENT_WIRE_VERSION } from '@shoal/core'
import { buildLibp2p, DenyList, handleRequests, signEvent, swarmProtocols } from '@shoal/node'
import type { ShoalLibp2p } from '@shoal/node'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { samples, scrapeMetrics } from './helpers/metrics.js'

const protocols = swarmProtocols('default')
let swarm: LocalSwarm
let daemon: LocalNode
let rogue: ShoalLibp2p
const codec = new EnvelopeCodec<unknown>({ maxBytes: 1024 * 1024, validators: { event: p => p } })
/** What the rogue answers on the repair protocol; each test sets its own. */
let serveRepair: (msg: any) => unknown = () => ({ v: 1, type: 'error', code: 'bad-request', message: 'not now' })

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  daemon = await swarm.start(1)
  const key = await generateKeyPair('Ed25519')
  const config = resolveConfig({ defaultDataDir: swarm.root, flags: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
  rogue = await buildLibp2p({ privateKey: key, config, protocols, denyList: new DenyList(), topics: [protocols.topics.events] })
  rogue.services.pubsub.subscribe(protocols.topics.events)
  await handleRequests(rogue, protocols.events, async (msg: any) => serveRepair(msg),
    { logger: { trace () {}, debug () {}, info () {}, warn () {}, error () {}, child () { return this } }, timeoutMs: 5000 })
  await rogue.dial(multiaddr(daemon.addrs[0]!))
  await waitUntil('the daemon to be subscribed to the events topic from the rogue\'s view', () =>
    rogue.services.pubsub.getSubscribers(protocols.topics.events).some(p => p.toString() === daemon.peerId))
})

test.after(async () => {
  await rogue.stop()
  await swarm.destroy()
})

async function rejectedCounts (): Promise<Record<string, number>> {
  return (await daemon.client.call('events.stats', {})).rejected
}

test('forged, unsigned, malformed and future events on the gossip path are rejected by reason', async () => {
  const self = rogue.peerId.toString()
  // Claims the rogue as origin but is signed with some other key.
  const valid = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin: self, seq: 1, hlc: { wall: Date.now(), logical: 0 }, data: '{"ok":true}' }, await generateKeyPair('Ed25519'))
  const cases: Array<[string, unknown]> = [
    // Signed by a key that is not the origin's: the signature does not verify.
    ['bad-signature', valid],
    // Claims to come from the daemon itself.
    ['bad-signature', { ...valid, origin: daemon.peerId }],
    ['unsigned', { ...valid, sig: '' }],
    ['malformed', { ...valid, seq: -4 }],
    ['malformed', { ...valid, data: 'not json{' }],
    ['malformed', 'just a string']
  ]
  for (const [, event] of cases) {
    await rogue.services.pubsub.publish(protocols.topics.events, codec.encode('event', event, Date.now())).catch(() => {})
  }
  await waitUntil('every reason to be counted', async () => {
    const r = await rejectedCounts()
    return (r['bad-signature'] ?? 0) >= 2 && (r.unsigned ?? 0) >= 1 && (r.malformed ?? 0) >= 3
  })
  const stats = await daemon.client.call('events.stats', {})
  assert.equal(Object.keys(stats.heads).filter(o => o !== daemon.peerId), [], 'nothing from the rogue was stored')
  assert.is(stats.stored, 0)
})

test('an event signed by its origin but dated an hour ahead is rejected as future', async () => {
  const key = await generateKeyPair('Ed25519')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const origin = peerIdFromPrivateKey(key).toString()
  const future = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq: 1, hlc: { wall: Date.now() + 3_600_000, logical: 0 }, data: '1' }, key)
  await rogue.services.pubsub.publish(protocols.topics.events, codec.encode('event', future, Date.now()))
  await waitUntil('a future rejection', async () => ((await rejectedCounts()).future ?? 0) >= 1)
})

test('forged events served on the repair path are rejected and the daemon keeps running', async () => {
  const key = await generateKeyPair('Ed25519')
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const victim = peerIdFromPrivateKey(key).toString()
  const before = (await rejectedCounts())['bad-signature'] ?? 0
  // The rogue claims to hold 5 events of `victim` and serves events with garbage signatures when asked.
  serveRepair = (msg: any) => {
    if (msg.type === 'digest') return { v: 1, type: 'digest', heads: { [victim]: 5 } }
    const events = [1, 2, 3, 4, 5].map(seq => ({ v: 1, type: 'user', topic: 't', origin: victim, seq, hlc: { wall: Date.now(), logical: 0 }, data: '"x"', sig: 'AAAA' }))
    return { v: 1, type: 'events', events, more: false }
  }
  const { requestFrame } = await import('@shoal/node')
  await requestFrame(rogue, (await import('@libp2p/peer-id')).peerIdFromString(daemon.peerId), protocols.events, { v: 1, type: 'digest', heads: { [victim]: 5 } }, { signal: AbortSignal.timeout(5000) })
  await waitUntil('the forged repair batch to be rejected', async () => ((await rejectedCounts())['bad-signature'] ?? 0) > before)
  const stats = await daemon.client.call('events.stats', {})
  assert.is(stats.heads[victim], undefined, 'no forged event was stored')
  const info = await daemon.client.call('node.info', {})
  assert.is(info.peerId, daemon.peerId, 'the daemon still answers')
  assert.is(daemon.child.exitCode, null)
})

/**
 * Has the rogue serve six events of a fresh origin in two pulls (seqs 1-3 with `more`, then 4-6), seq `forged`
 * keeping its shape but carrying the signature of the seq before it, and tells the daemon it holds them. Returns
 * the origin and the `from` of each pull asked, once the forged event has been rejected.
 */
async function serveTwoBatches (forged: number): Promise<{ origin: string, pulls: number[] }> {
  const key = await generateKeyPair('Ed25519')
  const { peerIdFromPrivateKey, peerIdFromString } = await import('@libp2p/peer-id')
  const origin = peerIdFromPrivateKey(key).toString()
  const before = (await rejectedCounts())['bad-signature'] ?? 0
  const signed = await Promise.all([1, 2, 3, 4, 5, 6].map(async seq =>
    await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq, hlc: { wall: Date.now(), logical: 0 }, data: JSON.stringify({ seq }) }, key)))
  const served = signed.map(e => e.seq === forged ? { ...e, sig: signed[forged - 2]!.sig } : e)
  const pulls: number[] = []
  serveRepair = (msg: any) => {
    if (msg.type === 'digest') return { v: 1, type: 'digest', heads: { [origin]: 6 } }
    pulls.push(msg.from)
    return msg.from <= 3
      ? { v: 1, type: 'events', events: served.filter(e => e.seq >= msg.from && e.seq <= 3), more: true }
      : { v: 1, type: 'events', events: served.filter(e => e.seq >= msg.from), more: false }
  }
  const { requestFrame } = await import('@shoal/node')
  await requestFrame(rogue, peerIdFromString(daemon.peerId), protocols.events, { v: 1, type: 'digest', heads: { [origin]: 6 } }, { signal: AbortSignal.timeout(5000) })
  await waitUntil(`the forged seq ${forged} to be rejected`, async () => ((await rejectedCounts())['bad-signature'] ?? 0) > before)
  return { origin, pulls }
}

test('a forged event in the second batch of a pull fails that batch: the first batch is stored, nothing of the second', async () => {
  const { origin, pulls } = await serveTwoBatches(5)
  await waitUntil('the first batch to be stored', async () => (await daemon.client.call('events.stats', {})).heads[origin] === 3)
  assert.ok(pulls.includes(1) && pulls.includes(4), `pulled from ${pulls.join(', ')}`)
  const list = await daemon.client.call('events.list', { topic: 't', limit: 100 })
  assert.equal(list.events.filter((e: any) => e.origin === origin).map((e: any) => e.seq), [1, 2, 3], 'only the first batch was stored')
})

/** Ed25519 checks the daemon found valid so far (its metrics). */
async function validChecks (): Promise<number> {
  return samples(await scrapeMetrics(daemon)).get('shoal_events_signature_checks_total{outcome="valid"}') ?? 0
}

test('a pull asks for the next batch as the first arrives, and a forged first batch stores nothing of either', async () => {
  const stored = (await daemon.client.call('events.stats', {})).stored
  const valid = await validChecks()
  // Seq 2 is forged; the second batch (4-6) is genuine.
  const { origin, pulls } = await serveTwoBatches(2)
  // Asked for before the first batch was checked (the pull overlaps a batch's checks with the next one's transfer).
  await waitUntil('the second batch to be asked for', () => pulls.includes(4) ? true : undefined)
  // And checked as it arrived: seqs 1 and 3, then 4, 5 and 6 are found valid. Were it stored, it would be by now.
  await waitUntil('the second batch to be checked', async () => await validChecks() >= valid + 5 ? true : undefined)
  const stats = await daemon.client.call('events.stats', {})
  assert.is(stats.heads[origin], undefined, 'nothing of the first batch was stored')
  assert.is(stats.stored, stored, 'nor of the second (events held behind a gap count as stored)')
})

test.run()
