/** Human-readable tables and durations for the terminal; `--json` bypasses all of this. */

export function table (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(headers), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** Default width of the CLI's tables: fits a standard 100-column terminal, or a split one. */
export const TABLE_WIDTH = 100

/**
 * A table no wider than `width`: the column `shrink` (the last by default) is cut with '…' to fit. Columns
 * before it keep their width; if even an empty `shrink` column does not fit, the table is returned as is.
 */
export function fitTable (headers: string[], rows: string[][], width = TABLE_WIDTH, shrink = headers.length - 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (headers.length - 1)
  const room = widths[shrink]! - (total - width)
  if (total <= width || room < Math.max(headers[shrink]!.length, 2)) return table(headers, rows)
  const cut = (c: string): string => c.length > room ? `${c.slice(0, room - 1)}…` : c
  return table(headers, rows.map(r => r.map((c, i) => i === shrink ? cut(c) : c)))
}

export function ago (ms: number): string {
  if (ms < 0) return 'now'
  if (ms < 1000) return `${ms}ms ago`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s ago`
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m ago`
  return `${(ms / 3_600_000).toFixed(1)}h ago`
}

export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s % 60}s` : `${s}s`
}

/** Long peer ids made readable: first and last characters. */
export function shortId (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

export interface Io {
  out(text: string): void
  err(text: string): void
}

export const processIo: Io = {
  out: text => { process.stdout.write(text.endsWith('\n') ? text : text + '\n') },
  err: text => { process.stderr.write(text.endsWith('\n') ? text : text + '\n') }
}
