/**
 * Invariant 2 (bounded skew): a write acknowledged more than events.maxClockDriftMs before another write of the
 * same key was invoked never wins over it. Checked on the versions the two ok writes returned (harness wall
 * time, never skewed, decides "before"): the later write's version must be above the earlier one's.
 */
import type { CheckInput, Op, Version, Violation } from '../types.js'
import { compareVersion, showVersion } from '../version.js'
import { byKey, isWrite, versionOf } from './common.js'

export function checkBoundedSkew (input: CheckInput): Violation[] {
  const out: Violation[] = []
  for (const [key, ops] of byKey(input.ops)) {
    const writes = ops.filter(o => isWrite(o) && versionOf(o) !== undefined)
    const acked = [...writes].sort((a, b) => a.completeAt - b.completeAt)
    const invoked = [...writes].sort((a, b) => a.invokeAt - b.invokeAt)
    let i = 0
    let max: { op: Op, v: Version } | undefined
    for (const w2 of invoked) {
      while (i < acked.length && acked[i]!.completeAt + input.maxClockDriftMs < w2.invokeAt) {
        const v = versionOf(acked[i]!)!
        if (max === undefined || compareVersion(v, max.v) > 0) max = { op: acked[i]!, v }
        i++
      }
      const v2 = versionOf(w2)!
      if (max !== undefined && compareVersion(v2, max.v) <= 0) {
        out.push({
          invariant: 'inv2-bounded-skew',
          message: `${w2.kind} of '${key}' on node ${w2.node} (version ${showVersion(v2)}) loses to op ${max.op.id} on node ${max.op.node} (version ${showVersion(max.v)}), acknowledged ${w2.invokeAt - max.op.completeAt} ms before it was invoked (bound ${input.maxClockDriftMs} ms)`,
          ops: [max.op, w2],
          detail: { key, earlier: max.v, later: v2 }
        })
      }
    }
  }
  return out
}
