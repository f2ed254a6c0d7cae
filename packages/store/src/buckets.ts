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
/** The next LSN at the event log's last close(); absent while it runs (event-log.ts, early delivery). */
export const CLOSED_AT_LSN_KEY = 'closed-at-lsn'
/** The next change number at the KV repository's last close(); absent while it runs (kv-repository.ts, early changes). */
export const CLOSED_AT_CHANGE_KEY = 'closed-at-change'

/**
 * The KV repository's state in one meta key (kv-state.ts), written in every batch that changes any part of it:
 * the next change number, live keys, tombstones, approximate bytes of live values, the event-log LSN the KV
 * applier has consumed, and the greatest record version ever stored. One op per batch where there were six.
 */
export const KV_STATE_KEY = 'kv-state'
/** The highest change number compaction removed (0 if none); written by compaction only. */
export const KV_COMPACTED_CHANGE_KEY = 'kv-compacted-change'
/**
 * Where stores written before KV_STATE_KEY kept its parts, one key each. Read when kv-state is absent, and
 * deleted by the first batch that writes kv-state.
 */
export const KV_NEXT_CHANGE_KEY = 'kv-next-change'
export const KV_COUNT_KEY = 'kv-count'
export const KV_BYTES_KEY = 'kv-bytes'
export const KV_TOMBSTONES_KEY = 'kv-tombstones'
export const KV_APPLIED_LSN_KEY = 'kv-applied-lsn'
export const KV_MAX_VERSION_KEY = 'kv-max-version'
export const LEGACY_KV_STATE_KEYS = [KV_NEXT_CHANGE_KEY, KV_COUNT_KEY, KV_BYTES_KEY, KV_TOMBSTONES_KEY, KV_APPLIED_LSN_KEY, KV_MAX_VERSION_KEY] as const
