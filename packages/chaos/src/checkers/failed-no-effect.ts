/**
 * Fault kind 9 as a checked property: a write that failed (a definite error such as -32003 disk full, or a
 * refused connection) has no effect anywhere. Every put carries a unique value and every publish unique data,
 * so a failed put's value must never be read nor be in any node's final or survivor state, and a failed
 * publish's data must be in no node's log. A failed delete's effect cannot be told apart from a later one's and
 * is not checked.
 */
import type { CheckInput, NodeState, Op, Violation } from '../types.js'

export function checkFailedNoEffect (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const failedPuts = new Map<string, Op>()
  const failedPublishes = new Map<string, Op>()
  for (const o of input.ops) {
    if (o.outcome !== 'fail') continue
    if (o.kind === 'kv.put') failedPuts.set(JSON.stringify(o.args.value), o)
    if (o.kind === 'events.publish') failedPublishes.set(JSON.stringify(o.args.data), o)
  }
  if (failedPuts.size === 0 && failedPublishes.size === 0) return out
  const reported = new Set<number>()
  const report = (op: Op, where: string, extra: Op[] = []): void => {
    if (reported.has(op.id)) return
    reported.add(op.id)
    out.push({ invariant: 'inv9-failed-no-effect', message: `${op.kind} op ${op.id} on node ${op.node} failed (${op.error?.message ?? ''}) yet took effect: ${where}`, ops: [op, ...extra] })
  }
  for (const r of input.ops) {
    if (r.kind === 'kv.get' && r.outcome === 'ok') {
      const w = failedPuts.get(JSON.stringify(r.result?.value))
      if (w !== undefined) report(w, `read by op ${r.id} on node ${r.node}`, [r])
    }
  }
  const states: NodeState[] = [...input.final, ...(input.survivors ?? [])]
  for (const s of states) {
    for (const [key, rec] of Object.entries(s.kv)) {
      const w = failedPuts.get(JSON.stringify(rec.value))
      if (w !== undefined) report(w, `'${key}' holds its value on node ${s.index}`)
    }
    for (const events of Object.values(s.events)) {
      for (const e of events) {
        const p = failedPublishes.get(JSON.stringify(e.data))
        if (p !== undefined) report(p, `its event is in node ${s.index}'s log (seq ${e.seq})`)
      }
    }
  }
  return out
}
