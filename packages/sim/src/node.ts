/**
 * One simulated node: the real MembershipMachine from @shoal/core, driven the way packages/node drives it
 * (membership-service.ts: ticks at the machine's nextTickAt, direct then indirect probes, push-pull, gossip rounds, `dead` and `left` broadcast on the topic) plus the
 * bounded-degree overlay of discovery.ts (core's planNeighbours every maintenance round) and a gossipsub-like
 * mesh. Events live in events.ts. Local time is skewed: an offset and a drift per node.
 */
import { MembershipMachine, planNeighbours, constants } from '@shoal/core'
import type { Member, MemberState, MemberUpdate, MembershipEffect, MembershipInput, MembershipTimings, Rng } from '@shoal/core'
import type { Network } from './network.js'
import type { World } from './world.js'
import { CONNECT_BYTES, CONNECT_MESSAGES, GOSSIP_HEADER_BYTES, SWIM_HEADER_BYTES, TRANSPORT_OVERHEAD_BYTES, updatesBytes } from './sizes.js'

/** membership-service.ts MAX_TICK_GAP_MS: the driver ticks at the machine's `nextTickAt`, at least this often. */
export const MAX_TICK_GAP_MS = 1_000
/** discovery.ts MAINTAIN_INTERVAL_MS and FIRST_ROUNDS_MS. */
export const MAINTAIN_INTERVAL_MS = 3000
const FIRST_ROUNDS_MS = [0, 500, 1500]
/** A disconnect from a connection younger than this is a probe's transient dial, not news (see discovery.ts). */
export const TRANSIENT_CONNECTION_MS = 10_000
/** membership-service.ts JOIN_ANNOUNCE_AT_MS. */
const JOIN_ANNOUNCE_AT_MS = [0, 3500, 7000]
/** discovery.ts MAX_DEAD_DIALS_PER_ROUND. */
const MAX_DEAD_DIALS_PER_ROUND = 2
/** gossipsub's mesh degree: D, D_lo, D_hi. */
const MESH_D = 6
const MESH_D_LO = 4
const MESH_D_HI = 12
const META = { addrs: ['/ip4/10.0.0.1/tcp/7700'], version: '0.1.0', capabilities: ['kv', 'events'] }

export interface OverlayConfig {
  /** Chosen neighbours per node; 0 = connect to every live member (the code before bounded degree). */
  degree: number
  ringNeighbours: number
  maxConnections: number
}

export interface SimHooks {
  /** A node's view of a member changed. */
  changed: (observer: number, member: number, state: MemberState, previous: MemberState | undefined) => void
  /** A gossip message reached `receiver` for the first time, forwarded by `via` (for events.ts). */
  gossip: (receiver: number, via: number, payload: GossipPayload) => void
}

export type GossipPayload =
  | { kind: 'member', updates: MemberUpdate[] }
  | { kind: 'event', origin: number, seq: number }

interface Conn { openedAt: number, outbound: boolean }

export class SimNode {
  machine: MembershipMachine | undefined
  readonly conns = new Map<number, Conn>()
  desired = new Set<number>()
  readonly mesh = new Set<number>()
  private seen = new Set<string>()
  private seenOrder: string[] = []
  private generation = 0
  /** When the armed tick fires (local ms), Infinity when none is; `tickToken` voids a tick re-armed earlier. */
  private tickAt = Infinity
  private tickToken = 0
  private msgSeq = 0

  constructor (
    readonly index: number,
    readonly id: string,
    private readonly world: World,
    private readonly net: Network,
    private readonly nodes: SimNode[],
    private readonly ids: Map<string, number>,
    private readonly timings: MembershipTimings,
    private readonly overlay: OverlayConfig,
    private readonly hooks: SimHooks,
    private readonly rng: Rng,
    /** Local clock = virtual time * (1 + drift) + offset. */
    private readonly clock: { offsetMs: number, drift: number, epochMs: number }
  ) {}

  get up (): boolean { return this.net.up[this.index] === 1 }

