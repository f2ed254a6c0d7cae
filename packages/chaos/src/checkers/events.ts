/**
 * Invariant 6 (events): for each origin every node ends with the same gap-free sequence 1..n; no two different
 * events share one (origin, seq) anywhere (final logs, events.list reads, publish acknowledgements); every ok
 * publish is in every node's log with its data (unless its node's db/ was later moved aside: a lost disk). Signatures are not visible over RPC (the daemon verifies them
 * before delivery), so "signed by its origin" is checked only as far as delivery implies it.
 */
import type { CheckInput, Op, StoredEvent, Violation } from '../types.js'

const identity = (e: { topic: string, type: string, data: unknown }): string => JSON.stringify([e.topic, e.type, e.data])

export function checkEvents (input: CheckInput): Violation[] {
  const out: Violation[] = []
  // Every identity seen for one (origin, seq), with where each was first seen; more than one is a violation.
  const seen = new Map<string, Map<string, { where: string[], op?: Op }>>()
  const note = (origin: string, seq: number, id: string, where: string, op?: Op): void => {
    const k = `${origin}\u0000${seq}`
    const ids = seen.get(k) ?? new Map<string, { where: string[], op?: Op }>()
    seen.set(k, ids)
    const entry = ids.get(id) ?? { where: [], ...(op !== undefined ? { op } : {}) }
    if (entry.where.length < 4) entry.where.push(where)
    if (entry.op === undefined && op !== undefined) entry.op = op
    ids.set(id, entry)
  }
  const publishes = input.ops.filter(o => o.kind === 'events.publish' && o.outcome === 'ok' && typeof o.result?.origin === 'string')
  for (const p of publishes) note(p.result.origin, p.result.seq, identity({ topic: String(p.args.topic), type: String(p.args.type ?? 'user'), data: p.args.data }), `ack of op ${p.id}`, p)
  for (const r of input.ops) {
    if (r.kind !== 'events.list' || r.outcome !== 'ok') continue
    for (const e of (r.result?.events ?? []) as Array<StoredEvent & { origin: string }>) note(e.origin, e.seq, identity(e), `read by op ${r.id} on node ${r.node}`, r)
  }
  const reportDuplicates = (): void => {
    for (const [k, ids] of seen) {
      if (ids.size < 2) continue
      const [origin, seq] = k.split('\u0000') as [string, string]
      const shown = [...ids].map(([id, e]) => `${id} (${e.where.join(', ')})`)
      out.push({
        invariant: 'inv6-events',
        message: `${ids.size} different events with (origin ${origin.slice(-6)}, seq ${seq}): ${shown.join(' vs ')}`,
        ops: [...ids.values()].flatMap(e => e.op !== undefined ? [e.op] : []),
        detail: { origin, seq: Number(seq) }
      })
    }
  }
  const origins = new Set<string>()
  for (const s of input.final) {
    for (const [origin, events] of Object.entries(s.events)) {
      origins.add(origin)
      const seqs = events.map(e => e.seq).sort((a, b) => a - b)
      const gaps: number[] = []
      for (let i = 0, want = 1; i < seqs.length; i++, want++) {
        if (seqs[i] !== want) { gaps.push(want); break }
      }
      if (gaps.length > 0) {
        out.push({ invariant: 'inv6-events', message: `node ${s.index} holds origin ${origin.slice(-6)} with a gap: seq ${gaps[0]} missing (has ${seqs.length} events, up to ${seqs[seqs.length - 1]})`, ops: [], detail: { node: s.index, origin } })
      }
      for (const e of events) note(origin, e.seq, identity(e), `final log of node ${s.index}`)
    }
  }
  for (const origin of origins) {
    const heads = input.final.map(s => `n${s.index}=${(s.events[origin] ?? []).length}`)
    if (new Set(input.final.map(s => (s.events[origin] ?? []).length)).size > 1) {
      out.push({ invariant: 'inv6-events', message: `nodes end with different sequences for origin ${origin.slice(-6)}: ${heads.join(' ')}`, ops: [], detail: { origin } })
    }
  }
  reportDuplicates()
  for (const p of publishes) {
    if ((input.wipes ?? []).some(w => w.node === p.node && w.at > p.completeAt)) continue
    const lacking = input.final.filter(s => !(s.events[p.result.origin] ?? []).some(e => e.seq === p.result.seq))
    if (lacking.length > 0) {
      out.push({ invariant: 'inv6-events', message: `acknowledged publish (op ${p.id}, origin ${String(p.result.origin).slice(-6)} seq ${p.result.seq}) is missing on node(s) ${lacking.map(s => s.index).join(',')}`, ops: [p], detail: { origin: p.result.origin, seq: p.result.seq } })
    }
  }
  return out
}
