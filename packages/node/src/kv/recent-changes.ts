/**
 * The replica's latest changes, in memory, in change-number order (a RecentWindow), each with the record it
 * stored: `kv.watch` subscribers that keep up are served from here instead of a change-log iterator and a get per
 * change. A cursor the window does not cover, or a window behind the change log, reads the log. Changes may be
 * taken in before their batch lands (early, for records that came by gossip); `forget` drops them if it fails.
 */
import type { KvStats, KvWritten, StoredKvRecord } from '@shoal/store'
import { RecentWindow } from '../recent-window.js'
import { eventBytes } from '../events/recent-deliveries.js'

/** One change: its local change number, the key and the record it stored (a tombstone for a delete). */
export interface RecentChange { change: number, key: string, record: StoredKvRecord }

/** Changes kept at most. */
export const RECENT_CHANGES_MAX = 4096
/** Bytes kept at most (approximate: the record's event data, twice, since the parsed value is kept too). */
export const RECENT_CHANGES_MAX_BYTES = 8 * 1024 * 1024

export class RecentChanges {
  private readonly window = new RecentWindow<RecentChange>({
    position: c => c.change,
    size: c => 2 * eventBytes(c.record.event.data),
    maxItems: RECENT_CHANGES_MAX,
    maxBytes: RECENT_CHANGES_MAX_BYTES
  })

  /** Takes in a batch's records, with the change numbers the repository gave them (same order). */
  add (records: ReadonlyArray<{ record: StoredKvRecord }>, written: readonly KvWritten[]): void {
    this.window.add(written.map((w, i) => ({ change: w.change, key: w.key, record: records[i]!.record })))
  }

  /** Drops the changes numbered above `above`: taken in early for a batch that then failed. */
  forget (above: number): void {
    this.window.dropAfter(above)
  }

  /**
   * Changes above `since` of keys under `prefix`, at most `limit`, with the cursor to resume from; undefined
   * when memory cannot answer for the log as `stats` (the repository's, now) describes it: the cursor is older
   * than the window or than compaction, or the log holds changes the window has not taken in yet.
   */
  after (since: number, limit: number, prefix: string | undefined, stats: Pick<KvStats, 'lastChange' | 'compactedChange'>): { items: RecentChange[], next: number } | undefined {
    if (since < stats.compactedChange || (this.window.last ?? 0) < stats.lastChange) return undefined
    return this.window.after(since, limit, prefix === undefined ? undefined : c => c.key.startsWith(prefix))
  }
}
