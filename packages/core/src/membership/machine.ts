/**
 * The SWIM state machine (Das et al. 2002, with hashicorp/memberlist's incarnation rules). Pure: time comes in
 * with each input, randomness from the injected Rng; the driver performs the returned effects.
 */
import { GOSSIP_FANOUT, GOSSIP_INTERVAL_MS, LOCAL_HEALTH_MAX, RETRANSMIT_MULT, SUSPICION_CONFIRMATIONS, SUSPICION_MAX_TIMEOUT_MULT } from '../constants.js'
import { sample, shuffled } from '../rng.js'
import type { Rng } from '../rng.js'
import type { Member, MemberMeta, MemberState, MemberUpdate, MembershipEffect, MembershipInput, MembershipTimings } from './types.js'

export interface MembershipMachineInit {
  selfId: string
  meta: MemberMeta
  /** Start above any earlier life of this node: the driver passes its boot time in ms. */
  incarnation: number
  now: number
  timings: MembershipTimings
  rng: Rng
}

interface Queued { update: MemberUpdate, transmits: number }

/**
 * One member's suspicion (Lifeguard's LHA-Suspicion, section IV-B): who suspected it independently, how many
 * confirmations would bring the timeout down to the minimum (`k`), and the deadline as it stands.
 */
interface Suspicion { start: number, k: number, from: Set<string>, deadline: number }

/**
 * The suspicion timeout after `confirmations` independent confirmations of `k` wanted (memberlist's
 * remainingSuspicionTime): max - (max - min) x log(c + 1) / log(k + 1), never below min. With k = 0: min.
 */
export function suspicionTimeout (confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1)
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)))
}

/**
 * The piggyback queue, one bucket per send count so taking the least-sent updates costs O(max), not a sort of the
 * whole queue (a node joining a 1,000-member swarm queues 1,000 alives). Within a bucket, queue order.
 * memberlist keeps the same order in a btree keyed by (transmits, id).
 */
class PiggybackQueue {
  private readonly buckets: Array<Map<string, Queued>> = []
  private readonly count = new Map<string, number>()

  get size (): number {
    return this.count.size
  }

  set (id: string, q: Queued): void {
    this.delete(id)
    let bucket = this.buckets[q.transmits]
    if (bucket === undefined) {
      for (let i = this.buckets.length; i <= q.transmits; i++) this.buckets[i] = new Map()
      bucket = this.buckets[q.transmits]!
    }
    bucket.set(id, q)
    this.count.set(id, q.transmits)
  }

  delete (id: string): void {
    const t = this.count.get(id)
    if (t === undefined) return
    this.buckets[t]?.delete(id)
    this.count.delete(id)
  }

  /** Up to `max` entries, least-sent first. */
  least (max: number): Array<[string, Queued]> {
    const out: Array<[string, Queued]> = []
    for (const bucket of this.buckets) {
      if (out.length >= max) break
      for (const entry of bucket) {
        if (out.length >= max) break
        out.push(entry)
      }
    }
    return out
  }
}

export class MembershipMachine {
  private readonly selfId: string
  private self: Member
  private readonly members = new Map<string, Member>()
  private readonly suspicions = new Map<string, Suspicion>()
  /** Dead and left members, so the retention sweep on every tick does not walk the whole view. */
  private readonly departed = new Set<string>()
  private readonly timings: MembershipTimings
  private readonly rng: Rng
  private readonly queue = new PiggybackQueue()
  /** Members this node probes and exchanges state with, when the driver bounds them (see `neighbours`). */
  private scope: Set<string> | undefined
  private readonly inFlight = new Map<number, string>()
  /** Relays asked per probe in flight: the nacks a failed probe should have had if this node is healthy. */
  private readonly relaysAsked = new Map<number, number>()
  private probeOrder: string[] = []
  private seq = 0
  /** When the last probe round started; the next starts probeIntervalMs x (health + 1) later, health as it is then. */
  private lastProbeAt: number
  private nextPushPullAt: number
  /** The next gossip round, once updates are queued (a first update after a quiet spell goes out at once). */
  private nextGossipAt: number
  /**
   * Lifeguard's local health multiplier (LHM), 0..LOCAL_HEALTH_MAX: raised when this node's own probes fail or
   * when it must refute a suspicion of itself, lowered by each probe that succeeds. Probe interval and probe
   * timeout are stretched by (health + 1), so a node that is slow itself (a starved CPU, a stalled event loop)
   * stops suspecting healthy members for what is its own lateness. Source: Dadgar, Phillips, Currey, "Lifeguard:
   * Local Health Awareness for More Accurate Failure Detection" (2018), section IV-A; memberlist's awareness.go.
   */
  private health = 0

