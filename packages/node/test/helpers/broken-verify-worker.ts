/**
 * A stand-in for verify-worker.ts that starts but cannot do its job (verify-pool.test.ts): it answers the empty
 * batch VerifyPool starts a worker with, then, by the SHOAL_TEST_VERIFY_WORKER mode its thread was started with,
 * throws on a real batch ('throw') or answers one verdict short, every one "valid" ('short').
 */
import type { VerifyBatch } from '../../src/events/verify-worker.js'

export default function brokenVerify (batch: VerifyBatch): Uint8Array {
  const n = batch.offsets.length - 1
  if (n === 0) return new Uint8Array(0)
  if (process.env.SHOAL_TEST_VERIFY_WORKER === 'short') return new Uint8Array(n - 1).fill(1)
  throw new Error('this worker cannot check signatures')
}
