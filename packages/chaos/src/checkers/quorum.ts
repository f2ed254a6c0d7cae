/**
 * Invariant 7 (quorum): a write acknowledged with acks 'quorum' was stored by a majority of the swarm's members
 * (all members the run started: the members last known, not only those visible now). The put's answer says how
 * many nodes it required and how many stored it: required must be at least that majority and acked at least
 * required; a numeric acks must have acked >= acks. What survives a minority kill is invariant 3's check.
 */
import type { CheckInput, Violation } from '../types.js'
import { acksAsked, isWrite, majority } from './common.js'

export function checkQuorum (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const need = majority(input.members)
  for (const w of input.ops) {
    if (!isWrite(w) || w.outcome !== 'ok') continue
    const asked = acksAsked(w)
    const acked = Number(w.result?.acked)
    const required = Number(w.result?.required)
    const floor = asked === 'quorum' ? need : asked === 'all' ? 1 : asked
    const problems: string[] = []
    if (asked === 'quorum' && required < need) problems.push(`required ${required} < majority ${need} of ${input.members} members`)
    if (acked < floor || acked < required) problems.push(`acked ${acked} < ${Math.max(floor, required)}`)
    if (problems.length > 0) {
      out.push({ invariant: 'inv7-quorum', message: `${w.kind} of '${String(w.args.key)}' with acks ${String(asked)} on node ${w.node} (op ${w.id}) was acknowledged with ${problems.join(', ')}`, ops: [w], detail: { acked, required } })
    }
  }
  return out
}
