/**
 * Checks of many signatures at once (events/verify-pool.ts): each check gets its own verdict wherever it runs: on
 * libuv's pool while the worker starts, on the worker once it has, on the main thread when a turn holds only a
 * few; a worker that cannot load, that fails a batch, or that answers the wrong number of verdicts leaves the
 * checks to libuv's pool with the same verdicts, and says so once; close() does not turn the workers off.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MIN_OFFLOADED_CHECKS, VerifyPool } from '../src/events/verify-pool.js'
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

/** One turn of checks of `all`, each verdict asserted. */
async function check (pool: VerifyPool, all: Case[]): Promise<void> {
  const verdicts = await Promise.all(all.map(async c => await pool.verify(c.message, c.signature, c.key)))
  verdicts.forEach((ok, i) => { assert.is(ok, all[i]!.valid, `check ${i}`) })
}

/** Checks turn after turn until a worker has done some (at most 20 s). */
async function untilWorker (pool: VerifyPool, all: Case[]): Promise<void> {
  const deadline = Date.now() + 20_000
  while (pool.counts.worker === 0) {
    assert.ok(Date.now() < deadline, 'no check went to a worker within 20 s')
    await check(pool, all)
  }
}

test('each check gets its own verdict: on libuv\'s pool while the worker starts, then on the worker', async () => {
  const pool = new VerifyPool({ threads: 2 })
  try {
    const all = await cases(300)
    await check(pool, all)
    assert.equal(pool.counts, { mainThread: 0, worker: 0, threadPool: ed25519Checks(all) }, 'the first turn runs before any worker has answered')
    await untilWorker(pool, all)
    assert.ok(pool.counts.worker >= ed25519Checks(all), `on a worker: ${pool.counts.worker}`)
  } finally {
    await pool.close()
  }
})

test('fewer checks than MIN_OFFLOADED_CHECKS in one turn run on the main thread, with a worker alive', async () => {
  const pool = new VerifyPool({ threads: 1 })
  try {
    await untilWorker(pool, await cases(100))
    const before = { ...pool.counts }
    const few = await cases(MIN_OFFLOADED_CHECKS - 1)
    for (let round = 0; round < 3; round++) await check(pool, few)
    assert.equal(pool.counts, { ...before, mainThread: before.mainThread + 3 * ed25519Checks(few) })
  } finally {
    await pool.close()
  }
})

/** A pool whose worker is `helpers/broken-verify-worker.js` in `mode`, or a module that does not exist. */
function failingPool (mode: 'missing' | 'throw' | 'short'): { pool: VerifyPool, failures: unknown[] } {
  const failures: unknown[] = []
  process.env.SHOAL_TEST_VERIFY_WORKER = mode
  const worker = new URL(mode === 'missing' ? './no-such-verify-worker.js' : './helpers/broken-verify-worker.js', import.meta.url)
  return { pool: new VerifyPool({ threads: 1, worker, onFailure: err => { failures.push(err) } }), failures }
}

for (const mode of ['missing', 'throw', 'short'] as const) {
  const what = { missing: 'cannot load', throw: 'fails every batch', short: 'answers one verdict short, all "valid"' }[mode]
  test(`a worker that ${what}: every check still gets its own verdict (on libuv's pool), and the failure is told once`, async () => {
    const { pool, failures } = failingPool(mode)
    try {
      const all = await cases(100)
      // The first turn starts a worker; the turns until it answers go to libuv's pool. 'missing' fails there;
      // 'throw' and 'short' answer the empty start batch, then fail the first real batch, whose checks are then
      // done on libuv's pool too.
      let rounds = 0
      const deadline = Date.now() + 20_000
      while (failures.length === 0) {
        assert.ok(Date.now() < deadline, 'the failure was not told within 20 s')
        await check(pool, all)
        rounds++
      }
      for (let more = 0; more < 3; more++, rounds++) await check(pool, all)
      assert.is(pool.counts.worker, 0, 'no verdict taken from the worker')
      assert.is(pool.counts.threadPool, rounds * ed25519Checks(all))
      assert.is(failures.length, 1, 'told once, not once per turn')
    } finally {
      await pool.close()
      delete process.env.SHOAL_TEST_VERIFY_WORKER
    }
  })
}

test('close() while a batch is on a worker: its checks are done elsewhere, and later ones go to a new worker', async () => {
  const pool = new VerifyPool({ threads: 1, onFailure: err => { assert.unreachable(`close() counted as a failure: ${String(err)}`) } })
  try {
    const all = await cases(200)
    await untilWorker(pool, all)
    const turn = check(pool, all)
    await new Promise(resolve => setImmediate(resolve)) // the turn's batch is now with the worker
    await pool.close()
    await turn
    const before = pool.counts.worker
    const deadline = Date.now() + 20_000
    while (pool.counts.worker === before) {
      assert.ok(Date.now() < deadline, 'no check went to a new worker within 20 s of close()')
      await check(pool, all)
    }
  } finally {
    await pool.close()
  }
})

test.run()
