/**
 * Changes to the set of records, for the KV service to run in its queue: merging events into record changes
 * (last writer wins), and purging tombstones past the horizon. The Merkle tree follows from the leaves they touch.
 */
import { compareVersions, mergeRecords, recordFromEvent } from '@shoal/core'
import type { KvLimits, KvRecord, KvVersion, ShoalEvent } from '@shoal/core'
import type { KvRepository, StoredKvRecord } from '@shoal/store'

export interface MergedChange { record: StoredKvRecord, previous?: StoredKvRecord }

export interface MergeContext {
  repo: KvRepository
  limits: KvLimits
  /** Tombstones older than this (ms) are never (re)applied: they may have been collected elsewhere already. */
  horizon: number
  /**
   * Records from the event path (a delivered event, possibly replayed long after it was written): puts older
   * than the horizon are not merged either, since the delete that replaced them may have been collected.
   */
  eventPath?: boolean
  rejected: (event: ShoalEvent, err: Error) => void
  /** True when the replica surely holds no record of the key (KvTree.absent): its read is skipped. */
  absent?: (key: string) => boolean
}

/**
 * Appends to `changes` what `events` change, seeing earlier changes of the same batch through `pending`.
 * Returns how many records changed.
 */
export async function mergeInto (changes: MergedChange[], pending: Map<string, StoredKvRecord | undefined>, events: ShoalEvent[], ctx: MergeContext): Promise<number> {
  const records: KvRecord[] = []
  for (const event of events) {
    try {
      const record = recordFromEvent(event, ctx.limits)
      if ((record.tombstone || ctx.eventPath === true) && record.version.wall < ctx.horizon) continue
      records.push(record)
    } catch (err) {
      ctx.rejected(event, err as Error)
    }
  }
  // The stored records of every key not already changed in this batch, read in parallel (a group of G writes
  // waits for one round of reads, not G round trips one after another); keys known to have none are not read.
  const absent = ctx.absent
  const unread = [...new Set(records.map(r => r.key).filter(k => !pending.has(k) && absent?.(k) !== true))]
  const stored = new Map((await ctx.repo.byKeys(unread)).map(r => [r.key, r]))
  let changed = 0
  for (const record of records) {
    const previous = pending.has(record.key) ? pending.get(record.key) : stored.get(record.key)
    const winner = mergeRecords(previous as KvRecord | undefined, record)
    if (previous !== undefined && winner !== record) continue
    if (previous !== undefined && compareVersions(previous.version, record.version) === 0) continue
    changes.push({ record: record as StoredKvRecord, ...(previous !== undefined ? { previous } : {}) })
    pending.set(record.key, record as StoredKvRecord)
    changed++
  }
  return changed
}

/** Tombstones purged per round: bounds one batch. */
const PURGE_BATCH = 1000

/**
 * Removes up to PURGE_BATCH tombstones older than `horizon` from the replica, in one batch. Returns the keys
 * removed (none if a tombstone changed meanwhile, or the write failed).
 */
export async function purgeTombstones (repo: KvRepository, horizon: number): Promise<string[]> {
  const doomed: Array<{ key: string, version: KvVersion }> = []
  for await (const r of repo.scan({})) {
    if (r.tombstone && r.version.wall < horizon) doomed.push({ key: r.key, version: r.version })
    if (doomed.length >= PURGE_BATCH) break
  }
  if (doomed.length === 0) return []
  const result = await repo.purge(doomed).catch(() => ({ purged: 0 }))
  return result.purged === 0 ? [] : doomed.map(d => d.key)
}
