/**
 * Time as a dependency. Core never reads the wall clock; drivers get a Clock so tests can skew one node's
 * clock or run a whole schedule on a ManualClock.
 */
export interface TimerHandle { cancel(): void }

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  /** Runs `fn` once after `ms`; the handle cancels it. */
  setTimer(fn: () => void, ms: number): TimerHandle
  /**
   * Milliseconds on a clock that never jumps (performance.now()), for measuring intervals across wall-clock
   * steps. Optional: without it, callers fall back to now().
   */
  monotonic?(): number
}

/**
 * The clock's monotonic milliseconds, or its wall time when it has none: the one time line of intervals and of
 * the clock samples that ClockSync keeps (a probe's round trip is measured on it too).
 */
export function monotonicNow (clock: Pick<Clock, 'now' | 'monotonic'>): number {
  return clock.monotonic?.() ?? clock.now()
}

/** A clock that only moves when told to: deterministic tests and simulations. */
export class ManualClock implements Clock {
  private current: number
  private nextId = 0
  private readonly timers = new Map<number, { at: number, fn: () => void }>()

  constructor (start = 0) {
    this.current = start
  }

  now (): number {
    return this.current
  }

  monotonic (): number {
    return this.current
  }

  setTimer (fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn })
    return { cancel: () => { this.timers.delete(id) } }
  }

  /** Moves time forward, firing due timers in time order (ties in creation order). */
  advance (ms: number): void {
    const target = this.current + ms
    for (;;) {
      let nextId: number | undefined
      let nextAt = Infinity
      for (const [id, t] of this.timers) {
        if (t.at <= target && t.at < nextAt) { nextAt = t.at; nextId = id }
      }
      if (nextId === undefined) break
      const timer = this.timers.get(nextId)!
      this.timers.delete(nextId)
      this.current = Math.max(this.current, timer.at)
      timer.fn()
    }
    this.current = target
  }

  get pendingTimers (): number {
    return this.timers.size
  }
}
