/**
 * Crash-safe sequence numbers for this node's own events (docs/protocols/events.md, "Publishing and sequence
 * numbers"). Before it signs a seq above the reservation, the node writes `<dataDir>/seq-reservation.json` =
 * `{ reserved }` a block of seqs ahead (write, fsync, rename, fsync the directory). The file lives beside `db/`, not in it, so when the
 * event log is lost (a moved-aside or rebuilt `db/`) the node still knows every seq it may ever have signed: it
 * starts its new log above the reservation and never signs a second, different event under a seq that peers
 * may hold (they would refuse it as equivocation). The seqs skipped were never published; peers skip that gap on
 * the node's own signed event at the new start (the `compacted` evidence of the repair protocol).
 * `shoal restore` adds `learnFromPeers: true`: the node first learns its last seq from peers (own-seq-learning.ts).
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { toWriteError } from '@shoal/store'

/** Seqs reserved per write: one fsync'd file write per this many own events. */
export const SEQ_RESERVATION_BLOCK = 10_000
const FILE = 'seq-reservation.json'

export class SeqReservation {
  private reserved = 0
  /**
   * Set by `shoal restore` (markRestored): this identity signed events before, but how many is not known here (the
   * data dir came from a backup). The node learns its last seq from peers before it publishes (EventService).
   */
  private learn = false
  private readonly path: string
  /** The cover() and learned() calls, one after another. */
  private tail: Promise<void> = Promise.resolve()

  private constructor (dataDir: string) {
    this.path = join(dataDir, FILE)
  }

  /** Reads the reservation (0 when there is none, or it is unreadable: a node that never published). */
  static async open (dataDir: string): Promise<SeqReservation> {
    const r = new SeqReservation(dataDir)
    try {
      const parsed = JSON.parse(await readFile(r.path, 'utf8')) as { reserved?: unknown, learnFromPeers?: unknown }
      if (Number.isSafeInteger(parsed.reserved) && (parsed.reserved as number) > 0) r.reserved = parsed.reserved as number
      r.learn = parsed.learnFromPeers === true
    } catch {}
    return r
  }

  /**
   * Marks a data dir whose identity was restored from a backup: the reservation of the original node is not known
   * (it went on publishing after the backup), so the node must learn its last seq from peers before it publishes.
   */
  static async markRestored (dataDir: string): Promise<void> {
    const r = await SeqReservation.open(dataDir)
    r.learn = true
    await r.write(r.reserved)
  }

  /** Whether this node must learn its last seq from peers before it signs an event (a restored identity). */
  get mustLearn (): boolean {
    return this.learn
  }

  /** The highest seq this node may have signed, in any event log it ever had. */
  get highest (): number {
    return this.reserved
  }

  /**
   * Makes sure seqs up to `seq` are reserved, durably, before any of them is signed. Calls run one at a time
   * (the own-write pipeline may prepare a group while the group before is re-stamped): two writes of the one
   * temp file never interleave, and the reservation never moves down.
   */
  async cover (seq: number): Promise<void> {
    const run = this.tail.then(async () => { await this.extend(seq) })
    this.tail = run.catch(() => {})
    await run
  }

  /** Records that the node learned its last seq from peers and continues at `next`: reserves from there, durably. */
  async learned (next: number): Promise<void> {
    const run = this.tail.then(async () => {
      this.learn = false
      try {
        await this.write(Math.max(next + SEQ_RESERVATION_BLOCK, this.reserved))
      } catch (err) {
        this.learn = true
        throw toWriteError(err, this.path)
      }
    })
    this.tail = run.catch(() => {})
    await run
  }

  /**
   * Throws StoreError (ERR_STORE_FULL on a full disk, ERR_STORE_IO otherwise) when the file cannot be written:
   * the reservation then stays where it was, so nothing above it is signed, and the write that asked fails as a
   * write to a full store does (-32003, nothing stored).
   */
  private async extend (seq: number): Promise<void> {
    if (seq <= this.reserved) return
    try {
      await this.write(seq + SEQ_RESERVATION_BLOCK)
    } catch (err) {
      throw toWriteError(err, this.path)
    }
  }

  private async write (reserved: number): Promise<void> {
    const tmp = `${this.path}.tmp`
    await mkdir(dirname(this.path), { recursive: true })
    const file = await open(tmp, 'w')
    try {
      await file.writeFile(JSON.stringify(this.learn ? { reserved, learnFromPeers: true } : { reserved }) + '\n')
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, this.path)
    const dir = await open(dirname(this.path), 'r')
    try { await dir.sync() } finally { await dir.close() }
    this.reserved = reserved
  }
}
