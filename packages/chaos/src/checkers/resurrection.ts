/**
 * Invariant 4 (no resurrection): a key whose delete was acknowledged stays deleted until it is written again.
 * "Written again" = a write with a higher version. Two checks: (a) on every node's final and survivor state, a
 * live record of the key must have a version above every ok delete's version; (b) an ok kv.get on the node that
 * acknowledged the delete, invoked after the delete completed, must not return a record older than the delete.
 */
import type { CheckInput, NodeState, Violation } from '../types.js'
import { compareVersion, showVersion } from '../version.js'
import { byKey, putsByValue, versionOf, wipedBetween } from './common.js'

export function checkResurrection (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const puts = putsByValue(input.ops)
  const states: Array<[string, NodeState[]]> = [['final state', input.final]]
  if (input.survivors !== undefined) states.push(['survivors of the minority kill', input.survivors])
  for (const [key, ops] of byKey(input.ops)) {
    for (const d of ops) {
      if (d.kind !== 'kv.delete' || d.outcome !== 'ok') continue
      const dv = versionOf(d)
      if (dv === undefined) continue
      for (const [where, nodes] of states) {
        const back = nodes.filter(s => s.kv[key] !== undefined && compareVersion(s.kv[key]!.version, dv) < 0)
        if (back.length === 0) continue
        const rec = back[0]!.kv[key]!
        const writer = puts.get(JSON.stringify(rec.value))
        out.push({
          invariant: 'inv4-no-resurrection',
          message: `'${key}' deleted by op ${d.id} (version ${showVersion(dv)}) is live again in the ${where} on node(s) ${back.map(s => s.index).join(',')} with older version ${showVersion(rec.version)} value ${JSON.stringify(rec.value)}`,
          ops: writer !== undefined ? [writer, d] : [d],
          detail: { key, where, nodes: back.map(s => s.index) }
        })
      }
      for (const r of ops) {
        if (r.kind !== 'kv.get' || r.outcome !== 'ok' || r.node !== d.node || r.invokeAt <= d.completeAt) continue
        if (wipedBetween(input.wipes, r.node, d.completeAt, r.invokeAt)) continue
        const rv = versionOf(r)
        if (rv !== undefined && compareVersion(rv, dv) < 0) {
          out.push({
            invariant: 'inv4-no-resurrection',
            message: `kv.get of '${key}' on node ${r.node} (op ${r.id}) returned version ${showVersion(rv)}, older than the delete (op ${d.id}, ${showVersion(dv)}) that node acknowledged before the read`,
            ops: [d, r],
            detail: { key }
          })
        }
      }
    }
  }
  return out
}
