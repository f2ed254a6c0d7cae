/** The real clock and random source, for production; tests pass ManualClock and seededRng instead. */
import { randomInt } from 'node:crypto'
import type { Clock, Rng } from '@shoal/core'

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer (fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return { cancel: () => { clearTimeout(t) } }
  }
}

export const systemRng: Rng = () => randomInt(0, 2 ** 47) / 2 ** 47
