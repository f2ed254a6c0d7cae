/**
 * The KV replica on disk (docs/protocols/kv.md): records, the leaf index with each record's Merkle digest, the
 * local change log and the KV counters. The only writer of the kv, kv-leaf and kv-changes buckets and the `kv-*`
 * meta keys. The caller (the node's apply queue) has already merged: this layer never compares versions, it
 * stores what it is given, a record with its leaf entry, change entry and counters in one atomic batch. Every mutation runs through
 * one queue, so concurrent callers never interleave and change numbers stay contiguous.
 */
import { BUCKETS, CLOSED_AT_CHANGE_KEY, KV_COMPACTED_CHANGE_KEY } from './buckets.js'
import type { BatchOp, BucketHandle, Store } from './store.js'
import { isCounter, isDecodeError } from './event-records.js'
import { EARLY_DELIVERY_MAX } from './event-log.js'
import { recordDigest } from '@shoal/core'
import type { LeafEntry } from '@shoal/core'
import {
  changeKey, checkCounter, checkLimit, checkRecord, invalid, isKvRecord, isVersion, sameVersion, valueBytes
} from './kv-records.js'
import type { ChangeValue, KvChange, KvVersion, LeafValue, StoredKvRecord } from './kv-records.js'
import { readChanges, readRecords, scanRecords } from './kv-reads.js'
import { KvSnapshot } from './kv-snapshot.js'
import { kvStateOps, readKvState, sameKvState } from './kv-state.js'
import type { KvState } from './kv-state.js'
import { leafKey, readAllLeaves, readLeafDigests, readLeafEntries, leafRunGap } from './kv-leaves.js'
import type { KvChangesOptions, KvChangesResult, KvListOptions, KvPage } from './kv-reads.js'

/**
 * Change numbers handed on before their batch is written (see `earlyRoom` and `stage`'s `abandon`) stay below the
 * next change number on disk plus this many, counting those abandoned since the last batch that landed: an open
 * after a stop without close() (a crash) continues this far above it, so numbers announced for batches that never
 * landed are not given to other changes. The same bound as the event log's early deliveries.
 */
export const EARLY_CHANGES_MAX = EARLY_DELIVERY_MAX

/** Change entries removed per compaction batch: bounds one write, and lets KV writes run in between. */
export const COMPACT_BATCH_CHANGES = 1000

export interface KvWriteOptions {
  /** fsync the batch before resolving (Store.batch `sync`): acknowledged writes use it. */
  sync?: boolean | undefined
  /** Also record that the KV applier has consumed the event log up to this LSN, in the same batch. */
  appliedLsn?: number | undefined
}

/** The change number each record of a `write` got, in call order. */
export interface KvWritten { change: number, key: string }

/** A tombstone to remove: the version it must still have. */
export interface KvPurge { key: string, version: KvVersion }

/** `stale` lists keys that are no longer that tombstone; then nothing was purged (`purged` is 0). */
export interface KvPurgeResult { purged: number, stale: string[] }

export interface KvScanOptions { prefix?: string | undefined, afterKey?: string | undefined, limit?: number | undefined }

export interface KvStats {
  /** Live (non-tombstone) records. */
  keys: number
  tombstones: number
  /** Approximate bytes of live values (their JSON text). */
  bytes: number
  lastChange: number
  compactedChange: number
  /** The event-log LSN the applier consumed up to (0 until written). */
  appliedLsn: number
}

interface Counters { nextChange: number, keys: number, tombstones: number, bytes: number }

export class KvRepository {
  private readonly store: Store
  private readonly kv: BucketHandle<StoredKvRecord>
  private readonly changeLog: BucketHandle<ChangeValue>
  private readonly leaves: BucketHandle<LeafValue>
  private counters: Counters = { nextChange: 1, keys: 0, tombstones: 0, bytes: 0 }
  /** The next change number as the disk records it (where an open after a crash starts, before the margin). */
  private writtenChange = 1
  private compactedChange = 0
  private appliedLsn = 0
  /** The state was read from the separate keys of an older store (until the first batch writes kv-state). */
  private legacyState = false
  private maxVersion: KvVersion | undefined
  private tail: Promise<unknown> = Promise.resolve()

