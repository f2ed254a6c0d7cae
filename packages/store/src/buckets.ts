/**
 * Every sublevel the store uses, in one place. A retired name is never reused: old data under it would be
 * read as the new record type.
 */
export const BUCKETS = {
  /** Schema version and other store-wide facts. */
  meta: 'meta',
  /** Peers this node has known, redialled after a restart. */
  peers: 'peers'
} as const

export type BucketName = typeof BUCKETS[keyof typeof BUCKETS]

/** Bumped when the on-disk layout changes incompatibly; checked at open. */
export const SCHEMA_VERSION = 1
export const SCHEMA_VERSION_KEY = 'schema-version'
