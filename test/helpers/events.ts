/** Helpers for the event tests: publishing in batches, reading a node's whole log, checking per-origin order. */
import type { LocalNode } from '@shoal/cli/local-swarm'

export interface WireEvent { lsn: number, origin: string, seq: number, topic: string, data: unknown }

/** Publishes `count` events from `node` in JSON-RPC batches of `batch`. */
export async function publishMany (node: LocalNode, topic: string, count: number, batch = 50, tag = ''): Promise<void> {
  for (let i = 0; i < count; i += batch) {
    const calls = Array.from({ length: Math.min(batch, count - i) }, (_, j) => ({ method: 'events.publish', params: { topic, data: { n: i + j, tag } } }))
    const results = await node.client.batch(calls, { timeoutMs: 30_000 })
    const failed = results.find(r => !r.ok)
    if (failed !== undefined && !failed.ok) throw new Error(`publish failed on node ${node.index}: ${failed.error.message}`)
  }
}

/** Every event node `node` has delivered, paging through events.list. */
export async function readAll (node: LocalNode, topic?: string): Promise<WireEvent[]> {
  const out: WireEvent[] = []
  let since = 0
  for (;;) {
    const page = await node.client.call('events.list', { since, limit: 1000, ...(topic !== undefined ? { topic } : {}) })
    out.push(...page.events)
    if (page.events.length === 0) return out
    since = page.next
  }
}

/** Throws unless, for every origin, the events appear in seq order 1, 2, 3, ... without gaps or repeats. */
export function assertPerOriginOrder (events: WireEvent[], expected: Record<string, number>): void {
  const next = new Map<string, number>()
  for (const e of events) {
    const want = (next.get(e.origin) ?? 0) + 1
    if (e.seq !== want) throw new Error(`origin ${e.origin}: got seq ${e.seq} where ${want} was due`)
    next.set(e.origin, want)
  }
  for (const [origin, count] of Object.entries(expected)) {
    if ((next.get(origin) ?? 0) !== count) throw new Error(`origin ${origin}: ${next.get(origin) ?? 0} events, expected ${count}`)
  }
}

/** Whether `node` holds every origin's events up to the expected count. */
export async function caughtUp (node: LocalNode, expected: Record<string, number>): Promise<boolean> {
  const { heads } = await node.client.call('events.stats', {}, { timeoutMs: 3000 })
  return Object.entries(expected).every(([origin, count]) => (heads[origin] ?? 0) >= count)
}