  private constructor (store: Store) {
    this.store = store
    this.kv = store.bucket(BUCKETS.kv)
    this.changeLog = store.bucket(BUCKETS.kvChanges)
    this.leaves = store.bucket(BUCKETS.kvLeaf)
  }

  /** Loads the counters; from then on they are served from memory. */
  static async open (store: Store): Promise<KvRepository> {
    const repo = new KvRepository(store)
    await repo.load()
    return repo
  }

  private async load (): Promise<void> {
    const meta = this.store.bucket<unknown>(BUCKETS.meta)
    const [state, compacted, closedAt] = await Promise.all([
      readKvState(meta),
      meta.get(KV_COMPACTED_CHANGE_KEY).catch(err => { if (isDecodeError(err)) return undefined; throw err }),
      meta.get(CLOSED_AT_CHANGE_KEY).catch(err => { if (isDecodeError(err)) return undefined; throw err })
    ])
    const { nextChange: next, keys, tombstones, bytes } = state
    this.legacyState = state.legacy
    this.compactedChange = isCounter(compacted) ? compacted : 0
    this.appliedLsn = state.appliedLsn ?? 0
    this.maxVersion = state.maxVersion
    let last = 0
    for await (const key of this.changeLog.keys({ reverse: true, limit: 1 })) last = Number(key)
    // The counter is written with every change; the log and compactedChange only guard against a damaged counter.
    const resumed = Math.max(next ?? 1, last + 1, this.compactedChange + 1)
    // After close() the numbers continue where it left them (above numbers an abandoned batch left unused); after
    // a stop without it (a crash), numbers announced for a batch that never landed are skipped.
    const nextChange = isCounter(closedAt) && closedAt >= resumed ? closedAt : this.store.created ? resumed : resumed + EARLY_CHANGES_MAX
    this.writtenChange = resumed
    // From now on a stop without close() must be noticed again; fsync'd, so that a machine crash cannot bring the
    // marker back under numbers this run announced.
    if (closedAt !== undefined) await this.store.batch([{ bucket: BUCKETS.meta, type: 'del', key: CLOSED_AT_CHANGE_KEY }], { sync: true })
    if (keys !== undefined && tombstones !== undefined && bytes !== undefined) {
      this.counters = { nextChange, keys, tombstones, bytes }
      return
    }
    // Missing (a store from before KV, or damaged): count once from the records.
    this.counters = { nextChange, keys: 0, tombstones: 0, bytes: 0 }
    for await (const [key, record] of this.kv.entries()) {
      if (!isKvRecord(record, key)) continue
      if (this.maxVersion === undefined || laterThan(record.version, this.maxVersion)) this.maxVersion = record.version
      if (record.tombstone) this.counters.tombstones++
      else { this.counters.keys++; this.counters.bytes += valueBytes(record) }
    }
  }

  /** The stored record (tombstones included), or undefined (also for a damaged one, which a good copy may replace). */
  async get (key: string): Promise<StoredKvRecord | undefined> {
    if (typeof key !== 'string' || key === '') return undefined
    let value: unknown
    try { value = await this.kv.get(key) } catch (err) { if (isDecodeError(err)) return undefined; throw err }
    return isKvRecord(value, key) ? value : undefined
  }

  /** One Merkle leaf's records with their digests (for the tree's lazy recompute). */
  async leafDigests (leaf: string): Promise<LeafEntry[]> {
    return await readLeafDigests(this.leaves, leaf, this.digestOf)
  }

  /** Every non-empty Merkle leaf with its records' digests, in leaf order (building the tree at start). */
  allLeaves (): AsyncGenerator<{ leaf: string, entries: LeafEntry[] }> {
    return readAllLeaves(this.leaves, this.digestOf)
  }

