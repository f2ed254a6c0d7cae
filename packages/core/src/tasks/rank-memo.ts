/**
 * A memo of rendezvous ranks per (key, membership epoch). Ranking n members costs n sha256; decide() asks for the
 * ranks of every pending subtask on every round, so without a memo a node hashes (subtasks x members) times per
 * round (issue 12 measured 1,660 sha256 per subtask). The epoch is the set of member ids asked about: a result is
 * always rank(key, ids) for exactly those ids, and a new membership simply starts new entries.
 */
import { rank } from './rendezvous.js'

/** Entries kept before the memo starts over (about 100 bytes each with 5 members: ~10 MB at most). */
export const RANK_MEMO_MAX_ENTRIES = 100_000

export class RankMemo {
  private readonly epochs = new WeakMap<readonly string[], string>()
  private readonly ranks = new Map<string, Map<string, string[]>>()
  private size = 0
  /** Rankings computed (misses), for tests and metrics. */
  computed = 0

  /** rank(key, ids), memoised per set of ids (in any order). */
  readonly rank = (key: string, ids: readonly string[]): string[] => {
    let epoch = this.epochs.get(ids)
    if (epoch === undefined) {
      epoch = [...ids].sort().join(',')
      this.epochs.set(ids, epoch)
    }
    if (this.size >= RANK_MEMO_MAX_ENTRIES) { this.ranks.clear(); this.size = 0 }
    let byKey = this.ranks.get(epoch)
    if (byKey === undefined) this.ranks.set(epoch, byKey = new Map())
    let hit = byKey.get(key)
    if (hit === undefined) {
      hit = rank(key, ids)
      this.computed++
      this.size++
      byKey.set(key, hit)
    }
    return hit
  }
}
