/**
 * The thread side of VerifyPool (verify-pool.ts): checks a batch of Ed25519 signatures with ed25519.ts's
 * verifyEd25519 (libsodium, or node:crypto where the addon does not load) and answers one byte per signature,
 * 1 valid, 0 not. piscina calls the default export with a VerifyBatch.
 */
import { Ed25519PublicKey, verifyEd25519 } from './ed25519.js'

/** Which implementation this thread verifies with ('libsodium' or 'node:crypto'), for the release's own check. */
export { ed25519Backend } from './ed25519.js'

/**
 * n signatures packed in four buffers (transferred, not copied): message i is
 * `messages[offsets[i] .. offsets[i + 1])`, its signature `signatures[64 i .. 64 i + 64)` and its origin's raw
 * public key `keys[32 i .. 32 i + 32)`.
 */
export interface VerifyBatch {
  messages: Uint8Array
  /** n + 1 byte offsets into `messages`, the first 0 and the last messages.length. */
  offsets: Uint32Array
  signatures: Uint8Array
  keys: Uint8Array
}

/** Key objects of the origins seen lately (a batch usually holds one origin's events). */
const keys = new Map<string, Ed25519PublicKey>()
const MAX_KEYS = 256

function keyOf (raw: Uint8Array): Ed25519PublicKey {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex')
  let key = keys.get(id)
  if (key === undefined) {
    key = new Ed25519PublicKey(Buffer.from(raw))
    if (keys.size >= MAX_KEYS) keys.clear()
    keys.set(id, key)
  }
  return key
}

export default function verifyBatch (batch: VerifyBatch): Uint8Array {
  const n = batch.offsets.length - 1
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const message = batch.messages.subarray(batch.offsets[i], batch.offsets[i + 1])
    const signature = batch.signatures.subarray(64 * i, 64 * i + 64)
    try {
      out[i] = verifyEd25519(message, signature, keyOf(batch.keys.subarray(32 * i, 32 * i + 32))) ? 1 : 0
    } catch {
      out[i] = 0
    }
  }
  return out
}
