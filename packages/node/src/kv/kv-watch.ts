/**
 * What `kv.watch` readers see of the replica (docs/protocols/kv.md, "Local change log and watch"): each change
 * once, in change-number order, from memory while a reader keeps up (RecentChanges) and from the change log
 * otherwise. Changes that came by gossip are told before their batch lands (decisions/0026): `announce` hands
 * them on and reads of their keys wait (`landed`) until the batch is on disk or has failed.
 */
import { ShoalError, constants } from '@shoal/core'
import type { KvRecord } from '@shoal/core'
import type { KvRepository, KvWritten } from '@shoal/store'
import type { MergedChange } from './kv-merge.js'
import { RecentChanges } from './recent-changes.js'
import { Waiters } from '../tasks.js'

/** One change as a watcher gets it: its local change number, the key and the record (undefined if unreadable). */
export interface WatchedChange { change: number, key: string, record: KvRecord | undefined }

/** A batch whose changes were told before it landed; `settle` once it landed or failed. */
export interface Announced { settle: () => void, forget: () => void }

export class KvWatchFeed {
  private readonly recent = new RecentChanges()
  private readonly waiters = new Waiters()
  /** The batch whose changes watchers got before it landed, until it lands or fails (one at most: one write queue). */
  private landing: { keys: Set<string>, landed: Promise<void> } | undefined
  private running = true

  constructor (private readonly repo: Pick<KvRepository, 'stats' | 'changes' | 'get'>) {}

  /** After a batch with these changes is on disk (`written`: their change numbers, same order). */
  told (changes: MergedChange[], written: KvWritten[]): void {
    this.recent.add(changes, written)
    this.waiters.wake()
  }

  /**
   * Tells watchers of staged changes before their batch lands (at most the repository's `earlyRoom()`); reads of their keys
   * wait until `settle`. If the batch fails, `forget` drops them from memory (their numbers stay unused: the
   * repository's `abandon`), then `settle`.
   */
  announce (changes: MergedChange[], written: KvWritten[]): Announced {
    const before = written[0]!.change - 1
    const { promise, resolve } = Promise.withResolvers<void>()
    const landing = { keys: new Set(changes.map(c => c.record.key)), landed: promise }
    this.landing = landing
    this.told(changes, written)
    return {
      settle: () => {
        if (this.landing === landing) this.landing = undefined
        resolve()
      },
      forget: () => { this.recent.forget(before) }
    }
  }

  /** Waits for the batch of changes told early, if it holds a key `matches` accepts. */
  async landed (matches: (key: string) => boolean): Promise<void> {
    const landing = this.landing
    if (landing === undefined) return
    for (const key of landing.keys) {
      if (matches(key)) { await landing.landed; return }
    }
  }

  /**
   * Changes after `since` (a local change number; default: only new ones) of keys under `prefix`, then each new
   * one, until `signal` aborts or the feed stops. Throws ShoalError ERR_COMPACTED for a cursor older than the log.
   */
  async * watch (opts: { prefix?: string, since?: number }, signal: AbortSignal): AsyncGenerator<WatchedChange> {
    const { repo } = this
    let cursor = opts.since ?? repo.stats().lastChange
    while (!signal.aborted && this.running) {
      const seen = this.waiters.generation
      // From memory when the cursor is recent (a watcher keeping up): the record each change stored. From the
      // log otherwise: the record stored under the key now.
      const fresh = this.recent.after(cursor, constants.KV_SYNC_BATCH, opts.prefix, repo.stats())
      let more: boolean
      if (fresh !== undefined) {
        for (const c of fresh.items) yield { change: c.change, key: c.key, record: c.record as KvRecord }
        cursor = fresh.next
        more = fresh.items.length >= constants.KV_SYNC_BATCH
      } else {
        const page = await repo.changes({ prefix: opts.prefix, since: cursor, limit: constants.KV_SYNC_BATCH })
        if ('compactedChange' in page) throw new ShoalError('ERR_COMPACTED', `the cursor is older than the change log's retention; resume from ${page.compactedChange}`, { compactedChange: page.compactedChange })
        for (const c of page.changes) yield { change: c.change, key: c.key, record: await repo.get(c.key) as KvRecord | undefined }
        cursor = page.next
        // Not the number of matches: with a prefix, a page may stop after looking at its most entries with few
        // or none matching, and the rest of the log is still to read (a far-behind watcher of a narrow prefix).
        more = page.more
      }
      if (!more) await this.waiters.after(seen, signal)
    }
  }

  /** Ends every watch. */
  stop (): void {
    this.running = false
    this.waiters.wake()
  }
}
