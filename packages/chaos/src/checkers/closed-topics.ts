/**
 * Fault kind 6 as a checked property: the topics the node uses itself (the store's `kv` topic) are closed to
 * the generic events API. The workload now and then publishes a forged `kv.put` on topic `kv` with a value
 * `forged<op id>`; the publish must not be acknowledged, and no such value may ever be read or stored.
 */
import type { CheckInput, NodeState, Op, Violation } from '../types.js'

export const STORE_TOPIC = 'kv'
export const isForgedValue = (v: unknown): boolean => typeof v === 'string' && v.startsWith('forged')

export function checkClosedTopics (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const forged = input.ops.filter(o => o.kind === 'events.publish' && o.args.topic === STORE_TOPIC)
  const byValue = new Map<string, Op>(forged.map(o => [String((o.args.data as { value?: unknown })?.value), o]))
  for (const o of forged) {
    if (o.outcome === 'ok') out.push({ invariant: 'inv10-closed-topics', message: `events.publish on the store's own topic '${STORE_TOPIC}' (type ${String(o.args.type)}) was accepted on node ${o.node} (op ${o.id})`, ops: [o] })
  }
  const seen = new Set<string>()
  const report = (value: string, where: string, extra: Op[] = []): void => {
    if (seen.has(value)) return
    seen.add(value)
    const src = byValue.get(value)
    out.push({ invariant: 'inv10-closed-topics', message: `forged value ${value} took effect in the KV store: ${where}`, ops: [...(src !== undefined ? [src] : []), ...extra] })
  }
  for (const r of input.ops) {
    if (r.kind === 'kv.get' && r.outcome === 'ok' && isForgedValue(r.result?.value)) report(String(r.result.value), `read by op ${r.id} on node ${r.node}`, [r])
  }
  const states: NodeState[] = [...input.final, ...(input.survivors ?? [])]
  for (const s of states) for (const [key, rec] of Object.entries(s.kv)) if (isForgedValue(rec.value)) report(String(rec.value), `'${key}' on node ${s.index}`)
  return out
}
