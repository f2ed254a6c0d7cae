/**
 * Event signatures (events/signing.ts, events/ed25519.ts): the thread-pool path (node:crypto) gives the same
 * signature as the main-thread path (libsodium; Ed25519 is deterministic), and each verifies the other's; node:crypto
 * stands in where libsodium is not loaded, with the same signatures; a signature found valid once is not checked
 * again for an identical copy, and a copy changed in anything signed is still checked (and refused).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EVENT_WIRE_VERSION } from '@shoal/core'
import { execFileSync } from 'node:child_process'
import { VerifiedSignatures, checkSignature, signEvent, verifyEvent } from '../src/events/signing.js'
import { ed25519Backend } from '../src/events/ed25519.js'
import type { UnsignedEvent } from '../src/events/signing.js'

test('a signature made on the thread pool equals the main thread\'s, and verifies; a changed event does not', async () => {
  const key = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(key).toString()
  for (let seq = 1; seq <= 20; seq++) {
    const unsigned: UnsignedEvent = { v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin, seq, hlc: { wall: 1_700_000_000_000 + seq, logical: 0 }, data: JSON.stringify({ seq }) }
    const [here, pooled] = await Promise.all([signEvent(unsigned, key), signEvent(unsigned, key, { offload: true })])
    assert.is(pooled.sig, here.sig)
    assert.ok(await verifyEvent(pooled))
    assert.ok(await verifyEvent(here, { offload: true }))
    assert.not.ok(await verifyEvent({ ...pooled, data: JSON.stringify({ seq: seq + 1 }) }))
    assert.not.ok(await verifyEvent({ ...pooled, data: JSON.stringify({ seq: seq + 1 }) }, { offload: true }))
  }
})

test('libsodium signs and verifies on linux-x64 (the release platform); a signature of the wrong size is refused, not thrown', async () => {
  if (process.platform === 'linux' && process.arch === 'x64') assert.is(ed25519Backend, 'libsodium')
  const key = await generateKeyPair('Ed25519')
  const event = await signEvent({ v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin: peerIdFromPrivateKey(key).toString(), seq: 1, hlc: { wall: 1_700_000_000_000, logical: 0 }, data: '{}' }, key)
  for (const sig of [event.sig.slice(0, 20), event.sig + 'AAAA', '', '!!']) {
    assert.is(await checkSignature({ ...event, sig }), 'invalid', `sig ${JSON.stringify(sig)}`)
    assert.is(await checkSignature({ ...event, sig }, { offload: true }), 'invalid', `sig ${JSON.stringify(sig)} offloaded`)
  }
})

test('with SHOAL_ED25519=node-crypto, node:crypto signs on the main thread, and its signatures are libsodium\'s', async () => {
  const key = await generateKeyPair('Ed25519')
  const unsigned: UnsignedEvent = { v: EVENT_WIRE_VERSION, type: 'user', topic: 't', origin: peerIdFromPrivateKey(key).toString(), seq: 3, hlc: { wall: 1_700_000_000_000, logical: 2 }, data: '{"x":[1,2]}' }
  const here = await signEvent(unsigned, key)
  const script = `
    const { privateKeyFromRaw } = await import('@libp2p/crypto/keys')
    const { ed25519Backend } = await import(${JSON.stringify(new URL('../src/events/ed25519.js', import.meta.url).href)})
    const { signEvent, verifyEvent } = await import(${JSON.stringify(new URL('../src/events/signing.js', import.meta.url).href)})
    const key = privateKeyFromRaw(Buffer.from(process.argv[1], 'hex'))
    const event = await signEvent(JSON.parse(process.argv[2]), key)
    console.log(JSON.stringify({ backend: ed25519Backend, sig: event.sig, verifies: await verifyEvent(JSON.parse(process.argv[3])) }))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, Buffer.from(key.raw).toString('hex'), JSON.stringify(unsigned), JSON.stringify(here)], {
    env: { ...process.env, SHOAL_ED25519: 'node-crypto' },
    cwd: new URL('.', import.meta.url),
    encoding: 'utf8'
  })
  const { backend, sig, verifies } = JSON.parse(out) as { backend: string, sig: string, verifies: boolean }
  assert.is(backend, 'node:crypto')
  assert.is(sig, here.sig)
  assert.ok(verifies)
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
