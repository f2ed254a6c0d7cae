/**
 * Event signatures (events/signing.ts): the thread-pool path gives the same signature as the main-thread path
 * (Ed25519 is deterministic), and both verify; a signature found valid once is not checked again for an
 * identical copy, and a copy changed in anything signed is still checked (and refused).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EVENT_WIRE_VERSION } from '@shoal/core'
import { VerifiedSignatures, checkSignature, signEvent, verifyEvent } from '../src/events/signing.js'
import type { UnsignedEvent } from '../src/events/signing.js'

test('a signature made on the thread pool equals the main thread\'s, and verifies; a changed event does not', async () => {
  const key = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(key).toString()
  for (let seq = 1; seq <= 20; seq++) {
    const unsigned: UnsignedEvent = { v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq, hlc: { wall: 1_700_000_000_000 + seq, logical: 0 }, data: JSON.stringify({ seq }) }
    const [here, pooled] = await Promise.all([signEvent(unsigned, key), signEvent(unsigned, key, { offload: true })])
    assert.is(pooled.sig, here.sig)
    assert.ok(await verifyEvent(pooled))
    assert.not.ok(await verifyEvent({ ...pooled, data: JSON.stringify({ seq: seq + 1 }) }))
  }
})

test('a known signature skips the check only for the identical signed text; a changed copy is checked and refused', async () => {
  const key = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(key).toString()
  const event = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq: 7, hlc: { wall: 1_700_000_000_000, logical: 0 }, data: '{"a":1}' }, key)
  const verified = new VerifiedSignatures()
  assert.is(await checkSignature(event, { verified }), 'valid')
  assert.is(await checkSignature({ ...event }, { verified }), 'known', 'an identical copy')
  assert.is(await checkSignature(event, { verified, offload: true }), 'known')
  // Same signature, different signed content: each is checked in full, and fails.
  assert.is(await checkSignature({ ...event, data: '{"a":2}' }, { verified }), 'invalid')
  assert.is(await checkSignature({ ...event, seq: 8 }, { verified }), 'invalid')
  assert.is(await checkSignature({ ...event, hlc: { wall: event.hlc.wall, logical: 1 } }, { verified }), 'invalid')
  assert.is(await checkSignature({ ...event, trace: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, { verified }), 'invalid')
  // A bad signature is never remembered: the same bad copy is refused every time.
  const forged = { ...event, sig: event.sig.slice(0, -2) + (event.sig.endsWith('AA') ? 'BA' : 'AA') }
  assert.is(await checkSignature(forged, { verified }), 'invalid')
  assert.is(await checkSignature(forged, { verified }), 'invalid')
  // Without a cache every check is a full one.
  assert.is(await checkSignature(event), 'valid')
})

test.run()
