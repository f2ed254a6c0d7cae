/**
 * Invariant 3 (durability): a write acknowledged with acks >= 2 survives kill -9 of any minority of nodes, the
 * writer included. Read against two states: the survivors right after a minority (recent writers first) was
 * killed, for the writes whose `acked` count exceeds the number killed (so at least one holder lives), and every
 * node after all are back. A wipe after the ack counts as one copy lost (a lost disk is not a crash). On each node the key must hold the write or something newer; an absent key is
 * explained only by a delete that is newer (ok, version above) or may have happened (unknown). On the survivors
 * the write is lost when no survivor holds it (they may still be catching up with each other); in the final state
 * when any node lacks it.
 */
import type { CheckInput, NodeState, Op, Violation } from '../types.js'
import { compareVersion, showVersion } from '../version.js'
import { byKey, replicatedWrite, versionOf } from './common.js'

export function checkDurability (input: CheckInput): Violation[] {
  const out: Violation[] = []
  if (input.survivors !== undefined) out.push(...lostWrites(input, input.survivors, input.killed ?? [], 'survivors of the minority kill'))
  // Final dumps that never became equal may still lag: then, as on the survivors, one holder is enough here and
  // the disagreement itself is invariant 5's violation.
  const converged = input.convergence?.converged !== false
  out.push(...lostWrites(input, input.final, [], 'final state', converged))
  return out
}

function lostWrites (input: CheckInput, states: NodeState[], killed: number[], where: string, everyNode = false): Violation[] {
  const out: Violation[] = []
  for (const [key, ops] of byKey(input.ops)) {
    const deletes = ops.filter(o => o.kind === 'kv.delete')
    for (const w of ops) {
      if (w.kind !== 'kv.put' || !replicatedWrite(w)) continue
      const wv = versionOf(w)
      if (wv === undefined) continue
      const acked = typeof w.result?.acked === 'number' ? w.result.acked as number : 1
      // Each later wipe (db/ moved aside) may have removed one of the copies: count it as a lost holder.
      const wipedAfter = (input.wipes ?? []).filter(x => x.at > w.completeAt).length
      if (acked - wipedAfter <= killed.length) continue
      const explainsAbsence = (d: Op): boolean => d.outcome === 'unknown' || (d.outcome === 'ok' && compareVersion(versionOf(d)!, wv) > 0)
      const missing: string[] = []
      const holds = (s: NodeState): string | undefined => {
        const rec = s.kv[key]
        if (rec === undefined) return deletes.some(explainsAbsence) ? undefined : `node ${s.index}: key absent, no newer delete`
        return compareVersion(rec.version, wv) < 0 ? `node ${s.index}: holds older ${showVersion(rec.version)} value ${JSON.stringify(rec.value)}` : undefined
      }
      const problems = states.map(holds)
      // Survivors that have not agreed yet may lag; the write is lost only if no survivor holds it. After the
      // final convergence every node must hold it.
      if (everyNode ? problems.some(p => p !== undefined) : problems.every(p => p !== undefined)) {
        missing.push(...problems.filter((p): p is string => p !== undefined))
      }
      if (missing.length > 0) {
        out.push({
          invariant: 'inv3-durability',
          message: `put of '${key}' (op ${w.id}, acks ${String(w.args.acks)}, acked by ${acked}, version ${showVersion(wv)}) is lost in the ${where}${killed.length > 0 ? ` (killed: ${killed.join(',')})` : ''}: ${missing.join('; ')}`,
          ops: [w, ...deletes.slice(-3)],
          detail: { key, where, killed, missing }
        })
      }
    }
  }
  return out
}