  localNow (): number {
    return Math.round(this.clock.epochMs + this.world.now * (1 + this.clock.drift) + this.clock.offsetMs)
  }

  /** A local duration as virtual time (a fast clock fires its timers early). */
  private virtual (localMs: number): number {
    return localMs / (1 + this.clock.drift)
  }

  /** Schedules `fn` after a local delay, dropped if the node crashed or restarted meanwhile. */
  private later (localMs: number, fn: () => void): void {
    const gen = this.generation
    this.world.after(this.virtual(localMs), () => { if (this.generation === gen && this.up) fn() })
  }

  start (seed: number | undefined): void {
    this.generation++
    this.net.up[this.index] = 1
    this.net.hung[this.index] = 0
    this.net.life[this.index]!++
    const now = this.localNow()
    this.machine = new MembershipMachine({ selfId: this.id, meta: META, incarnation: now, now, timings: this.timings, rng: this.rng })
    this.seen = new Set()
    this.seenOrder = []
    this.tickAt = Infinity
    this.scheduleTick()
    for (const at of FIRST_ROUNDS_MS) this.later(at, () => { this.maintain() })
    const every = (): void => { this.maintain(); this.later(MAINTAIN_INTERVAL_MS, every) }
    this.later(MAINTAIN_INTERVAL_MS, every)
    // The bootstrap address: connect, then the push-pull that identify triggers (membership-service onIdentify).
    if (seed !== undefined && seed !== this.index) this.connect(seed)
  }

  /**
   * membership-service.ts onIdentify: a full-state exchange on a new connection only when it can carry news: we
   * know nobody else yet (joining), or the peer is unknown, dead or left to us (a new member, or one cut off by a
   * partition, which then refutes). Transient probe links and overlay churn between live members sync nothing.
   */
  private onConnected (peer: number): void {
    const m = this.machine
    if (m === undefined) return
    const member = m.get(this.nodes[peer]!.id)
    const joining = m.liveMembers().length <= 1
    if (joining || member === undefined || member.state === 'dead' || member.state === 'left') {
      this.pushPull(peer, joining)
    }
  }

  /** SIGSTOP: the process stops answering but its host and connections stay; nothing is reset or refused. */
  hang (): void {
    this.net.up[this.index] = 0
    this.net.hung[this.index] = 1
    this.generation++
  }

  /** kill -9: the process is gone; every peer's kernel sees the connection reset. */
  crash (): void {
    this.net.up[this.index] = 0
    this.net.hung[this.index] = 0
    this.net.life[this.index]!++
    this.generation++
    this.machine = undefined
    for (const peer of this.conns.keys()) {
      const d = this.net.delay() ?? 0
      this.world.after(d, () => { this.nodes[peer]!.onDisconnect(this.index) })
    }
    this.conns.clear()
    this.desired.clear()
    this.mesh.clear()
  }

  input (input: MembershipInput): void {
    const m = this.machine
    if (m === undefined || !this.up) return
    for (const effect of m.step(input)) this.perform(effect)
    this.scheduleTick()
  }

  /** membership-service.ts schedule: one tick armed for the machine's `nextTickAt`, re-armed earlier when needed. */
  private scheduleTick (): void {
    const m = this.machine
    if (m === undefined) return
    const now = this.localNow()
    const at = Math.min(m.nextTickAt() ?? Infinity, now + MAX_TICK_GAP_MS)
    if (this.tickAt <= at) return
    this.tickAt = at
    const token = ++this.tickToken
    this.later(Math.max(0, at - now), () => {
      if (token !== this.tickToken) return
      this.tickAt = Infinity
      this.input({ type: 'tick', now: this.localNow() })
    })
  }