  constructor (init: MembershipMachineInit) {
    this.selfId = init.selfId
    this.timings = init.timings
    this.rng = init.rng
    this.self = { id: init.selfId, state: 'alive', incarnation: init.incarnation, lastSeen: init.now, stateSince: init.now, ...copyMeta(init.meta) }
    this.lastProbeAt = init.now - this.timings.probeIntervalMs
    this.nextPushPullAt = init.now + this.timings.pushPullIntervalMs
    this.nextGossipAt = init.now
    this.enqueue(this.aliveUpdate())
  }

  /** Every member this node knows, itself included. */
  view (): Member[] {
    return [{ ...this.self }, ...[...this.members.values()].map(m => ({ ...m }))]
  }

  get (id: string): Member | undefined {
    if (id === this.selfId) return { ...this.self }
    const m = this.members.get(id)
    return m === undefined ? undefined : { ...m }
  }

  get incarnation (): number {
    return this.self.incarnation
  }

  /** The local health multiplier (0 = healthy .. LOCAL_HEALTH_MAX): probe interval and timeout are x (health + 1). */
  get localHealth (): number {
    return this.health
  }

  /** Live members other than this node: probe targets and gossip partners. */
  liveMembers (): string[] {
    return [...this.members.values()].filter(m => m.state === 'alive' || m.state === 'suspect').map(m => m.id)
  }

  /** Members this node believes dead (not left): the ones discovery retries after a partition. */
  deadMembers (): string[] {
    const out: string[] = []
    for (const id of this.departed) if (this.members.get(id)?.state === 'dead') out.push(id)
    return out
  }

  /** One update per known member (self included): the full state for a push-pull exchange. */
  fullState (): MemberUpdate[] {
    return [this.selfUpdate(), ...[...this.members.values()].map(updateFor)]
  }

  /**
   * Updates to piggyback on an outgoing message. Each is sent about RETRANSMIT_MULT * log10(n + 1) times,
   * least-sent first, so news spreads epidemically without growing messages.
   */
  takePiggyback (max: number): MemberUpdate[] {
    const limit = RETRANSMIT_MULT * Math.max(1, Math.ceil(Math.log10(this.members.size + 2)))
    const picked = this.queue.least(max)
    for (const [id, q] of picked) {
      q.transmits++
      if (q.transmits >= limit) this.queue.delete(id)
      else this.queue.set(id, q)
    }
    return picked.map(([, q]) => q.update)
  }

  /**
   * The earliest time (ms, on the inputs' clock) at which a `tick` can do anything: the next probe round, the
   * next push-pull, the next gossip round while updates are queued, a suspicion's deadline or the end of a
   * departed member's retention. It may lie in the past (due now). A tick before it returns no effects and
   * changes nothing a later step can observe, so a driver may sleep until then instead of ticking on a fixed
   * period (every wake-up costs an idle daemon CPU). Any other input can bring it earlier: ask again after each
   * step. Undefined once this node has left (ticks do nothing then).
   */
  nextTickAt (): number | undefined {
    if (this.self.state === 'left') return undefined
    let at = Math.min(this.lastProbeAt + this.timings.probeIntervalMs * (this.health + 1), this.nextPushPullAt)
    if (this.queue.size > 0) at = Math.min(at, this.nextGossipAt)
    for (const [id, suspicion] of this.suspicions) {
      if (this.members.get(id)?.state === 'suspect') at = Math.min(at, suspicion.deadline)
    }
    for (const id of this.departed) {
      const m = this.members.get(id)
      if (m !== undefined && (m.state === 'dead' || m.state === 'left')) at = Math.min(at, m.stateSince + this.timings.deadMemberRetentionMs)
    }
    return at
  }

  step (input: MembershipInput): MembershipEffect[] {
    const effects: MembershipEffect[] = []
    switch (input.type) {
      case 'tick': this.onTick(input.now, effects); break
      case 'probe-result': this.onProbeResult(input, effects); break
      case 'updates':
        if (input.from !== undefined) this.touch(input.from, input.now)
        for (const u of input.updates) this.apply(u, input.now, effects)
        break
      case 'heard-from': this.touch(input.peer, input.now); break
      case 'connection-lost': this.onConnectionLost(input.peer, effects); break
      case 'leave': this.onLeave(input.now, effects); break
      case 'set-meta': this.onSetMeta(input.meta); break
      case 'neighbours': this.onNeighbours(input.peers); break
    }
    return effects
  }

