/**
 * Virtual time: a priority queue of callbacks ordered by (time, insertion). Nothing reads the wall clock and
 * every random draw comes from one seeded Rng, so a seed replays a run exactly (FoundationDB's simulation).
 */
import { seededRng } from '@shoal/core'
import type { Rng } from '@shoal/core'

interface Entry { at: number, seq: number, fn: () => void }

export class World {
  /** Virtual milliseconds since the start of the run. */
  now = 0
  readonly rng: Rng
  private heap: Entry[] = []
  private seq = 0
  /** Callbacks run so far: part of a run's fingerprint. */
  steps = 0

  constructor (readonly seed: number) {
    this.rng = seededRng(seed)
  }

  /** Runs `fn` at now + `delayMs` (virtual). */
  after (delayMs: number, fn: () => void): void {
    this.push({ at: this.now + Math.max(0, delayMs), seq: this.seq++, fn })
  }

  /** Runs callbacks in time order until `until` (inclusive) or the queue empties. */
  runUntil (until: number): void {
    const heap = this.heap
    while (heap.length > 0 && heap[0]!.at <= until) {
      const e = this.pop()
      this.now = e.at
      this.steps++
      e.fn()
    }
    if (this.now < until) this.now = until
  }

  /** An independent stream for one part (node, network), derived from the run's seed, so adding a draw in one part does not shift another. */
  fork (salt: number): Rng {
    return seededRng((this.seed * 0x9e3779b1 + salt * 0x85ebca6b) >>> 0)
  }

  private push (e: Entry): void {
    const heap = this.heap
    heap.push(e)
    let i = heap.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(e, heap[p]!)) break
      heap[i] = heap[p]!
      i = p
    }
    heap[i] = e
  }

  private pop (): Entry {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      const n = heap.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && less(heap[r]!, heap[l]!) ? r : l
        if (!less(heap[c]!, last)) break
        heap[i] = heap[c]!
        i = c
      }
      heap[i] = last
    }
    return top
  }
}

function less (a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
