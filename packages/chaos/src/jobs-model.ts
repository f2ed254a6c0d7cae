/**
 * The answers a job must produce, computed here from its input without the swarm: `primes` counts the primes in
 * [from, to) (built-in; split then reduced by summing), `chaos-sum` is the harness's own module handler (installed
 * on only some nodes) that sums each input array, reduced as the list of sums in input order.
 */

/** Module source of the `chaos-sum` handler, written into the run directory and named in some nodes' config. */
export const CHAOS_SUM_MODULE = `export function run (input) { if (!Array.isArray(input)) throw new Error('chaos-sum: input must be an array'); return input.reduce((a, b) => a + b, 0) }
`

export function countPrimesBelow (from: number, to: number): number {
  const composite = new Uint8Array(to)
  let count = 0
  for (let i = 2; i < to; i++) {
    if (composite[i] === 1) continue
    if (i >= from) count++
    for (let j = i * i; j < to; j += i) composite[j] = 1
  }
  return count
}

/** The expected result of a submitted job, or undefined for a handler the harness does not model. */
export function expectedJobResult (spec: Record<string, unknown>): unknown {
  if (spec.handler === 'primes') {
    const input = spec.input as { from: number, to: number }
    return countPrimesBelow(input.from, input.to)
  }
  if (spec.handler === 'chaos-sum' && Array.isArray(spec.inputs)) {
    return (spec.inputs as number[][]).map(xs => xs.reduce((a, b) => a + b, 0))
  }
  return undefined
}