  /** A stored record's digest, for leaf entries written before digests were kept in the index. */
  private readonly digestOf = async (key: string): Promise<string | undefined> => {
    const r = await this.get(key)
    return r === undefined ? undefined : recordDigest(r.key, r.version, r.event.sig)
  }

  /** Keys and versions in the given Merkle leaves, in (leaf, key) order, resuming after key `after`. */
  async leafEntries (leaves: string[], opts: { after?: string | undefined, limit: number }): Promise<{ entries: Array<{ key: string, version: StoredKvRecord['version'] }>, more: boolean }> {
    const { keys, tombstones } = this.stats()
    return await readLeafEntries(this.leaves, leaves, { ...opts, gap: leafRunGap(keys + tombstones) })
  }

  /** The stored records (tombstones included) of those keys that have one, in the order asked; one getMany for all. */
  async byKeys (keys: string[]): Promise<StoredKvRecord[]> {
    const asked = keys.filter(key => typeof key === 'string' && key !== '')
    const found = await this.kv.getMany(asked)
    return found.filter((r, i): r is StoredKvRecord => isKvRecord(r, asked[i]!))
  }

  /**
   * Stores the records, their tree nodes (an all-zero hash deletes the node), one change entry each with the
   * next change numbers, and the counters (adjusted from each change's `previous`), all in one batch.
   */
  async write (changes: KvChange[], opts: KvWriteOptions = {}): Promise<KvWritten[]> {
    this.checkChanges(changes, opts)
    if (changes.length === 0 && opts.appliedLsn === undefined) return []
    return await this.serial(async () => {
      const staged = this.stage(changes, opts)
      // A synced write that changes nothing still writes (the state, unchanged) so that LevelDB fsyncs: a record
      // that arrived a moment ago without an fsync (the event path) must be durable before a `store` push is acked.
      const ops = staged.ops.length === 0 && opts.sync === true ? kvStateOps(this.state(), this.legacyState) : staged.ops
      await this.store.batch(ops, { sync: opts.sync === true })
      staged.commit()
      if (ops !== staged.ops) {
        this.legacyState = false
        this.writtenChange = this.counters.nextChange
      }
      return staged.written
    })
  }

  /**
   * The batch ops of `write`, without writing them, for a caller that writes them in one batch with the event
   * log's (EventLog `attach`); `commit` updates memory once that batch is on disk. The caller must be this
   * repository's only writer meanwhile (the node's one write queue): stages are built on the current counters.
   * A caller that handed the stage's change numbers on before its batch landed (at most `earlyRoom()` of them)
   * calls `abandon` if the batch fails: those numbers then stay unused, never given to other changes.
   */
  stage (changes: KvChange[], opts: { appliedLsn?: number | undefined } = {}): { ops: BatchOp[], written: KvWritten[], commit: () => void, abandon: () => void } {
    this.checkChanges(changes, opts)
    const ops: BatchOp[] = []
    const c = { ...this.counters }
    const written: KvWritten[] = []
    let maxVersion = this.maxVersion
    for (const { record, previous } of changes) {
      const change = c.nextChange++
      const leaf: LeafValue = { ...record.version, h: recordDigest(record.key, record.version, record.event.sig) }
      ops.push({ bucket: BUCKETS.kv, type: 'put', key: record.key, value: record })
      ops.push({ bucket: BUCKETS.kvLeaf, type: 'put', key: leafKey(record.key), value: leaf })
      ops.push({ bucket: BUCKETS.kvChanges, type: 'put', key: changeKey(change), value: { key: record.key, version: record.version } satisfies ChangeValue })
      if (previous !== undefined) {
        if (previous.tombstone) c.tombstones--
        else { c.keys--; c.bytes -= valueBytes(previous) }
      }
      if (record.tombstone) c.tombstones++
      else { c.keys++; c.bytes += valueBytes(record) }
      written.push({ change, key: record.key })
      if (maxVersion === undefined || laterThan(record.version, maxVersion)) maxVersion = record.version
    }
    // A caller's wrong `previous` must not drive a counter negative.
    c.keys = Math.max(0, c.keys); c.tombstones = Math.max(0, c.tombstones); c.bytes = Math.max(0, c.bytes)
    const appliedLsn = Math.max(this.appliedLsn, opts.appliedLsn ?? 0)
    const stateOps = this.stateOps({ ...c, appliedLsn, maxVersion })
    ops.push(...stateOps)
    return {
      ops,
      written,
      commit: () => {
        this.counters = c
        this.appliedLsn = appliedLsn
        this.maxVersion = maxVersion
        if (stateOps.length > 0) {
          this.legacyState = false
          this.writtenChange = c.nextChange
        }
      },
      abandon: () => {
        this.counters = { ...this.counters, nextChange: Math.max(this.counters.nextChange, c.nextChange) }
      }
    }
  }

