/**
 * Every sublevel the store uses, in one place. A retired name is never reused: old data under it would be
 * read as the new record type.
 */
export const BUCKETS = {
  /** Schema version and other store-wide facts; the event log's counters `next-lsn` and `compacted-lsn`. */
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
  eventTopic: 'event-topic'
} as const

export type BucketName = typeof BUCKETS[keyof typeof BUCKETS]

/** Bumped when the on-disk layout changes incompatibly; checked at open. */
export const SCHEMA_VERSION = 1
export const SCHEMA_VERSION_KEY = 'schema-version'

/** Meta keys of the event log: the next LSN to give, and the highest LSN compaction removed (0 if none). */
export const NEXT_LSN_KEY = 'next-lsn'
export const COMPACTED_LSN_KEY = 'compacted-lsn'
