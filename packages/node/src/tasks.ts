/**
 * The two scheduling shapes every service uses: one queue that runs changes strictly one after another (so
 * concurrent callers never interleave writes), and repeating tasks that stop together.
 */
import type { Clock, Logger, TimerHandle } from '@shoal/core'

/** Runs each function after everything queued before it; a failure does not stop the queue. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return await run
  }

  /** Resolves when everything queued so far has finished. */
  async idle (): Promise<void> {
    await this.tail
  }
}

/** Repeating tasks on an injected clock; the next run is scheduled when one ends, so runs never overlap. */
export class RepeatingTasks {
  private readonly handles: TimerHandle[] = []
  private running = true

  constructor (private readonly clock: Clock, private readonly log: Logger) {}

  every (ms: number, fn: () => Promise<void>): void {
    let current: TimerHandle | undefined
    const schedule = (): void => {
      if (!this.running) return
      current = this.clock.setTimer(() => {
        fn().catch(err => { this.log.debug({ err: (err as Error).message }, 'periodic task failed') }).finally(schedule)
      }, ms)
    }
    this.handles.push({ cancel: () => { current?.cancel() } })
    schedule()
  }

  stop (): void {
    this.running = false
    for (const h of this.handles) h.cancel()
  }
}

/** A promise that resolves at the next `wake()` or when `signal` aborts, leaving no listener behind. */
export class Waiters {
  private waiting: Array<() => void> = []
  private woken = 0

  /** How many times wake() has run: read it before a read of the state, and pass it to `after`. */
  get generation (): number {
    return this.woken
  }

  /**
   * Resolves at the first wake() since `generation` was read (at once if there has been one), or on abort. A
   * reader that reads the state again at once when it has more to read then leaves no waiter behind, where one
   * taken with `next` before every read stays until the next wake-up.
   */
  async after (generation: number, signal: AbortSignal): Promise<void> {
    if (this.woken !== generation) return
    await this.next(signal)
  }

  next (signal: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      if (signal.aborted) { resolve(); return }
      const done = (): void => { signal.removeEventListener('abort', done); resolve() }
      this.waiting.push(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  wake (): void {
    this.woken++
    const waiting = this.waiting
    this.waiting = []
    for (const w of waiting) w()
  }
}
