/**
 * Checks of many signatures at once (events/batch-verify.ts): the verdict of each check is its own, on the main
 * thread while the worker starts and on the worker once it has; a few at once stay on the main thread; a worker
 * that cannot start leaves every check to the main thread, with the same verdicts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { BatchVerifier, MIN_OFFLOADED_CHECKS } from '../src/events/batch-verify.js'
import { Ed25519PublicKey, signEd25519 } from '../src/events/ed25519.js'

interface Case { message: Buffer, signature: Uint8Array, key: Ed25519PublicKey, valid: boolean }

/** `n` signed messages from two keys; every 7th message altered after signing, every 11th signature cut short. */
async function cases (n: number): Promise<Case[]> {
  const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  return Array.from({ length: n }, (_, i) => {
    const key = keys[i % 2]!
    const message = Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i % 50) }))
    let signature = signEd25519(message, key)
    let valid = true
    if (i % 7 === 3) { message[0] = 0x20; valid = false }
    if (i % 11 === 5) { signature = signature.subarray(0, 60); valid = false }
    return { message, signature, key: new Ed25519PublicKey(Buffer.from(key.publicKey.raw)), valid }
  })
}

/** Of `all`, the checks that reach Ed25519 (a signature of the wrong size is refused before). */
const ed25519Checks = (all: Case[]): number => all.filter(c => c.signature.length === 64).length

async function check (v: BatchVerifier, all: Case[]): Promise<void> {
  const verdicts = await Promise.all(all.map(async c => await v.verify(c.message, c.signature, c.key)))
  verdicts.forEach((ok, i) => { assert.is(ok, all[i]!.valid, `check ${i}`) })
}

test('each check gets its own verdict, on the main thread while the worker starts, then on the worker', async () => {
  const v = new BatchVerifier({ threads: 2 })
  try {
    const all = await cases(300)
    await check(v, all)
    assert.is(v.counts.offloaded, 0, 'the first turn runs before any worker has answered')
    assert.is(v.counts.here, ed25519Checks(all))
    const deadline = Date.now() + 20_000
    while (v.counts.offloaded === 0) {
      assert.ok(Date.now() < deadline, 'no check went to the worker within 20 s')
      await check(v, all)
    }
    assert.ok(v.counts.offloaded >= ed25519Checks(all), `offloaded ${v.counts.offloaded}`)
  } finally {
    await v.close()
  }
})

test('fewer checks than MIN_OFFLOADED_CHECKS in one turn stay on the main thread', async () => {
  const v = new BatchVerifier({ threads: 1 })
  try {
    const all = await cases(MIN_OFFLOADED_CHECKS - 1)
    for (let round = 0; round < 3; round++) await check(v, all)
    assert.equal(v.counts, { here: 3 * ed25519Checks(all), offloaded: 0 })
  } finally {
    await v.close()
  }
})

test('a worker that cannot start leaves every check to the main thread, with the same verdicts', async () => {
  const v = new BatchVerifier({ threads: 1, worker: new URL('./no-such-verify-worker.js', import.meta.url) })
  try {
    const all = await cases(100)
    for (let round = 0; round < 5; round++) {
      await check(v, all)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert.is(v.counts.offloaded, 0)
    assert.is(v.counts.here, 5 * ed25519Checks(all))
  } finally {
    await v.close()
  }
})

test.run()
