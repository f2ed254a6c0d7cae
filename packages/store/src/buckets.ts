/**
 * Every sublevel the store uses, in one place. A retired name is never reused: old data under it would be
 * read as the new record type.
 */
export const BUCKETS = {
  /**
   * Schema version and other store-wide facts; the event log's counters `next-lsn` and `compacted-lsn`; the KV
   * counters `kv-*` (below).
   */
  meta: 'meta',
  /** Peers this node has known, redialled after a restart. */
  peers: 'peers',
  /** Every held event: `<origin>/<seq, 16 digits>` -> the event. Written only by EventLog. */
  events: 'events',
  /** Per origin: `origin` -> `{ contiguous, compactedBelow }` (seq 1..contiguous held or compacted). EventLog only. */
  eventHeads: 'event-heads',
  /** Delivery log: `<lsn, 16 digits>` -> `{ origin, seq, topic }`, one per delivered, uncompacted event. EventLog only. */
  eventLsn: 'event-lsn',
  /** Delivery log by topic: `<topic>\u0000<lsn, 16 digits>` -> `{ origin, seq }`. EventLog only. */
  eventTopic: 'event-topic',
  /** The KV replica (docs/protocols/kv.md): `key` -> StoredKvRecord, tombstones included. KvRepository only. */
  kv: 'kv',
  /**
   * Retired: the XOR Merkle tree's nodes. The tree is now a real Merkle tree, built in memory from the leaf index
   * (digests kept there). Nothing writes or reads it; the name is never to be reused.
   */
  kvTree: 'kv-tree',
  /** The local KV change log: `<change, 16 digits>` -> `{ key, version }`, one per applied change. KvRepository only. */
  kvChanges: 'kv-changes',
  /** `<leaf id>/<key>` -> { version, h: record digest }: one Merkle leaf's keys, for leaf listings and leaf hashes. */
  kvLeaf: 'kv-leaf'
} as const

export type BucketName = typeof BUCKETS[keyof typeof BUCKETS]

/** Bumped when the on-disk layout changes incompatibly; checked at open. */
export const SCHEMA_VERSION = 1
export const SCHEMA_VERSION_KEY = 'schema-version'

/** Meta keys of the event log: the next LSN to give, and the highest LSN compaction removed (0 if none). */
export const NEXT_LSN_KEY = 'next-lsn'
export const COMPACTED_LSN_KEY = 'compacted-lsn'

/**
 * Meta keys of the KV repository: the next change number to give, the highest change number compaction removed
 * (0 if none), live keys, tombstones, approximate bytes of live values, and the event-log LSN the KV applier has
 * consumed up to (absent until first written).
 */
export const KV_NEXT_CHANGE_KEY = 'kv-next-change'
export const KV_COMPACTED_CHANGE_KEY = 'kv-compacted-change'
export const KV_COUNT_KEY = 'kv-count'
export const KV_BYTES_KEY = 'kv-bytes'
export const KV_TOMBSTONES_KEY = 'kv-tombstones'
export const KV_APPLIED_LSN_KEY = 'kv-applied-lsn'
/**
 * The greatest record version the replica ever stored, written in the batch that stores it: a restarted node's
 * hybrid clock starts above it (docs/protocols/kv.md, "Causality"), even after the record was overwritten,
 * collected or its event compacted.
 */
export const KV_MAX_VERSION_KEY = 'kv-max-version'