  private onTick (now: number, effects: MembershipEffect[]): void {
    if (this.self.state === 'left') return
    for (const [id, suspicion] of this.suspicions) {
      const m = this.members.get(id)
      if (m === undefined || m.state !== 'suspect') { this.suspicions.delete(id); continue }
      if (suspicion.deadline <= now) {
        const update: MemberUpdate = { kind: 'dead', id, incarnation: m.incarnation, from: this.selfId }
        this.apply(update, now, effects)
        effects.push({ type: 'broadcast', update })
      }
    }
    for (const id of [...this.departed]) {
      const m = this.members.get(id)
      if (m === undefined || (m.state !== 'dead' && m.state !== 'left')) { this.departed.delete(id); continue }
      if (now - m.stateSince >= this.timings.deadMemberRetentionMs) {
        this.departed.delete(id)
        this.members.delete(m.id)
        this.queue.delete(m.id)
        effects.push({ type: 'removed', id: m.id })
      }
    }
    if (now >= this.lastProbeAt + this.timings.probeIntervalMs * (this.health + 1)) {
      this.lastProbeAt = now
      const target = this.nextProbeTarget()
      if (target !== undefined) this.probe(target, effects)
    }
    if (now >= this.nextPushPullAt) {
      this.nextPushPullAt = now + pushPullInterval(this.timings.pushPullIntervalMs, this.members.size + 1)
      const [peer] = sample(this.scopedLiveMembers(), 1, this.rng)
      if (peer !== undefined) effects.push({ type: 'push-pull', peer })
    }
    if (now >= this.nextGossipAt && this.queue.size > 0) {
      this.nextGossipAt = now + (this.timings.gossipIntervalMs ?? GOSSIP_INTERVAL_MS)
      const peers = sample(this.scopedLiveMembers(), GOSSIP_FANOUT, this.rng)
      if (peers.length > 0) effects.push({ type: 'gossip', peers })
    }
  }

