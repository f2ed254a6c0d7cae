/**
 * The KV repository's record types, key layout and input checks (docs/protocols/kv.md). The store keeps what it
 * is given: the merge rule lives in core.
 */
import type { KvRecord, KvVersion } from '@shoal/core'
import { STORE_ERRORS, StoreError } from './store.js'
import { isCounter, pad } from './event-records.js'

export type { KvVersion } from '@shoal/core'

/** A replica's record: core's KV record (the winning signed event with its key, value and version). */
export type StoredKvRecord = KvRecord

/** One record to store, as the caller's merge decided it. */
export interface KvChange {
  record: StoredKvRecord
  /** What was stored for the key before this change (what `get` returned); absent for a new key. Counters use it. */
  previous?: StoredKvRecord
}

/** `kv-leaf` value: the record's version and its Merkle digest (core's recordDigest; absent in stores written before). */
export interface LeafValue { wall: number, logical: number, node: string, h?: string }

/** `kv-changes` value, and one entry of `changes()`. */
export interface KvChangeEntry { change: number, key: string, version: KvVersion }
export interface ChangeValue { key: string, version: KvVersion }

export const changeKey = pad

const HEX_HASH = /^[0-9a-f]{64}$/
export const isDigest = (v: unknown): v is string => typeof v === 'string' && HEX_HASH.test(v)

/** The approximate size a live value counts for in `bytes`: its JSON text in UTF-8 (tombstones count 0). */
export function valueBytes (record: StoredKvRecord | undefined): number {
  if (record === undefined || record.tombstone) return 0
  const text = JSON.stringify(record.value)
  return text === undefined ? 0 : Buffer.byteLength(text)
}

export function isVersion (v: unknown): v is KvVersion {
  const x = v as KvVersion | null
  return typeof x === 'object' && x !== null && isCounter(x.wall) && isCounter(x.logical) && typeof x.node === 'string' && x.node !== ''
}

/** A stored value that is a record for `key`: anything else is damaged, and read as absent. */
export function isKvRecord (v: unknown, key: string): v is StoredKvRecord {
  const r = v as StoredKvRecord | null
  return typeof r === 'object' && r !== null && r.key === key && typeof r.tombstone === 'boolean' && isVersion(r.version) &&
    typeof r.event === 'object' && r.event !== null
}

export function isChangeValue (v: unknown): v is ChangeValue {
  const c = v as ChangeValue | null
  return typeof c === 'object' && c !== null && typeof c.key === 'string' && isVersion(c.version)
}

/** A caller bug found before anything was written. */
export const invalid = (why: string): StoreError => new StoreError(STORE_ERRORS.invalid, `${why}; nothing of the call was stored`)

export const sameVersion = (a: KvVersion, b: KvVersion): boolean => a.wall === b.wall && a.logical === b.logical && a.node === b.node

/** What the store's keys and counters depend on; core validates the rest before a record gets here. */
export function checkRecord (r: StoredKvRecord, what: string): void {
  if (typeof r !== 'object' || r === null) throw invalid(`${what} is not an object`)
  if (typeof r.key !== 'string' || r.key === '') throw invalid(`${what} has no key (a non-empty string)`)
  if (typeof r.tombstone !== 'boolean') throw invalid(`${what} has no boolean tombstone`)
  if (!isVersion(r.version)) throw invalid(`${what} has a malformed version ${JSON.stringify(r.version)}`)
  if (typeof r.event !== 'object' || r.event === null) throw invalid(`${what} has no event`)
  if (r.tombstone && r.value !== undefined) throw invalid(`${what} is a tombstone with a value`)
  if (!r.tombstone && r.value === undefined) throw invalid(`${what} is live without a value`)
}

export function checkLimit (limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError(STORE_ERRORS.invalid, `limit must be a positive integer, got ${String(limit)}`)
}

export function checkCounter (n: number, what: string): void {
  if (!isCounter(n)) throw new StoreError(STORE_ERRORS.invalid, `${what} must be an integer 0..${Number.MAX_SAFE_INTEGER}, got ${String(n)}`)
}
