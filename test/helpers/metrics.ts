/** Helpers for tests that read a daemon's Prometheus metrics over its RPC port. */
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'

/**
 * GET /metrics of `node`, with its token (read from its data dir unless given). Throws when the answer is not
 * 200, so a test never parses an error page as empty metrics.
 */
export async function scrapeMetrics (node: Pick<LocalNode, 'rpcUrl' | 'dataDir'>, token?: string): Promise<string> {
  const res = await fetch(new URL('/metrics', node.rpcUrl), { headers: { authorization: `Bearer ${token ?? await readToken(node.dataDir)}` } })
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`)
  return await res.text()
}

/**
 * Every sample of a Prometheus text, by its series as written (name and labels, e.g.
 * `shoal_members{state="alive"}`); comment lines are skipped.
 */
export function samples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (space <= 0) continue
    const value = line.slice(space + 1)
    // Prometheus writes infinities as +Inf and -Inf, which Number() does not read.
    out.set(line.slice(0, space), value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value))
  }
  return out
}
