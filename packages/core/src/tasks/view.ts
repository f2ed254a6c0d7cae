/**
 * How a node folds a job's records into its JobView, and which of them count (docs/protocols/tasks.md,
 * "Fencing"). Pure: validated records in, the view changed in place.
 *
 * Leases and results are keyed by (subtask, fencing token), so the KV store's last-writer-wins only ever picks
 * between writers of the same token. Across tokens the order is the token's: the current lease of a subtask is the
 * one with the highest token, whatever order the records arrive in (replication, anti-entropy, a restart's
 * reload), and a result counts only if it was written under that token.
 */
import type { Done, Failure, JobRecord, JobView, Lease } from './types.js'

export const emptyView = (job: JobRecord): JobView => ({ job, leases: new Map(), failures: new Map(), done: new Map() })

/** Takes a lease record: replaces the current one if its token is at least as high (same token = same key). */
export function mergeLease (view: JobView, index: number, lease: Lease): boolean {
  const current = view.leases.get(index)
  if (current !== undefined && current.token > lease.token) return false
  view.leases.set(index, lease)
  return true
}

/**
 * Takes a result record: kept if its token is at least as high as the one held. Results under one token by
 * different members (a same-token claim race whose losers finished before they heard they lost) are all kept,
 * the others in `rivals`, because which one counts depends on which lease the KV keeps, which may still change
 * here.
 */
export function mergeDone (view: JobView, index: number, done: Done): boolean {
  const current = view.done.get(index)
  if (current !== undefined && current.token > done.token) return false
  if (current !== undefined && current.token === done.token && current.by !== done.by) {
    const rivals = (view.rivals ??= new Map<number, Done[]>())
    rivals.set(index, [...(rivals.get(index) ?? []).filter(r => r.by !== current.by && r.by !== done.by), current])
  } else if (current === undefined || current.token < done.token) {
    view.rivals?.delete(index)
  }
  view.done.set(index, done)
  return true
}

export function mergeFailure (view: JobView, index: number, failure: Failure): boolean {
  view.failures.set(index, failure)
  return true
}

/**
 * The result of subtask i that counts: the done record written under the current lease (its token, by its
 * holder). A result from a superseded lease (a stalled holder that finished after another node reclaimed, or the
 * loser of a same-token claim race) never counts. A done record
 * whose token is above every lease seen counts: its lease is still on its way (its writer wrote the lease first).
 */
export function countedDone (view: JobView, index: number): Done | undefined {
  const lease = view.leases.get(index)
  for (const done of [view.done.get(index), ...(view.rivals?.get(index) ?? [])]) {
    if (done !== undefined && (lease === undefined || !superseded(done, lease))) return done
  }
  return undefined
}

/**
 * Whether a result was not written under `lease`: an older token, or the same token by another member (two
 * nodes claimed the chunk under one token and the KV's last-writer-wins kept the other's lease: the loser's run
 * does not count, even when it finished first).
 */
export function superseded (done: Pick<Done, 'token' | 'by'>, lease: Lease): boolean {
  return done.token < lease.token || (done.token === lease.token && done.by !== lease.holder)
}

/** Whether the current lease of subtask i was given up by its holder's failure record (same token, same holder). */
export function releasedByFailure (view: JobView, index: number): boolean {
  const lease = view.leases.get(index)
  const failure = view.failures.get(index)
  return lease !== undefined && failure?.token === lease.token && failure.by === lease.holder
}

/**
 * A lease is live while it has not expired, its holder is alive, and its holder has not given it up by writing a
 * failure under its token.
 */
export function leaseLive (view: JobView, index: number, now: number, alive: ReadonlySet<string>): boolean {
  const lease = view.leases.get(index)
  return lease !== undefined && lease.expiresAt > now && alive.has(lease.holder) && !releasedByFailure(view, index)
}

/** Whether a finished job's records may be collected: its final state is older than `retentionMs`. */
export function collectable (view: JobView, now: number, retentionMs: number): boolean {
  return view.final !== undefined && now >= view.final.at + retentionMs
}