  private perform (effect: MembershipEffect): void {
    switch (effect.type) {
      case 'probe': this.probe(effect); break
      case 'broadcast': this.publish({ kind: 'member', updates: [effect.update] }); break
      case 'push-pull': this.pushPull(this.ids.get(effect.peer)!); break
      // membership-service.ts gossipTo: the queued updates on a ping; its ack brings the peer's back.
      case 'gossip': for (const peer of effect.peers) this.ping(this.ids.get(peer)!, this.timings.probeTimeoutMs * 4, () => {}); break
      case 'changed': this.onChanged(effect.member, effect.previous); break
      case 'removed': break
    }
  }

  private onChanged (member: Member, previous: MemberState | undefined): void {
    const idx = this.ids.get(member.id)
    if (idx !== undefined) this.hooks.changed(this.index, idx, member.state, previous)
  }

  // ---- SWIM probes ----------------------------------------------------------------------------------------

  private piggyback (): MemberUpdate[] {
    return this.machine?.takePiggyback(constants.MAX_PIGGYBACK_UPDATES) ?? []
  }

  /** ping -> ack. `done(ok)` runs once: ack, refusal, or the timeout. */
  private ping (target: number, timeoutMs: number, done: (ok: boolean) => void): void {
    let finished = false
    const finish = (ok: boolean): void => { if (!finished) { finished = true; done(ok) } }
    this.transientDial(target)
    const updates = this.piggyback()
    const peer = this.nodes[target]!
    this.net.send(this.index, target, 'swim', TRANSPORT_OVERHEAD_BYTES + SWIM_HEADER_BYTES + updatesBytes(updates), () => {
      peer.input({ type: 'updates', now: peer.localNow(), from: this.id, updates })
      const reply = peer.piggyback()
      this.net.send(target, this.index, 'swim', TRANSPORT_OVERHEAD_BYTES + SWIM_HEADER_BYTES + updatesBytes(reply), () => {
        if (finished || !this.up) return
        this.input({ type: 'updates', now: this.localNow(), from: peer.id, updates: reply })
        finish(true)
      })
    }, () => { finish(false) })
    this.later(timeoutMs, () => { finish(false) })
  }

  private probe (effect: Extract<MembershipEffect, { type: 'probe' }>): void {
    const target = this.ids.get(effect.target)!
    let nacks = 0
    const result = (ok: boolean): void => {
      this.input({ type: 'probe-result', now: this.localNow(), target: effect.target, seq: effect.seq, ok, nacks })
    }
    this.ping(target, effect.timeoutMs, ok => {
      if (ok || effect.via.length === 0) { result(ok); return }
      let pending = effect.via.length
      let finished = false
      const finish = (ok: boolean): void => { if (!finished) { finished = true; result(ok) } }
      for (const viaId of effect.via) {
        const via = this.ids.get(viaId)!
        const relay = this.nodes[via]!
        this.transientDial(via)
        const updates = this.piggyback()
        this.net.send(this.index, via, 'swim', TRANSPORT_OVERHEAD_BYTES + SWIM_HEADER_BYTES + 52 + updatesBytes(updates), () => {
          relay.input({ type: 'updates', now: relay.localNow(), from: this.id, updates })
          // membership-service.ts: a relay pings within 80 % of the probe timeout, so its nack is back in time.
          relay.ping(target, this.timings.probeTimeoutMs * 0.8, ok => {
            const reply = relay.piggyback()
            this.net.send(via, this.index, 'swim', TRANSPORT_OVERHEAD_BYTES + SWIM_HEADER_BYTES + updatesBytes(reply), () => {
              if (finished || !this.up) return
              this.input({ type: 'updates', now: this.localNow(), from: relay.id, updates: reply })
              if (ok) { finish(true); return }
              nacks++
              if (--pending === 0) finish(false)
            })
          })
        })
      }
      this.later(effect.timeoutMs, () => { finish(false) })
    })
  }

