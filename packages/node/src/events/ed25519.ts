/**
 * Ed25519 on the main thread through libsodium (the `sodium-native` addon), with node:crypto (OpenSSL) in its place
 * where the addon does not load. Measured on this project's 2-core VMs (docs/decisions/0024-libsodium-ed25519.md):
 * verify 50-69 µs against node:crypto's 117-120 µs, sign 19-25 against 41-44 µs. Both implement RFC 8032 and give
 * the same signatures (Ed25519 is deterministic); for signatures made by a real key they agree. libsodium is the
 * stricter on crafted input (small-order keys and R points, non-canonical encodings), which only the holder of a
 * key, or a made-up key, could produce, and which affects only that key's own events.
 *
 * Signing many at once on libuv's thread pool stays on node:crypto (libsodium's calls are synchronous); checking many
 * at once runs this module's verify on a worker thread (verify-pool.ts).
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'

type Sodium = typeof import('sodium-native')

// DER prefixes that wrap a raw 32-byte Ed25519 key as SPKI (public) and PKCS#8 (private, from the seed).
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SIGNATURE_BYTES = 64
const PUBLIC_KEY_BYTES = 32

/**
 * The addon, or undefined where it does not load (no prebuild for the platform, or SHOAL_ED25519=node-crypto).
 * A dynamic import, so that a missing addon leaves node:crypto in its place instead of failing the daemon's start;
 * with a literal name, so that the release bundle (scripts/bundle.mjs) takes it in and points it at its addon.
 */
const sodium: Sodium | undefined = process.env.SHOAL_ED25519 === 'node-crypto'
  ? undefined
  : await import('sodium-native').then(m => (m as { default?: Sodium }).default ?? m, () => undefined)

/** Which implementation signs and verifies on the main thread here: 'libsodium' or 'node:crypto'. */
export const ed25519Backend: 'libsodium' | 'node:crypto' = sodium === undefined ? 'node:crypto' : 'libsodium'

/** An Ed25519 public key in both forms the two libraries take, the KeyObject built on first use. */
export class Ed25519PublicKey {
  private object: KeyObject | undefined

  /** `raw`: the 32-byte key (RangeError otherwise). */
  constructor (readonly raw: Buffer) {
    if (raw.length !== PUBLIC_KEY_BYTES) throw new RangeError(`an Ed25519 public key has ${PUBLIC_KEY_BYTES} bytes, not ${raw.length}`)
  }

  keyObject (): KeyObject {
    this.object ??= createPublicKey({ key: Buffer.concat([SPKI_ED25519, this.raw]), format: 'der', type: 'spki' })
    return this.object
  }
}

/** Per private key: libsodium's 64-byte secret key (seed, then public key) and node:crypto's KeyObject. */
const secretKeys = new WeakMap<PrivateKey, { secret: Buffer, object?: KeyObject }>()

function secretOf (key: PrivateKey): { secret: Buffer, object?: KeyObject } {
  let entry = secretKeys.get(key)
  if (entry === undefined) {
    // libp2p's Ed25519 raw private key is always the seed, then the public key (64 bytes): libsodium's form.
    entry = { secret: Buffer.from(key.raw) }
    secretKeys.set(key, entry)
  }
  return entry
}

/** node:crypto's KeyObject for an Ed25519 private key, built once per key. */
export function privateKeyObject (key: PrivateKey): KeyObject {
  const entry = secretOf(key)
  entry.object ??= createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, entry.secret.subarray(0, 32)]), format: 'der', type: 'pkcs8' })
  return entry.object
}

/** The 64-byte signature of `message` by the Ed25519 `key`, on this thread. */
export function signEd25519 (message: Uint8Array, key: PrivateKey): Uint8Array {
  if (sodium === undefined) return nodeSign(null, message, privateKeyObject(key))
  const signature = Buffer.allocUnsafe(SIGNATURE_BYTES)
  sodium.crypto_sign_detached(signature, asBuffer(message), secretOf(key).secret)
  return signature
}

/** Whether `signature` is `key`'s over `message`, on this thread; false (not a throw) for a wrong-size signature. */
export function verifyEd25519 (message: Uint8Array, signature: Uint8Array, key: Ed25519PublicKey): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false
  if (sodium === undefined) return nodeVerify(null, message, key.keyObject(), signature)
  return sodium.crypto_sign_verify_detached(asBuffer(signature), asBuffer(message), key.raw)
}

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
