/**
 * Invariant 5 (convergence): after the last heal every replica holds the same keys, values and versions (full
 * dumps compared, not Merkle roots) within the deadline. The run measures when the dumps first became equal.
 */
import type { CheckInput, NodeState, Violation } from '../types.js'
import { showVersion } from '../version.js'

/** Differences between full KV dumps, as readable lines (empty = equal). At most `limit` lines. */
export function kvDifferences (states: NodeState[], limit = 20): string[] {
  const keys = new Set<string>()
  for (const s of states) for (const k of Object.keys(s.kv)) keys.add(k)
  const out: string[] = []
  for (const k of [...keys].sort()) {
    const shown = states.map(s => {
      const r = s.kv[k]
      return r === undefined ? 'absent' : `${JSON.stringify(r.value)}@${showVersion(r.version)}`
    })
    if (new Set(shown).size > 1) out.push(`'${k}': ${states.map((s, i) => `n${s.index}=${shown[i]!}`).join(' ')}`)
    if (out.length >= limit) break
  }
  return out
}

export function checkConvergence (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const diffs = kvDifferences(input.final)
  const c = input.convergence
  if (c !== undefined && !c.converged) {
    out.push({
      invariant: 'inv5-convergence',
      message: `replicas did not converge within ${c.deadlineMs} ms of the last heal: ${(c.differences ?? diffs).slice(0, 5).join('; ')}`,
      ops: [],
      detail: { differences: c.differences ?? diffs }
    })
  } else if (c?.afterMs !== undefined && c.afterMs > c.budgetMs) {
    out.push({ invariant: 'inv5-convergence', message: `replicas converged ${c.afterMs} ms after the last heal, over the ${c.budgetMs} ms budget`, ops: [], detail: { afterMs: c.afterMs } })
  }
  if (diffs.length > 0 && (c === undefined || c.converged)) {
    out.push({ invariant: 'inv5-convergence', message: `final dumps differ: ${diffs.slice(0, 5).join('; ')}`, ops: [], detail: { differences: diffs } })
  }
  return out
}
