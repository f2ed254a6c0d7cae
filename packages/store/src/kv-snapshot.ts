/**
 * A point-in-time view of the KV replica over a Store snapshot (Store.snapshot): every record, tombstones
 * included, and the counters as they were in the same instant. KvRepository writes a record, its leaf and
 * change entries and the counters (applied LSN, max version) in one batch, and a LevelDB snapshot falls between
 * batches, so what a snapshot reads is exactly the replica after one batch: the state of one instant.
 */
import { BUCKETS } from './buckets.js'
import type { ReadBucket, Store, StoreSnapshot } from './store.js'
import { checkLimit } from './kv-records.js'
import { readKvState } from './kv-state.js'
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
      const state = await readKvState(snap.bucket<unknown>(BUCKETS.meta))
      return new KvSnapshot(snap, {
        appliedLsn: state.appliedLsn ?? 0,
        keys: state.keys ?? 0,
        tombstones: state.tombstones ?? 0,
        lastChange: Math.max(0, (state.nextChange ?? 0) - 1),
        ...(state.maxVersion !== undefined ? { maxVersion: { ...state.maxVersion } } : {})
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
