/**
 * Reading a node's whole state over RPC: every live key with its version (kv.list, paged) and every event it
 * delivered, grouped by origin (events.list from cursor 0, paged). kv.list shows no tombstones, so a deleted key
 * and a never-written key look the same here (see docs/protocols/invariants.md, "what the checkers cannot see").
 */
import type { RpcClient, ShoalMethods } from '@shoal/rpc'
import type { NodeState, StoredEvent, Version } from './types.js'

const PAGE = 1000
const CALL = { timeoutMs: 15_000 }

export async function dumpNode (index: number, peerId: string, client: RpcClient<ShoalMethods>): Promise<NodeState> {
  const kv: NodeState['kv'] = {}
  let cursor: string | undefined
  for (;;) {
    const page = await client.call('kv.list', { limit: PAGE, ...(cursor !== undefined ? { cursor } : {}) }, CALL)
    for (const r of page.records) kv[r.key] = { value: r.value, version: r.version as Version }
    if (page.next === undefined || page.records.length === 0) break
    cursor = page.next
  }
  const events: Record<string, StoredEvent[]> = {}
  let since = 0
  for (;;) {
    const page = await client.call('events.list', { since, limit: PAGE }, CALL)
    for (const e of page.events) (events[e.origin] ??= []).push({ seq: e.seq, topic: e.topic, type: e.type, hlc: e.hlc, data: e.data })
    if (page.events.length === 0 || page.next <= since) break
    since = page.next
  }
  return { index, peerId, kv, events }
}

/**
 * Whether the replicas agree on what must be equal: every KV record (key, value, version), and per origin the
 * highest seq held. Only the highest seq: an origin whose db/ was moved aside does not fetch back its own events
 * from before the loss (docs/protocols/invariants.md), so counts may differ there; inv6 checks the sequences
 * themselves. For the same reason a node in `wiped` is not compared on its own origin: until it publishes again
 * it may hold none of its own events, while every other node must still agree on that origin's head.
 */
export function statesAgree (states: NodeState[], wiped: ReadonlySet<number> = new Set()): boolean {
  const kv = new Set(states.map(s => JSON.stringify(Object.keys(s.kv).sort().map(k => [k, s.kv[k]!.value, s.kv[k]!.version]))))
  if (kv.size > 1) return false
  const origins = new Set(states.flatMap(s => Object.keys(s.events)))
  for (const origin of origins) {
    const heads = new Set(states
      .filter(s => !(wiped.has(s.index) && s.peerId === origin))
      .map(s => (s.events[origin] ?? []).reduce((m, e) => Math.max(m, e.seq), 0)))
    if (heads.size > 1) return false
  }
  return true
}

/** Per key, a fingerprint of its record (absent = ''): used to time when each key became equal everywhere. */
export function keyFingerprints (s: NodeState): Map<string, string> {
  return new Map(Object.entries(s.kv).map(([k, r]) => [k, JSON.stringify([r.value, r.version])]))
}
