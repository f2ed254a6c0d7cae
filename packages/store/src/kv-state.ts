/**
 * The KV repository's state as one meta value (KV_STATE_KEY): what every batch that changes records also
 * changes, kept under one key so that such a batch carries one meta op instead of six. Reading falls back to the
 * separate keys that stores written before it used (LEGACY_KV_STATE_KEYS).
 */
import { BUCKETS, KV_APPLIED_LSN_KEY, KV_BYTES_KEY, KV_COUNT_KEY, KV_MAX_VERSION_KEY, KV_NEXT_CHANGE_KEY, KV_STATE_KEY, KV_TOMBSTONES_KEY, LEGACY_KV_STATE_KEYS } from './buckets.js'
import type { BatchOp, ReadBucket } from './store.js'
import { isCounter, isDecodeError } from './event-records.js'
import { isVersion } from './kv-records.js'
import type { KvVersion } from './kv-records.js'

export interface KvState {
  /** The next change number to give (>= 1). */
  nextChange: number
  /** Live records, tombstones, and approximate bytes of the live values. */
  keys: number
  tombstones: number
  bytes: number
  /** The event-log LSN the KV applier has consumed (0 if never written). */
  appliedLsn: number
  /**
   * The greatest record version the replica ever stored, written in the batch that stores it: a restarted node's
   * hybrid clock starts above it (docs/protocols/kv.md, "Causality"), even after the record was overwritten,
   * collected or its event compacted. Undefined for a replica that never stored one.
   */
  maxVersion?: KvVersion | undefined
}

/**
 * What the meta bucket holds of the state: each part that is present and well-formed (a damaged or missing
 * counter is undefined, for the caller to recount), and whether any of it sits under the legacy keys.
 */
export interface ReadKvState {
  nextChange?: number | undefined
  keys?: number | undefined
  tombstones?: number | undefined
  bytes?: number | undefined
  appliedLsn?: number | undefined
  maxVersion?: KvVersion | undefined
  legacy: boolean
}

export async function readKvState (meta: ReadBucket<unknown>): Promise<ReadKvState> {
  const read = async (key: string): Promise<unknown> => await meta.get(key).catch(err => { if (isDecodeError(err)) return undefined; throw err })
  const counter = (v: unknown): number | undefined => isCounter(v) ? v : undefined
  const state = await read(KV_STATE_KEY)
  if (state !== undefined && typeof state === 'object' && state !== null) {
    const s = state as Record<string, unknown>
    return { nextChange: counter(s.nextChange), keys: counter(s.keys), tombstones: counter(s.tombstones), bytes: counter(s.bytes), appliedLsn: counter(s.appliedLsn), maxVersion: isVersion(s.maxVersion) ? s.maxVersion : undefined, legacy: false }
  }
  const [nextChange, keys, tombstones, bytes, appliedLsn, maxVersion] = await Promise.all(
    [KV_NEXT_CHANGE_KEY, KV_COUNT_KEY, KV_TOMBSTONES_KEY, KV_BYTES_KEY, KV_APPLIED_LSN_KEY, KV_MAX_VERSION_KEY].map(read))
  const legacy = [nextChange, keys, tombstones, bytes, appliedLsn, maxVersion].some(v => v !== undefined)
  return { nextChange: counter(nextChange), keys: counter(keys), tombstones: counter(tombstones), bytes: counter(bytes), appliedLsn: counter(appliedLsn), maxVersion: isVersion(maxVersion) ? maxVersion : undefined, legacy }
}

/** The ops that store `state` (and, the first time on a legacy store, drop the separate keys). */
export function kvStateOps (state: KvState, dropLegacy: boolean): BatchOp[] {
  const { maxVersion, ...counters } = state
  const ops: BatchOp[] = [{ bucket: BUCKETS.meta, type: 'put', key: KV_STATE_KEY, value: { ...counters, ...(maxVersion !== undefined ? { maxVersion } : {}) } }]
  if (dropLegacy) for (const key of LEGACY_KV_STATE_KEYS) ops.push({ bucket: BUCKETS.meta, type: 'del', key })
  return ops
}

export function sameKvState (a: KvState, b: KvState): boolean {
  return a.nextChange === b.nextChange && a.keys === b.keys && a.tombstones === b.tombstones && a.bytes === b.bytes && a.appliedLsn === b.appliedLsn && a.maxVersion === b.maxVersion
}
