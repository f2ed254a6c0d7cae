/** Small numeric helpers for the benchmarks: percentiles, ratios and Markdown tables. */

/** The p-th percentile (0-100) by nearest rank; NaN for an empty sample. */
export function percentile (sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN
  const sorted = [...sample].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export function median (sample: readonly number[]): number {
  return percentile(sample, 50)
}

/** Milliseconds with a precision that suits their size. */
export function ms (value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  return value < 10 ? `${value.toFixed(2)} ms` : value < 100 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`
}

export function rate (value: number, unit = 'events/s'): string {
  if (!Number.isFinite(value)) return 'n/a'
  return `${Math.round(value).toLocaleString('en-US')} ${unit}`
}

export function pct (value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(value === 1 ? 0 : 1)} %` : 'n/a'
}

/** Shoal / baseline, e.g. "2.31x". */
export function ratio (shoal: number, baseline: number): string {
  if (!Number.isFinite(shoal) || !Number.isFinite(baseline) || baseline === 0) return 'n/a'
  return `${(shoal / baseline).toFixed(2)}x`
}

/** Shoal / baseline over several rounds: the median ratio, with the lowest and highest in brackets. */
export function ratioRange (ratios: readonly number[]): string {
  return `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`
}

export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
