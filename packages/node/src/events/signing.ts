/**
 * Ed25519 signatures on events: the origin signs, anyone verifies with the key inside the origin's peer id.
 * One-at-a-time signatures and checks run on the main thread through libsodium (ed25519.ts); many signatures at
 * once go to libuv's thread pool through node:crypto, many checks at once to a worker thread (verify-pool.ts).
 * Keys are cached: building node:crypto's KeyObject costs more than the signature itself, and a busy node
 * verifies the same few origins thousands of times.
 */
import { sign } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signingBytes, signingText } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { Ed25519PublicKey, privateKeyObject, signEd25519, verifyEd25519 } from './ed25519.js'
import { verifyPool } from './verify-pool.js'

export type UnsignedEvent = Omit<ShoalEvent, 'sig'>

/** Origins whose keys stay cached; beyond it the oldest are dropped (a Map keeps insertion order). */
const MAX_CACHED_KEYS = 4096

const publicKeys = new Map<string, Ed25519PublicKey | null>()

/**
 * Signs `event` with `key`. `offload` signs an Ed25519 key on libuv's thread pool through node:crypto instead of
 * the main thread: one signature then takes a round trip longer, but a group signed together runs on every core
 * while the main thread goes on (the own-events write path signs groups of 16 or more this way).
 */
export async function signEvent (event: UnsignedEvent, key: PrivateKey, opts: { offload?: boolean } = {}): Promise<ShoalEvent> {
  const bytes = signingBytes({ ...event, sig: '' })
  let sig: Uint8Array
  if (key.type !== 'Ed25519') sig = await key.sign(bytes)
  else if (opts.offload !== true) sig = signEd25519(bytes, key)
  else {
    const keyObject = privateKeyObject(key)
    sig = await new Promise<Uint8Array>((resolve, reject) => { sign(null, bytes, keyObject, (err, out) => { if (err === null) resolve(out); else reject(err) }) })
  }
  return { ...event, sig: Buffer.from(sig).toString('base64url') }
}

/**
 * The node's key as libp2p gets it: the same key (type, raw bytes, public key, prototype), whose `sign` is
 * signEd25519's (libsodium, keys cached). @libp2p/crypto's Ed25519 `sign` builds a KeyObject from JWK on every call
 * (about 20 µs, as much as the signature). Other key types are returned as is.
 */
export function cachedSigningKey<K extends PrivateKey> (key: K): K {
  if (key.type !== 'Ed25519') return key
  const wrapped: K = Object.create(key)
  Object.defineProperty(wrapped, 'sign', {
    value: (message: Uint8Array | { subarray: () => Uint8Array }, options?: { signal?: AbortSignal }): Uint8Array => {
      options?.signal?.throwIfAborted()
      return signEd25519(message instanceof Uint8Array ? message : message.subarray(), key)
    }
  })
  return wrapped
}

/** Characters of signing text (and signatures) VerifiedSignatures keeps at most, in all. */
export const VERIFIED_MAX_CHARS = 2 * 1024 * 1024
/** Signing texts longer than this are not kept (a few large events must not push out many small ones). */
export const VERIFIED_MAX_ENTRY_CHARS = 16 * 1024

/**
 * Signatures this node found valid, each with the exact text it was checked over (core `signingText`). One event
 * reaches a node by several paths, and each path checks it: the gossip copy, a KV push asking this node's ack
 * (acks 2, quorum), repair and anti-entropy pulls. With this only the first pays the Ed25519 check (50-69 µs
 * on this box with libsodium, 80-120 µs with node:crypto); a later copy costs a lookup and a string compare. Only
 * valid signatures are kept, keyed by the signature, and a copy counts as known only if its signing text is
 * identical, so a copy changed in anything the signature covers is checked in full (and fails). Least recently
 * used first out, bounded by characters.
 */
export class VerifiedSignatures {
  private readonly cache = new LRUCache<string, string>({
    maxSize: VERIFIED_MAX_CHARS,
    maxEntrySize: VERIFIED_MAX_ENTRY_CHARS,
    sizeCalculation: (text, sig) => text.length + sig.length
  })

  /** Whether `sig` was found valid over exactly `text`. */
  has (sig: string, text: string): boolean {
    return this.cache.get(sig) === text
  }

  /** Records that `sig` is valid over `text` (call only after a successful verification). */
  add (sig: string, text: string): void {
    this.cache.set(sig, text)
  }
}

/** How checkSignature ended: 'known' when `verified` already held the signature over the same text. */
export type VerifyOutcome = 'valid' | 'known' | 'invalid'

/**
 * False for a bad signature, an origin that is not an Ed25519 peer id, or an undecodable signature. `offload`
 * joins the checks asked for in the same turn of the event loop, done together off the main thread (verify-pool.ts:
 * catch-up pulls of hundreds of records) instead of at once on it; one check then takes a turn longer. With `verified`, a signature already found valid over the same signing text is not checked again, and a
 * valid one is added (see VerifiedSignatures).
 */
export async function verifyEvent (event: ShoalEvent, opts: { offload?: boolean, verified?: VerifiedSignatures } = {}): Promise<boolean> {
  return (await checkSignature(event, opts)) !== 'invalid'
}

/** verifyEvent, saying whether the signature was checked now ('valid') or was known already ('known'). */
export async function checkSignature (event: ShoalEvent, opts: { offload?: boolean, verified?: VerifiedSignatures } = {}): Promise<VerifyOutcome> {
  const key = publicKeyOf(event.origin)
  if (key === null) return 'invalid'
  try {
    const text = signingText(event)
    if (opts.verified?.has(event.sig, text) === true) return 'known'
    const bytes = Buffer.from(text, 'utf8')
    const sig = Buffer.from(event.sig, 'base64url')
    const ok = opts.offload !== true ? verifyEd25519(bytes, sig, key) : await verifyPool.verify(bytes, sig, key)
    if (!ok) return 'invalid'
    opts.verified?.add(event.sig, text)
    return 'valid'
  } catch {
    return 'invalid'
  }
}

function publicKeyOf (origin: string): Ed25519PublicKey | null {
  const cached = publicKeys.get(origin)
  if (cached !== undefined) return cached
  let key: Ed25519PublicKey | null = null
  try {
    const publicKey = peerIdFromString(origin).publicKey
    if (publicKey?.type === 'Ed25519') key = new Ed25519PublicKey(Buffer.from(publicKey.raw))
  } catch {}
  if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
  publicKeys.set(origin, key)
  return key
}
