/**
 * The latest delivered events, in memory, in LSN order: subscribers that keep up (`events.subscribe`, `kv.watch`
 * through the event stream) are served from here instead of a LevelDB iterator and a get per event on every
 * delivery. Bounded by count and by bytes; a reader whose cursor is older than what is kept reads the log.
 */
import type { Delivered } from '@shoal/store'

/** Deliveries kept at most. */
export const RECENT_DELIVERIES_MAX = 4096
/** Bytes of event data kept at most (approximate: the JSON length of `data`), so big payloads cannot grow it. */
export const RECENT_DELIVERIES_MAX_BYTES = 8 * 1024 * 1024

export class RecentDeliveries {
  private readonly kept: Delivered[] = []
  private head = 0
  private bytes = 0

  /**
   * Takes in deliveries in LSN order. A delivery that does not follow the last one kept (a gap in LSNs, which the
   * log never makes) resets the window, so what is kept is always one contiguous LSN run.
   */
  add (delivered: readonly Delivered[]): void {
    for (const d of delivered) {
      const last = this.kept.length > this.head ? this.kept[this.kept.length - 1]! : undefined
      if (last !== undefined && d.lsn !== last.lsn + 1) this.clear()
      this.kept.push(d)
      this.bytes += sizeOf(d)
      while (this.kept.length - this.head > RECENT_DELIVERIES_MAX || (this.bytes > RECENT_DELIVERIES_MAX_BYTES && this.kept.length - this.head > 1)) {
        this.bytes -= sizeOf(this.kept[this.head]!)
        this.head++
      }
    }
    // Drop the consumed front now and then, not on every shift.
    if (this.head > RECENT_DELIVERIES_MAX) { this.kept.splice(0, this.head); this.head = 0 }
  }

  /**
   * Deliveries with an LSN above `since` (of `topic`, if given), at most `limit`, with the cursor to resume from;
   * undefined when the window does not reach back to `since + 1` (read the log instead).
   */
  after (since: number, limit: number, topic?: string): { events: Delivered[], next: number } | undefined {
    const first = this.kept[this.head]
    if (first === undefined || since + 1 < first.lsn) return undefined
    const events: Delivered[] = []
    let next = since
    for (let i = this.head + Math.max(0, since + 1 - first.lsn); i < this.kept.length && events.length < limit; i++) {
      const d = this.kept[i]!
      next = d.lsn
      if (topic === undefined || d.event.topic === topic) events.push(d)
    }
    return { events, next }
  }

  /** The last LSN kept, or undefined when empty. */
  get lastLsn (): number | undefined {
    return this.kept.length > this.head ? this.kept[this.kept.length - 1]!.lsn : undefined
  }

  private clear (): void {
    this.kept.length = 0
    this.head = 0
    this.bytes = 0
  }
}

function sizeOf (d: Delivered): number {
  return 256 + (typeof d.event.data === 'string' ? d.event.data.length : 1024)
}