  /**
   * How many change numbers the next stage may hand on before its batch lands (0 or more): what is left of
   * EARLY_CHANGES_MAX above the next number on disk, after the numbers failed batches left unused.
   */
  earlyRoom (): number {
    return Math.max(0, this.writtenChange + EARLY_CHANGES_MAX - this.counters.nextChange)
  }

  /**
   * The greatest version this replica has ever stored (kept across restarts and tombstone collection), so a
   * node's hybrid clock can start above everything it holds; undefined for an empty replica.
   */
  highestVersion (): KvVersion | undefined {
    return this.maxVersion === undefined ? undefined : { ...this.maxVersion }
  }

  private checkChanges (changes: KvChange[], opts: { appliedLsn?: number | undefined }): void {
    changes.forEach((c, i) => {
      checkRecord(c?.record, `change ${i} record`)
      if (c.previous !== undefined) {
        checkRecord(c.previous, `change ${i} previous`)
        if (c.previous.key !== c.record.key) throw invalid(`change ${i} has a previous record of another key`)
      }
    })
    if (opts.appliedLsn !== undefined) checkCounter(opts.appliedLsn, 'appliedLsn')
  }

  /**
   * Removes tombstones the caller found past the horizon (record and leaf entry), in one batch.
   * Each must still be a tombstone of the given version: if any is not (a newer write landed), nothing is
   * purged and those keys come back as `stale`, for the caller to recompute.
   */
  async purge (items: KvPurge[], opts: { sync?: boolean | undefined } = {}): Promise<KvPurgeResult> {
    const seen = new Set<string>()
    items.forEach((p, i) => {
      if (typeof p?.key !== 'string' || p.key === '') throw invalid(`purge ${i} has no key`)
      if (seen.has(p.key)) throw invalid(`purge ${i} repeats the key ${JSON.stringify(p.key)}`)
      seen.add(p.key)
      if (!isVersion(p.version)) throw invalid(`purge ${i} has a malformed version`)
    })
    if (items.length === 0) return { purged: 0, stale: [] }
    return await this.serial(async () => {
      const stale: string[] = []
      for (const { key, version } of items) {
        const held = await this.get(key)
        if (held === undefined || !held.tombstone || !sameVersion(held.version, version)) stale.push(key)
      }
      if (stale.length > 0) return { purged: 0, stale }
      const ops: BatchOp[] = []
      for (const { key } of items) {
        ops.push({ bucket: BUCKETS.kv, type: 'del', key })
        ops.push({ bucket: BUCKETS.kvLeaf, type: 'del', key: leafKey(key) })
      }
      const c = { ...this.counters, tombstones: Math.max(0, this.counters.tombstones - items.length) }
      const stateOps = this.stateOps({ ...c, appliedLsn: this.appliedLsn, maxVersion: this.maxVersion })
      ops.push(...stateOps)
      await this.store.batch(ops, { sync: opts.sync === true })
      this.counters = c
      if (stateOps.length > 0) {
        this.legacyState = false
        this.writtenChange = c.nextChange
      }
      return { purged: items.length, stale: [] }
    })
  }

  /** Live records in key order; see kv-reads.ts. */
  async list (opts: KvListOptions): Promise<KvPage> {
    checkLimit(opts.limit)
    return await readRecords(this.kv, opts)
  }

