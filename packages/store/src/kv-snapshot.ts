/**
 * A point-in-time view of the KV replica over a Store snapshot (Store.snapshot): every record, tombstones
 * included, and the counters as they were in the same instant. KvRepository writes a record, its leaf and
 * change entries and the counters (applied LSN, max version) in one batch, and a LevelDB snapshot falls between
 * batches, so what a snapshot reads is exactly the replica after one batch: the state of one instant.
 */
import { BUCKETS, KV_APPLIED_LSN_KEY, KV_COUNT_KEY, KV_MAX_VERSION_KEY, KV_NEXT_CHANGE_KEY, KV_TOMBSTONES_KEY } from './buckets.js'
import type { ReadBucket, Store, StoreSnapshot } from './store.js'
import { isCounter, isDecodeError } from './event-records.js'
import { checkLimit, isVersion } from './kv-records.js'
import type { KvVersion, StoredKvRecord } from './kv-records.js'
import { scanRecords } from './kv-reads.js'

/** What the replica held at the snapshot's instant (read from the snapshot itself, not from memory). */
export interface KvSnapshotInfo {
  /** The event-log LSN the KV applier had consumed (0 if never written). */
  appliedLsn: number
  /** The greatest record version the replica had ever stored; undefined for an empty replica. */
  maxVersion?: KvVersion
  /** Live records and tombstones. */
  keys: number
  tombstones: number
  /** The last local change number. */
  lastChange: number
}

export class KvSnapshot {
  private readonly kv: ReadBucket<StoredKvRecord>

  private constructor (private readonly snap: StoreSnapshot, readonly info: KvSnapshotInfo) {
    this.kv = snap.bucket(BUCKETS.kv)
  }

  /** Takes the snapshot (synchronously, between two batches) and reads its counters. */
  static async open (store: Store): Promise<KvSnapshot> {
    const snap = store.snapshot()
    try {
      const meta = snap.bucket<unknown>(BUCKETS.meta)
      const read = async (key: string): Promise<unknown> => await meta.get(key).catch(err => { if (isDecodeError(err)) return undefined; throw err })
      const [applied, keys, tombstones, next, max] = await Promise.all([KV_APPLIED_LSN_KEY, KV_COUNT_KEY, KV_TOMBSTONES_KEY, KV_NEXT_CHANGE_KEY, KV_MAX_VERSION_KEY].map(read))
      const n = (v: unknown): number => isCounter(v) ? v : 0
      return new KvSnapshot(snap, {
        appliedLsn: n(applied),
        keys: n(keys),
        tombstones: n(tombstones),
        lastChange: Math.max(0, n(next) - 1),
        ...(isVersion(max) ? { maxVersion: { ...max } } : {})
      })
    } catch (err) {
      await snap.close()
      throw err
    }
  }

  /**
   * Records as of the snapshot, tombstones included, in key order, under `prefix`, strictly after `afterKey`, at
   * most `limit` (default all). Fails once the snapshot is closed.
   */
  async * scan (opts: { prefix?: string | undefined, afterKey?: string | undefined, limit?: number | undefined } = {}): AsyncIterable<StoredKvRecord> {
    if (opts.limit !== undefined) checkLimit(opts.limit)
    yield * scanRecords(this.kv, opts)
  }

  /** Releases the LevelDB snapshot; idempotent. */
  async close (): Promise<void> {
    await this.snap.close()
  }
}