  /** Round-robin over a shuffled list, reshuffled each pass (SWIM's bounded time to first detection). */
  private nextProbeTarget (): string | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeOrder.length > 0) {
        const id = this.probeOrder.shift()!
        const m = this.members.get(id)
        if (m !== undefined && (m.state === 'alive' || m.state === 'suspect') && !this.isInFlight(id)) return id
      }
      this.probeOrder = shuffled(this.scopedLiveMembers(), this.rng)
    }
    return undefined
  }

  /** A new neighbour set starts a new round-robin pass over it (the old pass may name members outside it). */
  private onNeighbours (peers: string[]): void {
    const next = peers.length === 0 ? undefined : new Set(peers)
    const same = next === undefined ? this.scope === undefined : this.scope !== undefined && this.scope.size === next.size && [...next].every(p => this.scope!.has(p))
    if (same) return
    this.scope = next
    this.probeOrder = []
  }

  /**
   * Probe targets and push-pull partners: the live members in the driver's neighbour set when it gave one (a
   * bounded-degree overlay, docs/protocols/membership.md "Probing neighbours"), else every live member. A scope
   * with no live member left falls back to every live member, so a node never stops probing.
   */
  private scopedLiveMembers (): string[] {
    if (this.scope !== undefined) {
      const inScope: string[] = []
      for (const id of this.scope) {
        const m = this.members.get(id)
        if (m !== undefined && (m.state === 'alive' || m.state === 'suspect')) inScope.push(id)
      }
      if (inScope.length > 0) return inScope
    }
    return this.liveMembers()
  }

  private isInFlight (id: string): boolean {
    for (const target of this.inFlight.values()) if (target === id) return true
    return false
  }

  private probe (target: string, effects: MembershipEffect[]): void {
    const seq = ++this.seq
    this.inFlight.set(seq, target)
    const via = sample(this.scopedLiveMembers().filter(id => id !== target && this.members.get(id)?.state === 'alive'), this.timings.indirectProbes, this.rng)
    this.relaysAsked.set(seq, via.length)
    effects.push({ type: 'probe', target, seq, via, timeoutMs: this.timings.probeTimeoutMs * (this.health + 1) })
  }

  private onProbeResult (input: Extract<MembershipInput, { type: 'probe-result' }>, effects: MembershipEffect[]): void {
    if (this.inFlight.get(input.seq) !== input.target) return
    this.inFlight.delete(input.seq)
    const relays = this.relaysAsked.get(input.seq) ?? 0
    this.relaysAsked.delete(input.seq)
    if (input.ok) {
      this.touch(input.target, input.now)
      this.adjustHealth(-1)
      return
    }
    // memberlist's rule: relays that answered "could not reach it either" (nacks) show this node is fine and the
    // target is not; each missing nack counts against this node. With no relay to ask, any failure counts.
    this.adjustHealth(relays > 0 ? Math.max(0, relays - Math.min(relays, input.nacks ?? 0)) : 1)
    const m = this.members.get(input.target)
    if (m === undefined || (m.state !== 'alive' && m.state !== 'suspect') || this.self.state === 'left') return
    const update: MemberUpdate = { kind: 'suspect', id: m.id, incarnation: m.incarnation, from: this.selfId }
    // Suspecting a member that others already suspect confirms their suspicion; the news is worth gossiping only
    // while it still shortens the timeout (memberlist: Confirm returns false past k). It goes out by gossip
    // rounds and piggybacking, not on the topic: a suspicion is often false, and a flood made every member pay
    // for each one (docs/protocols/membership.md, "Dissemination").
    if (m.state === 'suspect' && !this.confirm(m.id, this.selfId)) return
    if (m.state === 'alive') this.apply(update, input.now, effects)
    else this.enqueue(update)
  }

  /**
   * An independent suspicion of a member already suspect at the same incarnation: shortens its timeout. The
   * member itself (a full state's `from`) and repeats do not count. True when it was new and counted (fewer than
   * k confirmations so far).
   */
  private confirm (id: string, from: string): boolean {
    const s = this.suspicions.get(id)
    if (s === undefined || from === id || s.from.has(from) || s.from.size - 1 >= s.k) return false
    s.from.add(from)
    s.deadline = s.start + suspicionTimeout(s.from.size - 1, s.k, this.timings.suspicionTimeoutMs, this.maxSuspicionMs())
    return true
  }

  private maxSuspicionMs (): number {
    return this.timings.suspicionTimeoutMs * SUSPICION_MAX_TIMEOUT_MULT
  }

  private onConnectionLost (peer: string, effects: MembershipEffect[]): void {
    const m = this.members.get(peer)
    if (m === undefined || m.state !== 'alive' || this.self.state === 'left' || this.isInFlight(peer)) return
    this.probe(peer, effects)
  }

  private onLeave (now: number, effects: MembershipEffect[]): void {
    if (this.self.state === 'left') return
    const previous = this.self.state
    this.self = { ...this.self, state: 'left', stateSince: now }
    const update: MemberUpdate = { kind: 'left', id: this.selfId, incarnation: this.self.incarnation }
    this.enqueue(update)
    effects.push({ type: 'changed', member: { ...this.self }, previous }, { type: 'broadcast', update })
  }

  private onSetMeta (meta: Partial<MemberMeta>): void {
    // After leaving, an alive at a higher incarnation would read to every peer as a rejoin.
    if (this.self.state === 'left') return
    this.self = { ...this.self, ...copyMeta({ ...this.self, ...meta }), incarnation: this.self.incarnation + 1 }
    this.enqueue(this.aliveUpdate())
  }

  private adjustHealth (delta: number): void {
    this.health = Math.min(LOCAL_HEALTH_MAX, Math.max(0, this.health + delta))
  }

  private touch (id: string, now: number): void {
    const m = this.members.get(id)
    if (m !== undefined) m.lastSeen = now
  }

  /** memberlist's rules: only a higher incarnation overrides; suspicion and death are refuted by the member. */
  private apply (u: MemberUpdate, now: number, effects: MembershipEffect[]): void {
    if (u.id === this.selfId) {
      this.applyAboutSelf(u, effects)
      return
    }
    const m = this.members.get(u.id)
    if (m === undefined) {
      // Only an `alive` introduces a member; news of the death of a stranger carries nothing to act on.
      if (u.kind !== 'alive') return
      const member: Member = { id: u.id, state: 'alive', incarnation: u.incarnation, lastSeen: 0, stateSince: now, ...copyMeta(u) }
      this.members.set(u.id, member)
      this.enqueue(u)
      effects.push({ type: 'changed', member: { ...member }, previous: undefined })
      return
    }
    if (u.kind === 'suspect' && m.state === 'suspect' && u.incarnation === m.incarnation) {
      this.confirm(m.id, u.from)
      return
    }
    // One total order, so the merge is commutative, associative and idempotent: a higher incarnation wins; at
    // the same incarnation alive < suspect < dead < left. (memberlist ignores any news about a dead or left
    // member but an alive, which makes the outcome depend on arrival order.)
    if (u.incarnation < m.incarnation || (u.incarnation === m.incarnation && STATE_RANK[u.kind] <= STATE_RANK[m.state])) return
    const next: MemberState = u.kind
    // memberlist's NotifyUpdate: new addresses or capabilities are news even when the state stays alive.
    const metaChanged = u.kind === 'alive' && !sameMeta(m, u)
    if (u.kind === 'alive') Object.assign(m, copyMeta(u))
    m.incarnation = u.incarnation
    this.enqueue(u)
    const previous = m.state
    if (next === 'suspect' && (previous !== 'suspect' || !this.suspicions.has(m.id))) this.startSuspicion(m.id, u.kind === 'suspect' ? u.from : m.id, now)
    if (next !== 'suspect') this.suspicions.delete(m.id)
    if (next !== previous) {
      m.state = next
      m.stateSince = now
      if (next === 'dead' || next === 'left') this.departed.add(m.id)
      else this.departed.delete(m.id)
    }
    if (next !== previous || metaChanged) effects.push({ type: 'changed', member: { ...m }, previous })
  }

  /**
   * A new suspicion: it runs the longest timeout until confirmations come (Lifeguard), unless the swarm is too
   * small to give k of them (memberlist: fewer than k + 2 members), where it runs the minimum at once. A suspicion
   * that came in a full state (`from` the member itself) or at a new incarnation starts the same way.
   */
  private startSuspicion (id: string, from: string, now: number): void {
    const k = this.members.size - 1 < SUSPICION_CONFIRMATIONS ? 0 : SUSPICION_CONFIRMATIONS
    const s: Suspicion = { start: now, k, from: new Set(from === id ? [] : [from]), deadline: 0 }
    s.deadline = now + (k === 0 ? this.timings.suspicionTimeoutMs : this.maxSuspicionMs())
    this.suspicions.set(id, s)
  }

  /** Someone says we are suspect, dead or left (an earlier life of ours, or a false alarm): refute it. */
  private applyAboutSelf (u: MemberUpdate, effects: MembershipEffect[]): void {
    if (this.self.state === 'left') return
    if (u.kind === 'alive' && u.incarnation <= this.self.incarnation) return
    if (u.kind !== 'alive' && u.incarnation < this.self.incarnation) return
    // Being suspected is a sign this node answers late (Lifeguard counts a refutation against local health).
    if (u.kind !== 'alive') this.adjustHealth(+1)
    this.self = { ...this.self, incarnation: u.incarnation + 1 }
    const update = this.aliveUpdate()
    this.enqueue(update)
    // The refutation is also flooded on the topic: it must overtake a suspicion already spreading, since every
    // member that sees this node suspect meanwhile treats it as gone (a job's lease it holds counts as expired).
    effects.push({ type: 'broadcast', update })
  }

  private aliveUpdate (): MemberUpdate {
    return { kind: 'alive', id: this.selfId, incarnation: this.self.incarnation, ...copyMeta(this.self) }
  }

  private selfUpdate (): MemberUpdate {
    return this.self.state === 'left' ? { kind: 'left', id: this.selfId, incarnation: this.self.incarnation } : this.aliveUpdate()
  }

  /** A newer update about a member replaces the queued one (memberlist's invalidation). */
  private enqueue (update: MemberUpdate): void {
    this.queue.set(update.id, { update, transmits: 0 })
  }
}

