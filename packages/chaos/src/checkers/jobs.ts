/**
 * Invariant 8 (jobs): every finished job's result equals the answer computed locally from its input
 * (jobs-model.ts), reduce included, and names a member of the swarm as the node that finished it. A stale lease's
 * result shows up here only if it makes the answer wrong or disagree between reads; lease tokens are not
 * visible over RPC.
 */
import type { CheckInput, Op, Violation } from '../types.js'
import { expectedJobResult } from '../jobs-model.js'

export function checkJobs (input: CheckInput): Violation[] {
  const out: Violation[] = []
  const submits = new Map<string, Op>()
  for (const s of input.ops) if (s.kind === 'task.submit' && s.outcome === 'ok' && typeof s.result?.jobId === 'string') submits.set(s.result.jobId, s)
  const members = new Set(Object.values(input.peerIds))
  const answers = new Map<string, { op: Op, value: string }>()
  for (const r of input.ops) {
    if (r.kind !== 'task.result' || r.outcome !== 'ok' || r.result?.state !== 'done') continue
    const submit = submits.get(String(r.args.jobId))
    if (submit === undefined) continue
    const expected = expectedJobResult(submit.args)
    const got = JSON.stringify(r.result.result)
    if (expected !== undefined && JSON.stringify(expected) !== got) {
      out.push({ invariant: 'inv8-jobs', message: `job ${String(r.args.jobId).slice(0, 8)} (${String(submit.args.handler)}) finished with ${got}, expected ${JSON.stringify(expected)}`, ops: [submit, r], detail: { expected } })
    }
    if (typeof r.result.finishedBy === 'string' && !members.has(r.result.finishedBy)) {
      out.push({ invariant: 'inv8-jobs', message: `job ${String(r.args.jobId).slice(0, 8)} claims to be finished by ${String(r.result.finishedBy)}, not a member`, ops: [submit, r] })
    }
    const prev = answers.get(String(r.args.jobId))
    if (prev !== undefined && prev.value !== got) {
      out.push({ invariant: 'inv8-jobs', message: `job ${String(r.args.jobId).slice(0, 8)} reported two different results: ${prev.value} (op ${prev.op.id}) and ${got} (op ${r.id})`, ops: [submit, prev.op, r] })
    }
    answers.set(String(r.args.jobId), { op: r, value: got })
  }
  return out
}
