/**
 * The latest items of a numbered local log (event deliveries by LSN, KV changes by change number), in memory and
 * in order: readers that keep up (`events.subscribe`, `follow`, `kv.watch`) are served from here instead of a
 * LevelDB iterator and a get per item on every wake-up. Bounded by count and by bytes; a reader whose cursor is
 * older than what is kept reads the log.
 */

export interface RecentWindowOptions<T> {
  /** The item's number in its log (LSN, change number): contiguous runs of integers. */
  position: (item: T) => number
  /** Approximate bytes the item holds, for the byte bound. */
  size: (item: T) => number
  /** Items kept at most. */
  maxItems: number
  /** Bytes kept at most (by `size`); the newest item is kept whatever its size. */
  maxBytes: number
}

export class RecentWindow<T> {
  private readonly kept: T[] = []
  private head = 0
  private bytes = 0

  constructor (private readonly opts: RecentWindowOptions<T>) {}

  /**
   * Takes in items in log order. An item that does not follow the last one kept (a gap in numbers) resets the
   * window, so what is kept is always one contiguous run.
   */
  add (items: readonly T[]): void {
    const { position, size, maxItems, maxBytes } = this.opts
    for (const item of items) {
      const last = this.last
      if (last !== undefined && position(item) !== last + 1) this.clear()
      this.kept.push(item)
      this.bytes += size(item)
      while (this.kept.length - this.head > maxItems || (this.bytes > maxBytes && this.kept.length - this.head > 1)) {
        this.bytes -= size(this.kept[this.head]!)
        this.head++
      }
    }
    // Drop the consumed front once it is as long as what is kept (amortised O(1) per item): the array never holds
    // more than twice the items the bounds keep, so dropped items are not held on to.
    if (this.head > 0 && this.head >= this.kept.length - this.head) { this.kept.splice(0, this.head); this.head = 0 }
  }

  /**
   * Items numbered above `since` that `keep` accepts (all by default), at most `limit`, with the cursor to resume
   * from (the last number looked at); undefined when the window does not reach back to `since + 1` (read the log).
   */
  after (since: number, limit: number, keep?: (item: T) => boolean): { items: T[], next: number } | undefined {
    const first = this.kept[this.head]
    if (first === undefined || since + 1 < this.opts.position(first)) return undefined
    const items: T[] = []
    let next = since
    for (let i = this.head + Math.max(0, since + 1 - this.opts.position(first)); i < this.kept.length && items.length < limit; i++) {
      const item = this.kept[i]!
      next = this.opts.position(item)
      if (keep === undefined || keep(item)) items.push(item)
    }
    return { items, next }
  }

  /** Forgets the items numbered above `position` (handed on early for a write that then failed). */
  dropAfter (position: number): void {
    while (this.kept.length > this.head && this.opts.position(this.kept[this.kept.length - 1]!) > position) {
      this.bytes -= this.opts.size(this.kept.pop()!)
    }
  }

  /** Items the window holds on to, dropped ones not yet released included (for tests of the memory bound). */
  get retained (): number {
    return this.kept.length
  }

  /** The number of the last item kept, or undefined when empty. */
  get last (): number | undefined {
    return this.kept.length > this.head ? this.opts.position(this.kept[this.kept.length - 1]!) : undefined
  }

  private clear (): void {
    this.kept.length = 0
    this.head = 0
    this.bytes = 0
  }
}
