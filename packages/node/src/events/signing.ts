/**
 * Ed25519 signatures on events: the origin signs, anyone verifies with the key inside the origin's peer id.
 * Uses node:crypto with KeyObjects cached per key: building a KeyObject costs more than the signature itself,
 * and a busy node verifies the same few origins thousands of times (measured: half of a receiver's CPU).
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signingBytes } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'

export type UnsignedEvent = Omit<ShoalEvent, 'sig'>

// DER prefixes that wrap a raw 32-byte Ed25519 key as SPKI (public) and PKCS#8 (private, from the seed).
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
/** Origins whose keys stay cached; beyond it the oldest are dropped (a Map keeps insertion order). */
const MAX_CACHED_KEYS = 4096

const publicKeys = new Map<string, KeyObject | null>()
const privateKeys = new WeakMap<PrivateKey, KeyObject>()

/**
 * Signs `event` with `key`. `offload` signs an Ed25519 key on libuv's thread pool instead of the main thread (as
 * `verifyEvent`'s): one signature then takes a round trip longer, but a group signed together runs on every core
 * while the main thread goes on (the own-events write path signs groups of 16 or more this way).
 */
export async function signEvent (event: UnsignedEvent, key: PrivateKey, opts: { offload?: boolean } = {}): Promise<ShoalEvent> {
  const bytes = signingBytes({ ...event, sig: '' })
  let sig: Uint8Array
  if (key.type !== 'Ed25519') sig = await key.sign(bytes)
  else if (opts.offload !== true) sig = sign(null, bytes, ed25519KeyObject(key))
  else {
    const keyObject = ed25519KeyObject(key)
    sig = await new Promise<Uint8Array>((resolve, reject) => { sign(null, bytes, keyObject, (err, out) => { if (err === null) resolve(out); else reject(err) }) })
  }
  return { ...event, sig: Buffer.from(sig).toString('base64url') }
}

function ed25519KeyObject (key: PrivateKey): KeyObject {
  let keyObject = privateKeys.get(key)
  if (keyObject === undefined) {
    keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, key.raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' })
    privateKeys.set(key, keyObject)
  }
  return keyObject
}

/**
 * The node's key as libp2p gets it: the same key (type, raw bytes, public key, prototype), whose `sign` uses the
 * cached KeyObject. @libp2p/crypto's Ed25519 `sign` builds a KeyObject from JWK on every call (about 20 µs, as
 * much as the signature), and gossipsub signs every message it publishes. Other key types are returned as is.
 */
export function cachedSigningKey<K extends PrivateKey> (key: K): K {
  if (key.type !== 'Ed25519') return key
  const wrapped: K = Object.create(key)
  Object.defineProperty(wrapped, 'sign', {
    value: (message: Uint8Array | { subarray: () => Uint8Array }, options?: { signal?: AbortSignal }): Uint8Array => {
      options?.signal?.throwIfAborted()
      return sign(null, message instanceof Uint8Array ? message : message.subarray(), ed25519KeyObject(key))
    }
  })
  return wrapped
}

/**
 * False for a bad signature, an origin that is not an Ed25519 peer id, or an undecodable signature. `offload`
 * verifies on libuv's thread pool instead of the main thread: one verification then takes a round trip longer,
 * but many started together run in parallel (catch-up pulls of hundreds of records; measured on 2 cores: 80 µs
 * each on the main thread, 48 µs each 256 at a time offloaded).
 */
export async function verifyEvent (event: ShoalEvent, opts: { offload?: boolean } = {}): Promise<boolean> {
  const key = publicKeyOf(event.origin)
  if (key === null) return false
  try {
    const bytes = signingBytes(event)
    const sig = Buffer.from(event.sig, 'base64url')
    if (opts.offload !== true) return verify(null, bytes, key, sig)
    return await new Promise<boolean>(resolve => { verify(null, bytes, key, sig, (err, ok) => { resolve(err === null && ok) }) })
  } catch {
    return false
  }
}

function publicKeyOf (origin: string): KeyObject | null {
  const cached = publicKeys.get(origin)
  if (cached !== undefined) return cached
  let key: KeyObject | null = null
  try {
    const publicKey = peerIdFromString(origin).publicKey
    if (publicKey?.type === 'Ed25519') key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey.raw]), format: 'der', type: 'spki' })
  } catch {}
  if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
  publicKeys.set(origin, key)
  return key
}
