/**
 * Changes to the set of records, for the KV service to run in its queue: merging events into record changes
 * (last writer wins, with the Merkle path each touches), and purging tombstones past the horizon.
 */
import { compareVersions, mergeRecords, recordFromEvent } from '@shoal/core'
import type { KvLimits, KvRecord, KvVersion, MerkleTree, ShoalEvent } from '@shoal/core'
import type { KvRepository, StoredKvRecord } from '@shoal/store'

export interface MergedChange { record: StoredKvRecord, previous?: StoredKvRecord, treeUpdates: Array<[string, string]> }

export interface MergeContext {
  repo: KvRepository
  tree: MerkleTree
  limits: KvLimits
  /** Tombstones older than this (ms) are never (re)applied: they may have been collected elsewhere already. */
  horizon: number
  /**
   * Records from the event path (a delivered event, possibly replayed long after it was written): puts older
   * than the horizon are not merged either, since the delete that replaced them may have been collected.
   */
  eventPath?: boolean
  rejected: (event: ShoalEvent, err: Error) => void
}

/**
 * Appends to `changes` what `events` change, seeing earlier changes of the same batch through `pending`, and
 * applies each change to the in-memory tree. Returns how many records changed.
 */
export async function mergeInto (changes: MergedChange[], pending: Map<string, StoredKvRecord | undefined>, events: ShoalEvent[], ctx: MergeContext): Promise<number> {
  let changed = 0
  for (const event of events) {
    let record: KvRecord
    try {
      record = recordFromEvent(event, ctx.limits)
    } catch (err) {
      ctx.rejected(event, err as Error)
      continue
    }
    if ((record.tombstone || ctx.eventPath === true) && record.version.wall < ctx.horizon) continue
    const previous = pending.has(record.key) ? pending.get(record.key) : await ctx.repo.get(record.key)
    const winner = mergeRecords(previous as KvRecord | undefined, record)
    if (previous !== undefined && winner !== record) continue
    if (previous !== undefined && compareVersions(previous.version, record.version) === 0) continue
    const treeUpdates = ctx.tree.apply(record.key, previous?.version, record.version)
    changes.push({ record: record as StoredKvRecord, ...(previous !== undefined ? { previous } : {}), treeUpdates })
    pending.set(record.key, record as StoredKvRecord)
    changed++
  }
  return changed
}

/** Tombstones purged per round: bounds one batch. */
const PURGE_BATCH = 1000

/**
 * Removes up to PURGE_BATCH tombstones older than `horizon` from the replica and the tree, in one batch; if
 * nothing could be written (a tombstone changed meanwhile, or the write failed) the tree is put back.
 */
export async function purgeTombstones (repo: KvRepository, tree: MerkleTree, horizon: number): Promise<number> {
  const doomed: Array<{ key: string, version: KvVersion, treeUpdates: Array<[string, string]> }> = []
  for await (const r of repo.scan({})) {
    if (r.tombstone && r.version.wall < horizon) doomed.push({ key: r.key, version: r.version, treeUpdates: tree.remove(r.key, r.version) })
    if (doomed.length >= PURGE_BATCH) break
  }
  if (doomed.length === 0) return 0
  const result = await repo.purge(doomed).catch(() => ({ purged: 0 }))
  if (result.purged === 0) for (const d of doomed) tree.apply(d.key, undefined, d.version)
  return result.purged
}