/** The update that describes a member's current state, for full-state exchanges. */
function updateFor (m: Member): MemberUpdate {
  switch (m.state) {
    case 'alive': return { kind: 'alive', id: m.id, incarnation: m.incarnation, ...copyMeta(m) }
    case 'suspect': return { kind: 'suspect', id: m.id, incarnation: m.incarnation, from: m.id }
    // As in memberlist's mergeState: a peer's belief that a member is dead only makes us suspect it, so a
    // stale view can never kill a live member outright; our own probes decide.
    case 'dead': return { kind: 'suspect', id: m.id, incarnation: m.incarnation, from: m.id }
    case 'left': return { kind: 'left', id: m.id, incarnation: m.incarnation }
  }
}

/**
 * memberlist's pushPullScale: above 32 members the full-state interval grows with log2(n), so the bytes a node
 * spends on full states (n updates per exchange) grow as n / log n, not n.
 */
export function pushPullInterval (baseMs: number, members: number): number {
  if (members <= PUSH_PULL_SCALE_THRESHOLD) return baseMs
  return (Math.ceil(Math.log2(members) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1) * baseMs
}

const PUSH_PULL_SCALE_THRESHOLD = 32

const STATE_RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 }

function sameMeta (a: MemberMeta, b: MemberMeta): boolean {
  const same = (x: string[], y: string[]): boolean => x.length === y.length && x.every((v, i) => v === y[i])
  return a.version === b.version && same(a.addrs, b.addrs) && same(a.capabilities, b.capabilities)
}

function copyMeta (m: MemberMeta): MemberMeta {
  return { addrs: [...m.addrs], version: m.version, capabilities: [...m.capabilities] }
}