  /** `announce`: after the join exchange, publish our own `alive` on gossip (JOIN_ANNOUNCE_AT_MS). */
  private pushPull (peer: number, announce = false): void {
    const m = this.machine
    if (m === undefined) return
    const mine = m.fullState()
    const other = this.nodes[peer]!
    this.transientDial(peer)
    this.net.send(this.index, peer, 'sync', TRANSPORT_OVERHEAD_BYTES + 30 + updatesBytes(mine), () => {
      other.input({ type: 'updates', now: other.localNow(), from: this.id, updates: mine })
      const theirs = other.machine?.fullState() ?? []
      this.net.send(peer, this.index, 'sync', TRANSPORT_OVERHEAD_BYTES + 30 + updatesBytes(theirs), () => {
        this.input({ type: 'updates', now: this.localNow(), from: other.id, updates: theirs })
        // membership-service.ts pushPull: announce now, and again once the overlay has formed around us (at join
        // time we hold one link, to the bootstrap node, whose gossip mesh may not include us yet).
        if (announce) for (const at of JOIN_ANNOUNCE_AT_MS) this.later(at, () => { const self = this.machine?.fullState()[0]; if (self !== undefined) this.publish({ kind: 'member', updates: [self] }) })
      })
    })
  }

  // ---- connections and the overlay -----------------------------------------------------------------------

  /** A request to a peer we hold no connection with dials first (and the dialer closes it afterwards). */
  private transientDial (peer: number): void {
    if (this.conns.has(peer)) return
    this.net.send(this.index, peer, 'connect', CONNECT_BYTES, () => {})
    if (this.net.counting) this.net.sentMessages.connect[this.index]! += CONNECT_MESSAGES - 1
  }

  connect (peer: number, then?: () => void): void {
    if (this.conns.has(peer) || peer === this.index) { then?.(); return }
    const other = this.nodes[peer]!
    this.net.send(this.index, peer, 'connect', CONNECT_BYTES, () => {
      // libp2p's connection manager over maxConnections: accept, then prune the oldest link the node did not choose.
      if (other.conns.size >= this.overlay.maxConnections && !other.pruneOne()) return
      this.net.send(peer, this.index, 'connect', CONNECT_BYTES, () => {
        if (this.conns.has(peer) || !other.up) { then?.(); return }
        this.conns.set(peer, { openedAt: this.world.now, outbound: true })
        other.conns.set(this.index, { openedAt: this.world.now, outbound: false })
        this.scopeChanged()
        other.scopeChanged()
        this.onConnected(peer)
        other.onConnected(this.index)
        then?.()
      })
    })
    if (this.net.counting) this.net.sentMessages.connect[this.index]! += CONNECT_MESSAGES - 2
  }

  /** Closes the oldest connection this node did not choose; false if every link is chosen. */
  pruneOne (): boolean {
    let oldest: number | undefined
    let at = Infinity
    for (const [peer, c] of this.conns) {
      if (!this.desired.has(peer) && c.openedAt < at) { oldest = peer; at = c.openedAt }
    }
    if (oldest === undefined) return false
    this.close(oldest)
    return true
  }

  private close (peer: number): void {
    if (!this.conns.delete(peer)) return
    this.mesh.delete(peer)
    this.scopeChanged()
    const d = this.net.delay() ?? 0
    this.world.after(d, () => { this.nodes[peer]!.onDisconnect(this.index) })
  }

  /** The connection to `peer` is gone (closed by it, or its process died). */
  onDisconnect (peer: number): void {
    const conn = this.conns.get(peer)
    if (conn === undefined || !this.up) return
    this.conns.delete(peer)
    this.mesh.delete(peer)
    this.scopeChanged()
    // discovery.ts: a long-lived link or a chosen neighbour going away is news; a transient probe link is not.
    if (this.desired.has(peer) || this.world.now - conn.openedAt >= TRANSIENT_CONNECTION_MS) {
      this.input({ type: 'connection-lost', now: this.localNow(), peer: this.nodes[peer]!.id })
    }
  }

  private scopeChanged (): void {
    if (this.overlay.degree === 0) return
    // membership-service.ts neighboursChanged: connected members plus the chosen ones (probed even when down).
    const peers = new Set([...this.conns.keys(), ...this.desired])
    this.input({ type: 'neighbours', now: this.localNow(), peers: [...peers].map(i => this.nodes[i]!.id) })
  }

