/**
 * Bounded-degree overlay: which members a node keeps connections to. Pure: the view and the current connections
 * come in, the plan (keep, dial, drop) goes out; the driver dials and closes.
 *
 * Each node picks
 * - `ringNeighbours` successors and as many predecessors on a ring ordered by a hash of the peer id. Every node
 *   picking its successor makes one cycle through all members whose views agree, so the overlay stays connected
 *   whatever the random links do (Chord's successor list, Rapid's K-ring monitoring);
 * - random members up to `degree`, keeping the ones already connected (no churn while nothing changes). Random
 *   links make the diameter O(log n) (a random regular graph's diameter; HyParView's active view, gossipsub's
 *   mesh of D = 6-12 random peers).
 *
 * Connections are symmetric, so a node also holds the links others chose (about `degree` more on average); the
 * driver caps the total at `maxConnections` and never closes a link the other side opened (see discovery.ts).
 * When a neighbour dies it leaves the live set, the next plan drops it and picks another member: the overlay
 * repairs itself within one maintenance round of the death being known.
 */
import type { Rng } from '../rng.js'

export interface OverlayInput {
  self: string
  /** Live members (alive or suspect) this node may connect to; self and duplicates are ignored. */
  live: readonly string[]
  /** Peers this node currently keeps as chosen neighbours (or is connected to). */
  current: readonly string[]
  /** Chosen neighbours to keep (structured + random). */
  degree: number
  /** Successors (and as many predecessors) on the hash ring, counted in `degree`. */
  ringNeighbours: number
  rng: Rng
}

export interface OverlayPlan {
  /** The chosen neighbours, structured first. */
  desired: string[]
  /** In `desired` but not in `current`. */
  dial: string[]
  /** In `current` but not in `desired`. */
  drop: string[]
}

/** 32-bit FNV-1a of the id: spreads ids (which share prefixes such as `12D3KooW`) evenly around the ring. */
export function ringPosition (id: string): number {
  const cached = positions.get(id)
  if (cached !== undefined) return cached
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  if (positions.size >= MAX_CACHED_POSITIONS) positions.clear()
  positions.set(id, h >>> 0)
  return h >>> 0
}

/** A pure function's memo (same id, same position): every maintenance round hashes the whole view otherwise. */
const positions = new Map<string, number>()
const MAX_CACHED_POSITIONS = 100_000

/** The ring neighbours of `self` among `ids`: k successors, then k predecessors (fewer when the ring is small). O(n k). */
export function ringNeighbours (self: string, ids: readonly string[], k: number): string[] {
  if (k <= 0) return []
  const me = ringPosition(self)
  // Clockwise distance from self, ties broken by id so every node computes the same ring.
  const succ: RingEntry[] = []
  const pred: RingEntry[] = []
  const seen = new Set<string>()
  for (const id of ids) {
    if (id === self || seen.has(id)) continue
    seen.add(id)
    const p = ringPosition(id)
    insertClosest(succ, { id, d: ((p - me) >>> 0) || 0x100000000 }, k)
    insertClosest(pred, { id, d: ((me - p) >>> 0) || 0x100000000 }, k)
  }
  const out = succ.map(e => e.id)
  for (const e of pred) if (!out.includes(e.id)) out.push(e.id)
  return out
}

interface RingEntry { id: string, d: number }

function closer (a: RingEntry, b: RingEntry): boolean {
  return a.d < b.d || (a.d === b.d && a.id < b.id)
}

/** Keeps `list` as the k closest entries, sorted. */
function insertClosest (list: RingEntry[], e: RingEntry, k: number): void {
  if (list.length === k && !closer(e, list[k - 1]!)) return
  let i = list.length
  list.push(e)
  while (i > 0 && closer(e, list[i - 1]!)) { list[i] = list[i - 1]!; i-- }
  list[i] = e
  if (list.length > k) list.pop()
}

/**
 * The neighbours to keep, dial and drop. With `live.length <= degree` every live member is a neighbour (a small
 * swarm is fully connected, as before bounded degree).
 */
export function planNeighbours (input: OverlayInput): OverlayPlan {
  const degree = Math.max(1, Math.floor(input.degree))
  const live = [...new Set(input.live)].filter(id => id !== input.self)
  const liveSet = new Set(live)
  let desired: string[]
  if (live.length <= degree) {
    desired = live
  } else {
    desired = ringNeighbours(input.self, live, Math.min(input.ringNeighbours, Math.floor(degree / 2))).slice(0, degree)
    const chosen = new Set(desired)
    // Keep current random links that are still live, in a random order so an over-full set sheds evenly.
    const kept = shuffle(input.current.filter(id => liveSet.has(id) && !chosen.has(id)), input.rng)
    for (const id of kept) {
      if (desired.length >= degree) break
      if (chosen.has(id)) continue
      desired.push(id)
      chosen.add(id)
    }
    // Fill with fresh random members: rejection sampling, O(degree) draws while the view is much larger.
    let attempts = 0
    while (desired.length < degree && attempts < degree * 8) {
      attempts++
      const id = live[Math.floor(input.rng() * live.length)]!
      if (chosen.has(id)) continue
      desired.push(id)
      chosen.add(id)
    }
    if (desired.length < degree) {
      for (const id of shuffle(live.filter(x => !chosen.has(x)), input.rng)) {
        if (desired.length >= degree) break
        desired.push(id)
        chosen.add(id)
      }
    }
  }
  const current = new Set(input.current)
  const want = new Set(desired)
  return {
    desired,
    dial: desired.filter(id => !current.has(id)),
    drop: [...current].filter(id => !want.has(id))
  }
}

function shuffle<T> (items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const t = items[i]!
    items[i] = items[j]!
    items[j] = t
  }
  return items
}
