/**
 * Open KV exports: each one a point-in-time snapshot of the replica (KvRepository.snapshot, a LevelDB snapshot)
 * that an export reads page by page across RPC calls (kv.export, `shoal backup`), so the copy is the replica
 * of one instant however long the pages take and whatever is written meanwhile.
 *
 * A snapshot pins old data in LevelDB (overwritten values are kept while it is open), so each one is bounded:
 * released when its last page is read, when a page read fails, when it has been idle `idleMs` (a client that
 * vanished mid-export), and when the node stops; at most `maxOpen` at once, a further open is refused
 * (ERR_UNAVAILABLE) until one ends.
 */
import { NotFoundError, UnavailableError } from '@shoal/core'
import type { Clock, TimerHandle } from '@shoal/core'
import type { KvSnapshot, KvSnapshotInfo, StoredKvRecord } from '@shoal/store'

/**
 * Exports open at once: a backup and a few `kv export`s. Each pins the LevelDB state of its instant (at worst
 * the replica's size again while writes keep overwriting), so a handful bounds that.
 */
export const KV_EXPORT_MAX_OPEN = 4
/**
 * An export not read for this long is released. A page is one local LevelDB read (milliseconds), so a client
 * that is still there asks for the next one long before; 30 s also covers a stalled pipe to a slow disk.
 */
export const KV_EXPORT_IDLE_MS = 30_000

export interface KvExportsComponents {
  clock: Clock
  /** Takes a snapshot of the replica (KvRepository.snapshot). */
  snapshot: () => Promise<KvSnapshot>
}

export interface KvExportsInit {
  maxOpen?: number
  idleMs?: number
}

export interface KvExportPage {
  records: StoredKvRecord[]
  /** The export's state of one instant (the same on every page). */
  info: KvSnapshotInfo & { takenAt: number }
  /** More may follow: read on with `after` = the last record's key. Absent on the last page (then released). */
  more: boolean
}

interface OpenExport { snap: KvSnapshot, prefix: string | undefined, takenAt: number, idle: TimerHandle }

export class KvExports {
  private readonly open = new Map<string, OpenExport>()
  private readonly maxOpen: number
  private readonly idleMs: number
  private nextId = 1
  private stopped = false
  private released = 0

  constructor (private readonly components: KvExportsComponents, init: KvExportsInit = {}) {
    this.maxOpen = init.maxOpen ?? KV_EXPORT_MAX_OPEN
    this.idleMs = init.idleMs ?? KV_EXPORT_IDLE_MS
  }

  /**
   * Takes a snapshot and returns its id with the first page. Throws UnavailableError when `maxOpen` exports are
   * open or the node is stopping.
   */
  async start (opts: { prefix?: string | undefined, limit: number }): Promise<KvExportPage & { id: string }> {
    if (this.stopped) throw new UnavailableError('the node is stopping')
    if (this.open.size >= this.maxOpen) {
      throw new UnavailableError(`${this.open.size} exports are open (at most ${this.maxOpen}); retry when one ends (an abandoned one is released after ${this.idleMs / 1000} s idle)`, { open: this.open.size, maxOpen: this.maxOpen })
    }
    const id = `x${this.nextId++}-${this.components.clock.now().toString(36)}`
    // Reserve the slot before the await, so concurrent starts cannot pass the limit.
    const entry = { prefix: opts.prefix, takenAt: this.components.clock.now() } as OpenExport
    this.open.set(id, entry)
    try {
      entry.snap = await this.components.snapshot()
    } catch (err) {
      this.open.delete(id)
      throw err
    }
    if (this.open.get(id) !== entry) { await entry.snap.close().catch(() => {}); throw new UnavailableError('the node is stopping') }
    entry.idle = this.components.clock.setTimer(() => { void this.release(id) }, this.idleMs)
    return { id, ...await this.page(id, { limit: opts.limit }) }
  }

  /**
   * The next page of export `id`: records (tombstones included) strictly after `after`, in key order, at most
   * `limit`. Throws NotFoundError for an id that is unknown, finished, or released (idle, error, stop).
   */
  async page (id: string, opts: { after?: string | undefined, limit: number }): Promise<KvExportPage> {
    const entry = this.open.get(id)
    if (entry?.snap === undefined) {
      throw new NotFoundError(`no open export ${JSON.stringify(id)}: it finished, failed, or was released after ${this.idleMs / 1000} s idle; start again`, { export: id })
    }
    entry.idle.cancel()
    entry.idle = this.components.clock.setTimer(() => { void this.release(id) }, this.idleMs)
    const records: StoredKvRecord[] = []
    try {
      // One more than asked: a page that fills exactly is the last only if nothing follows it.
      for await (const r of entry.snap.scan({ prefix: entry.prefix, afterKey: opts.after, limit: opts.limit + 1 })) records.push(r)
    } catch (err) {
      await this.release(id)
      throw err
    }
    const more = records.length > opts.limit
    if (more) records.pop()
    else await this.release(id)
    return { records, info: { ...entry.snap.info, takenAt: entry.takenAt }, more }
  }

  /** Releases export `id` (its LevelDB snapshot); unknown ids are ignored. */
  async release (id: string): Promise<void> {
    const entry = this.open.get(id)
    if (entry === undefined) return
    this.open.delete(id)
    entry.idle?.cancel()
    this.released++
    await entry.snap?.close().catch(() => {})
  }

  /** Exports open now, and how many were released since start (finished, failed, idle or stopped). */
  stats (): { open: number, released: number } {
    return { open: this.open.size, released: this.released }
  }

  /** Releases every open export; later starts are refused. */
  async stop (): Promise<void> {
    this.stopped = true
    await Promise.all([...this.open.keys()].map(async id => { await this.release(id) }))
  }
}
