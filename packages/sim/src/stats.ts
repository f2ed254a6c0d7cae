/** Small statistics helpers for the report. */

/** Nearest-rank percentile of `values` (p in 0..100); NaN for an empty list. */
export function percentile (values: readonly number[], p: number): number {
  const v = values.filter(x => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const rank = Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length)))
  return v[rank - 1]!
}

export function mean (values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

export function round (x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
