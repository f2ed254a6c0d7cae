/** Helpers for the KV tests: batched writes, whole-replica reads, convergence checks. */
import type { LocalNode } from '@shoal/cli/local-swarm'

export interface Row { key: string, value: unknown, version: { wall: number, logical: number, node: string } }

/** Writes keys `${prefix}${i}` for i in [from, to) with value i, in JSON-RPC batches. */
export async function putMany (node: LocalNode, prefix: string, from: number, to: number, opts: { batch?: number, acks?: number } = {}): Promise<void> {
  const batch = opts.batch ?? 50
  for (let i = from; i < to; i += batch) {
    const calls = Array.from({ length: Math.min(batch, to - i) }, (_, j) => ({
      method: 'kv.put', params: { key: `${prefix}${i + j}`, value: i + j, ...(opts.acks !== undefined ? { acks: opts.acks } : {}) }
    }))
    const results = await node.client.batch(calls, { timeoutMs: 60_000 })
    const failed = results.find(r => !r.ok)
    if (failed !== undefined && !failed.ok) throw new Error(`kv.put failed on node ${node.index}: ${failed.error.message}`)
  }
}

/** Every live record on `node`, paging through kv.list. */
export async function readAll (node: LocalNode, prefix?: string): Promise<Row[]> {
  const rows: Row[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await node.client.call('kv.list', { limit: 1000, ...(prefix !== undefined ? { prefix } : {}), ...(cursor !== undefined ? { cursor } : {}) }, { timeoutMs: 30_000 })
    rows.push(...page.records)
    if (page.next === undefined) return rows
    cursor = page.next
  }
}

/** True when every node reports the same Merkle root and `keys` live keys. */
export async function converged (nodes: LocalNode[], keys?: number): Promise<boolean> {
  const stats = await Promise.all(nodes.map(async n => await n.client.call('kv.stats', {}, { timeoutMs: 5000 })))
  return new Set(stats.map(s => s.root)).size === 1 && (keys === undefined || stats.every(s => s.keys === keys))
}
