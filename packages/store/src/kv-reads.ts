/**
 * The KV repository's paged reads: records in key order, and the local change log by cursor. They run outside
 * the write queue; a change-log compaction that lands meanwhile is caught by checking the bound again at the
 * end, so a watcher never silently misses changes.
 */
import type { BucketHandle, RangeOptions } from './store.js'
import { changeKey, isChangeValue, isKvRecord } from './kv-records.js'
import type { ChangeValue, KvChangeEntry, StoredKvRecord } from './kv-records.js'

/**
 * Change entries one `changes` call with a prefix looks at, at most: a narrow prefix must not turn one call into
 * a scan of the whole log. The cursor still advances past what was looked at, so the watcher makes progress.
 */
export const CHANGES_SCAN_LIMIT = 10_000

export interface KvListOptions {
  /** Only keys starting with this (default: all). */
  prefix?: string | undefined
  /** The cursor: keys strictly after this one (a `next` of a previous page). */
  after?: string | undefined
  /** At most this many records, 1 or more. */
  limit: number
}

/** A page of records in key order; `next` (the last key returned) is set when more may follow. */
export interface KvPage { records: StoredKvRecord[], next?: string }

export interface KvChangesOptions {
  /** Only changes of keys starting with this. */
  prefix?: string | undefined
  /** The cursor: changes numbered above it. Default 0. Valid iff since >= compactedChange. */
  since?: number | undefined
  limit: number
}

/**
 * `next` is the change number to resume from (the last one looked at, or `since` when none). `more`: the page
 * stopped before the end of the log, at `limit` changes or, with a prefix, after looking at CHANGES_SCAN_LIMIT
 * entries: read again from `next` now. Without it the log holds nothing further yet.
 */
export type KvChangesResult = { changes: KvChangeEntry[], next: number, more: boolean } | { compactedChange: number }

interface ChangeSource { changes: BucketHandle<ChangeValue>, compactedChange: () => number }

/** Byte order, as LevelDB compares keys (JS string comparison differs past the BMP). */
const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** Live records whose key starts with `prefix`, strictly after `after`, in key order: one page. */
export async function readRecords (kv: BucketHandle<StoredKvRecord>, opts: KvListOptions): Promise<KvPage> {
  const records: StoredKvRecord[] = []
  for await (const record of scanRecords(kv, { prefix: opts.prefix, afterKey: opts.after })) {
    if (record.tombstone) continue
    records.push(record)
    if (records.length >= opts.limit) return { records, next: record.key }
  }
  return { records }
}

/** Every record (tombstones included) whose key starts with `prefix`, strictly after `afterKey`, in key order. */
export async function * scanRecords (kv: Pick<BucketHandle<StoredKvRecord>, 'entries'>, opts: { prefix?: string | undefined, afterKey?: string | undefined, limit?: number | undefined }): AsyncIterable<StoredKvRecord> {
  const prefix = opts.prefix ?? ''
  const range: RangeOptions = {}
  if (opts.afterKey !== undefined && (prefix === '' || byteCompare(opts.afterKey, prefix) >= 0)) range.gt = opts.afterKey
  else if (prefix !== '') range.gte = prefix
  let left = opts.limit ?? Infinity
  if (left <= 0) return
  // Keys with one prefix are one contiguous range, so the first key past it ends the scan.
  for await (const [key, record] of kv.entries(range)) {
    if (!key.startsWith(prefix)) return
    if (!isKvRecord(record, key)) continue
    yield record
    if (--left <= 0) return
  }
}

/**
 * Changes numbered above `since`, in order, at most `limit`. A cursor below compactedChange (the highest number
 * compaction removed) would miss changes, so it gets `{ compactedChange }` instead.
 */
export async function readChanges (src: ChangeSource, opts: KvChangesOptions): Promise<KvChangesResult> {
  const since = opts.since ?? 0
  if (since < src.compactedChange()) return { compactedChange: src.compactedChange() }
  const prefix = opts.prefix
  const changes: KvChangeEntry[] = []
  let next = since
  let looked = 0
  const scan = prefix === undefined ? opts.limit : Math.max(opts.limit, CHANGES_SCAN_LIMIT)
  for await (const [key, value] of src.changes.entries({ gt: changeKey(since), limit: scan })) {
    looked++
    next = Number(key)
    if (!isChangeValue(value) || (prefix !== undefined && !value.key.startsWith(prefix))) continue
    changes.push({ change: next, key: value.key, version: value.version })
    if (changes.length >= opts.limit) break
  }
  // Compaction removes in change order: if it removed anything above `since` while we read, compactedChange passed it.
  if (since < src.compactedChange()) return { compactedChange: src.compactedChange() }
  return { changes, next, more: changes.length >= opts.limit || looked >= scan }
}
