/**
 * Invariant 6 (events): for each origin every node ends with the same gap-free sequence 1..n; no two different
 * events share one (origin, seq) anywhere (final logs, events.list reads, publish acknowledgements); every ok
 * publish is in every node's log with its data (unless its node's db/ was later moved aside: a lost disk). Signatures are not visible over RPC (the daemon verifies them
 * before delivery), so "signed by its origin" is checked only as far as delivery implies it.
 */
import type { CheckInput, Op, StoredEvent, Violation } from '../types.js'

/** The longest a partition keeps a publisher's event from every peer (the nemesis's partitions last 3-10 s), plus slack. */
const LOST_WITH_DISK_MS = 15_000

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
  // Every seq of each origin that some node holds or some client saw acknowledged. A seq nobody holds and nobody
  // acknowledged was never signed (an origin whose log was lost continues above its seq reservation,
  // docs/protocols/events.md): a hole there is no gap.
  const known = new Map<string, Set<number>>()
  const add = (origin: string, seq: number): void => { const set = known.get(origin) ?? new Set<number>(); set.add(seq); known.set(origin, set) }
  for (const s of input.final) for (const [origin, events] of Object.entries(s.events)) for (const e of events) add(origin, e.seq)
  // An acknowledged publish is durable on its node only (docs/protocols/events.md): one whose node lost its disk
  // soon after, before any peer had it (gossip takes milliseconds; a partition holds it back at most
  // LOST_WITH_DISK_MS), is gone with that disk. A loss later than that is a violation: peers had time to take it.
  const lostWithDisk = (p: Op): boolean => (input.wipes ?? []).some(w => w.node === p.node && w.at > (p.completeAt ?? 0) && w.at - (p.completeAt ?? 0) < LOST_WITH_DISK_MS)
  for (const p of publishes) if (!lostWithDisk(p)) add(p.result.origin, p.result.seq)
  const wiped = (node: number): boolean => (input.wipes ?? []).some(w => w.node === node)
  for (const s of input.final) {
    for (const [origin, all] of known) {
      const events = s.events[origin] ?? []
      const mine = new Set(events.map(e => e.seq))
      const missing = [...all].filter(x => !mine.has(x)).sort((a, b) => a - b)
      if (missing.length === 0) continue
      // Known limit (docs/protocols/invariants.md): an origin whose own db/ was moved aside does not fetch back its
      // own events from before the loss; its peers keep them.
      const lowest = Math.min(...mine)
      if (s.peerId === origin && wiped(s.index) && missing.every(x => x < lowest)) continue
      out.push({ invariant: 'inv6-events', message: `node ${s.index} holds origin ${origin.slice(-6)} with a gap: seq ${missing[0]} missing though held or acknowledged elsewhere (${missing.length} missing; it has ${events.length} events, up to ${events.length > 0 ? Math.max(...mine) : 0})`, ops: [], detail: { node: s.index, origin, missing: missing.slice(0, 20) } })
    }
    for (const [origin, events] of Object.entries(s.events)) for (const e of events) note(origin, e.seq, identity(e), `final log of node ${s.index}`)
  }
  reportDuplicates()
  for (const p of publishes) {
    if (lostWithDisk(p)) continue
    // The known limit again: the publisher itself, if its db/ was moved aside later, does not fetch its own
    // events back; every other node must hold them.
    const ownLoss = (node: number): boolean => node === p.node && (input.wipes ?? []).some(w => w.node === node && w.at > (p.completeAt ?? 0))
    const lacking = input.final.filter(s => !ownLoss(s.index) && !(s.events[p.result.origin] ?? []).some(e => e.seq === p.result.seq))
    if (lacking.length > 0) {
      out.push({ invariant: 'inv6-events', message: `acknowledged publish (op ${p.id}, origin ${String(p.result.origin).slice(-6)} seq ${p.result.seq}) is missing on node(s) ${lacking.map(s => s.index).join(',')}`, ops: [p], detail: { origin: p.result.origin, seq: p.result.seq } })
    }
  }
  return out
}
