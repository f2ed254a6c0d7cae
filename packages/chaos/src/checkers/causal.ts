/**
 * Invariant 1 (causal): a write issued on a node after that node has applied version w of the key wins over w.
 * Evidence of "applied" the history can see: an ok kv.get on that node that returned w, or an ok write on that
 * node that returned w, completed before the new write was invoked. The new write's returned version must be
 * above w (a put's version must exceed the version it replaces); LWW then makes it win everywhere, which
 * invariant 5 (equal replicas) and 3 (no acknowledged write lost) check on the final state. Observations made
 * before the node's db/ was moved aside (a wipe) do not count.
 */
import type { CheckInput, Op, Version, Violation } from '../types.js'
import { compareVersion, showVersion } from '../version.js'
import { byKey, isWrite, versionOf, wipedBetween } from './common.js'

export function checkCausal (input: CheckInput): Violation[] {
  const out: Violation[] = []
  for (const [key, ops] of byKey(input.ops)) {
    const perNode = new Map<number, Op[]>()
    for (const op of ops) if (op.outcome === 'ok') perNode.set(op.node, [...(perNode.get(op.node) ?? []), op])
    for (const [node, list] of perNode) {
      const seen = [...list].sort((a, b) => a.completeAt - b.completeAt)
      for (const w of list) {
        if (!isWrite(w)) continue
        const wv = versionOf(w)
        if (wv === undefined) continue
        let best: { op: Op, v: Version } | undefined
        for (const o of seen) {
          if (o.completeAt >= w.invokeAt) break
          if (wipedBetween(input.wipes, node, o.completeAt, w.invokeAt)) continue
          const v = versionOf(o)
          if (v !== undefined && (best === undefined || compareVersion(v, best.v) > 0)) best = { op: o, v }
        }
        if (best !== undefined && compareVersion(wv, best.v) <= 0) {
          out.push({
            invariant: 'inv1-causal',
            message: `${w.kind} of '${key}' on node ${node} got version ${showVersion(wv)}, not above ${showVersion(best.v)} that node ${node} had applied before the write was invoked (op ${best.op.id})`,
            ops: [best.op, w],
            detail: { key, node, applied: best.v, written: wv }
          })
        }
      }
    }
  }
  return out
}
