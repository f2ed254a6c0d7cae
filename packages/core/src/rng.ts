/**
 * Randomness as a dependency: a function returning a float in [0, 1). Core logic draws only from the Rng it
 * is given, so a seed replays a schedule exactly.
 */
export type Rng = () => number

/** mulberry32: small, fast, good enough for shuffles and jitter (not for keys). */
export function seededRng (seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher–Yates shuffle into a new array. */
export function shuffled<T> (items: readonly T[], rng: Rng): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const tmp = out[i]!
    out[i] = out[j]!
    out[j] = tmp
  }
  return out
}

/** Up to `k` distinct items chosen at random. */
export function sample<T> (items: readonly T[], k: number, rng: Rng): T[] {
  return shuffled(items, rng).slice(0, Math.max(0, k))
}