  /** discovery.ts maintain(): plan the neighbours, dial the new ones, close outbound links no longer chosen. */
  maintain (): void {
    const m = this.machine
    if (m === undefined) return
    const live = m.liveMembers()
    if (this.overlay.degree === 0) {
      for (const id of live) this.connect(this.ids.get(id)!)
    } else {
      const plan = planNeighbours({
        self: this.id,
        live,
        current: [...this.desired].map(i => this.nodes[i]!.id),
        degree: this.overlay.degree,
        ringNeighbours: this.overlay.ringNeighbours,
        rng: this.rng
      })
      this.desired = new Set(plan.desired.map(id => this.ids.get(id)!))
      this.scopeChanged()
      for (const id of plan.dial) this.connect(this.ids.get(id)!)
      for (const [peer, conn] of this.conns) {
        if (conn.outbound && !this.desired.has(peer) && this.world.now - conn.openedAt >= TRANSIENT_CONNECTION_MS) this.close(peer)
      }
    }
    // discovery.ts dialMembers: a few dead members per round; a member cut off by a partition refutes once reached.
    const dead = m.deadMembers()
    for (let k = 0; k < MAX_DEAD_DIALS_PER_ROUND && dead.length > 0; k++) {
      const d = dead.splice(Math.floor(this.rng() * dead.length), 1)[0]!
      this.connect(this.ids.get(d)!)
    }
    this.maintainMesh()
  }

  /** gossipsub heartbeat, reduced to its mesh: keep between D_lo and D_hi mesh peers, graft both ways. */
  private maintainMesh (): void {
    for (const p of this.mesh) if (!this.conns.has(p)) this.mesh.delete(p)
    if (this.mesh.size < MESH_D_LO) {
      const candidates = [...this.conns.keys()].filter(p => !this.mesh.has(p))
      while (this.mesh.size < MESH_D && candidates.length > 0) {
        const p = candidates.splice(Math.floor(this.rng() * candidates.length), 1)[0]!
        this.mesh.add(p)
        this.nodes[p]!.mesh.add(this.index)
      }
    } else if (this.mesh.size > MESH_D_HI) {
      const all = [...this.mesh]
      while (this.mesh.size > MESH_D) {
        const p = all.splice(Math.floor(this.rng() * all.length), 1)[0]!
        this.mesh.delete(p)
        this.nodes[p]!.mesh.delete(this.index)
      }
    }
  }

  // ---- gossip --------------------------------------------------------------------------------------------

  publish (payload: GossipPayload): void {
    const id = `${this.index}:${++this.msgSeq}:${this.net.life[this.index]}`
    this.markSeen(id)
    this.forward(id, payload, -1)
  }

  private forward (id: string, payload: GossipPayload, except: number): void {
    const bytes = TRANSPORT_OVERHEAD_BYTES + GOSSIP_HEADER_BYTES + (payload.kind === 'member' ? updatesBytes(payload.updates) : 400)
    const targets = this.mesh.size > 0 ? this.mesh : this.conns
    for (const peer of targets.keys()) {
      if (peer === except) continue
      const other = this.nodes[peer]!
      this.net.send(this.index, peer, 'gossip', bytes, () => { other.onGossip(id, payload, this.index) })
    }
  }

  private onGossip (id: string, payload: GossipPayload, from: number): void {
    if (this.seen.has(id)) return
    this.markSeen(id)
    if (payload.kind === 'member') this.input({ type: 'updates', now: this.localNow(), updates: payload.updates })
    this.hooks.gossip(this.index, from, payload)
    this.forward(id, payload, from)
  }

  /** gossipsub's seen cache (2 min there); a bounded FIFO here. */
  private markSeen (id: string): void {
    this.seen.add(id)
    this.seenOrder.push(id)
    if (this.seenOrder.length > 4096) {
      for (const old of this.seenOrder.splice(0, 1024)) this.seen.delete(old)
    }
  }
}