  /**
   * Every record, tombstones included, in key order (tombstone GC, leaf listings), strictly after `afterKey`, at
   * most `limit` (default all). Read lazily: stop iterating to stop reading; resume with the last key as afterKey.
   */
  async * scan (opts: KvScanOptions = {}): AsyncIterable<StoredKvRecord> {
    if (opts.limit !== undefined) checkLimit(opts.limit)
    yield * scanRecords(this.kv, opts)
  }

  /**
   * A point-in-time view of the replica (records with tombstones, and its counters at that instant) that later
   * writes do not change; see kv-snapshot.ts. The caller must close it.
   */
  async snapshot (): Promise<KvSnapshot> {
    return await KvSnapshot.open(this.store)
  }

  /** Local changes after the cursor `since`; see kv-reads.ts. */
  async changes (opts: KvChangesOptions): Promise<KvChangesResult> {
    checkCounter(opts.since ?? 0, 'changes since')
    checkLimit(opts.limit)
    return await readChanges({ changes: this.changeLog, compactedChange: () => this.compactedChange }, opts)
  }

  /**
   * Records (fsync'd) that the repository stopped here cleanly, after the mutations already queued: the next open
   * then continues at the same change number. Without it the next open skips EARLY_CHANGES_MAX numbers. Call it
   * last, before the store closes; a write after it is still taken, and the next open then skips, as after a crash.
   */
  async close (): Promise<void> {
    await this.serial(async () => {
      await this.store.batch([{ bucket: BUCKETS.meta, type: 'put', key: CLOSED_AT_CHANGE_KEY, value: this.counters.nextChange }], { sync: true })
    })
  }

  /** Removes the oldest change entries so that at most `keep` remain; a cursor below them then gets `compactedChange`. */
  async compactChanges (keep: number): Promise<{ removed: number }> {
    checkCounter(keep, 'compactChanges keep')
    let removed = 0
    for (;;) {
      const n = await this.serial(async () => await this.compactBatch(keep))
      removed += n
      if (n < COMPACT_BATCH_CHANGES) return { removed }
    }
  }

  stats (): KvStats {
    const { keys, tombstones, bytes, nextChange } = this.counters
    return { keys, tombstones, bytes, lastChange: nextChange - 1, compactedChange: this.compactedChange, appliedLsn: this.appliedLsn }
  }

  // -------------------------------------------------------------------------------------------------------

  /** Runs mutations one at a time, in call order; a failed one does not stop the next. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.catch(() => {})
    return await run
  }

  private state (): KvState {
    return { ...this.counters, appliedLsn: this.appliedLsn, maxVersion: this.maxVersion }
  }

  /** The op that stores `next` (none if nothing in it changed); a legacy store's separate keys go with it. */
  private stateOps (next: KvState): BatchOp[] {
    return sameKvState(next, this.state()) && !this.legacyState ? [] : kvStateOps(next, this.legacyState)
  }

  private async compactBatch (keep: number): Promise<number> {
    const upTo = this.counters.nextChange - 1 - keep
    if (upTo <= this.compactedChange) return 0
    const ops: BatchOp[] = []
    for await (const key of this.changeLog.keys({ gt: changeKey(this.compactedChange), lte: changeKey(upTo), limit: COMPACT_BATCH_CHANGES })) {
      ops.push({ bucket: BUCKETS.kvChanges, type: 'del', key })
    }
    // A full batch may have more behind it; a short one covered the whole range (gaps included).
    const last = ops.length === COMPACT_BATCH_CHANGES ? Number(ops.at(-1)?.key) : upTo
    ops.push({ bucket: BUCKETS.meta, type: 'put', key: KV_COMPACTED_CHANGE_KEY, value: last })
    await this.store.batch(ops)
    this.compactedChange = last
    return ops.length - 1
  }
}

/** a > b by (wall, logical, node), the records' version order. */
function laterThan (a: KvVersion, b: KvVersion): boolean {
  if (a.wall !== b.wall) return a.wall > b.wall
  if (a.logical !== b.logical) return a.logical > b.logical
  return a.node > b.node
}
