/**
 * Event signatures (events/signing.ts): the thread-pool path gives the same signature as the main-thread path
 * (Ed25519 is deterministic), and both verify.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EVENT_WIRE_VERSION } from '@shoal/core'
import { signEvent, verifyEvent } from '../src/events/signing.js'
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

test.run()
