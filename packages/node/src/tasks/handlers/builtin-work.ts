/**
 * CPU-bound work of the built-in handlers, loaded by pool workers (never called on the main thread by the
 * handlers). Inputs arrive already validated.
 */
import { PRIMES_SEGMENT } from './constants.js'

/** Primes up to `limit` inclusive, by a plain sieve of Eratosthenes. */
export function smallPrimes (limit: number): number[] {
  if (limit < 2) return []
  const composite = new Uint8Array(limit + 1)
  const primes: number[] = []
  for (let i = 2; i <= limit; i++) {
    if (composite[i] === 1) continue
    primes.push(i)
    for (let j = i * i; j <= limit; j += i) composite[j] = 1
  }
  return primes
}

/** Count of primes in [from, to), by a segmented sieve (memory stays at one segment plus primes <= sqrt(to)). */
export function countPrimes (input: { from: number, to: number }): number {
  const to = input.to
  const lo = Math.max(input.from, 2)
  if (lo >= to) return 0
  let limit = Math.floor(Math.sqrt(to - 1))
  while (limit * limit > to - 1) limit--
  while ((limit + 1) * (limit + 1) <= to - 1) limit++
  const base = smallPrimes(limit)
  const flags = new Uint8Array(PRIMES_SEGMENT)
  let count = 0
  for (let start = lo; start < to; start += PRIMES_SEGMENT) {
    const end = Math.min(start + PRIMES_SEGMENT, to)
    const len = end - start
    flags.fill(0, 0, len)
    for (const p of base) {
      if (p * p >= end) break
      // Integer arithmetic only: start / p as a double can round across an integer near 2^40.
      const rem = start % p
      let j = Math.max(p * p, rem === 0 ? start : start + p - rem)
      for (; j < end; j += p) flags[j - start] = 1
    }
    for (let i = 0; i < len; i++) if (flags[i] === 0) count++
  }
  return count
}
