/**
 * Drives core's SWIM machine over libp2p: ticks it, performs its effects (probes, indirect probes, full-state
 * exchanges, gossip broadcasts) and feeds it what arrives. Protocol: docs/protocols/membership.md.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId } from '@libp2p/interface'
import { ACK_WALL_CAPABILITY, MembershipMachine, monotonicNow, validateSwimMessage, validateMembershipGossip, constants } from '@shoal/core'
import type { Clock, Logger, Member, MemberMeta, MemberUpdate, MembershipEffect, MembershipInput, MembershipTimings, Rng, SwimMessage, TimerHandle } from '@shoal/core'
import type { EventBus } from './events.js'
import type { GossipService } from './gossip.js'
import type { ShoalLibp2p } from './libp2p.js'
import type { SwarmProtocols } from './protocols.js'
import { handleRequests, request, unhandleRequests } from './frames.js'
import { patientDeadline } from './patient-deadline.js'

/**
 * The longest the driver sleeps between ticks. The machine says when it next has something to do
 * (`nextTickAt`); this cap only bounds the harm of a wall-clock step backwards.
 */
const MAX_TICK_GAP_MS = 1_000
/** A gossip round's ping may take this many probe timeouts: nothing is concluded from it, so it may be patient. */
const GOSSIP_TIMEOUT_PROBES = 4
/** A relay's ping in a ping-req gets this share of the probe timeout (memberlist sends its nack at 80 %). */
const RELAY_PING_FRACTION = 0.8
/**
 * A connection that closes younger than this was a probe's or a query's transient dial, not a link whose loss is
 * news; older ones trigger the kill -9 fast path (an immediate probe). Longer than a probe round trip, shorter
 * than discovery's rounds, so a neighbour's link always qualifies.
 */
export const TRANSIENT_CONNECTION_MS = 10_000
const UPDATE_TYPE = 'membership.update'
/**
 * After the join exchange a node announces itself on gossip now and twice more: at join time it holds one link
 * (to its bootstrap node), whose gossipsub mesh may not include it yet; 3.5 s is past discovery's first rounds
 * (0, 0.5, 1.5, 3 s), when its own neighbours are connected. The simulator measured 50 joining nodes converge in
 * 5.5 s instead of 9-16 s (docs/scale.md).
 */
const JOIN_ANNOUNCE_AT_MS = [0, 3500, 7000]

export interface MembershipComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  rng: Rng
  logger: Logger
  events: EventBus
  gossip: GossipService
}

export interface MembershipInit {
  timings: MembershipTimings
  protocols: SwarmProtocols
  meta: MemberMeta
  /**
   * Bounded-degree overlay (connections.degree > 0): probe and push-pull only the members we hold connections
   * to, and close the connections a probe had to open. false: probe every live member (the machine's default).
   */
  scoped?: boolean
}

export class MembershipService {
  private readonly machine: MembershipMachine
  private readonly log: Logger
  private readonly controller = new AbortController()
  private timer?: TimerHandle
  /** When `timer` fires (clock ms); Infinity when none is armed. */
  private timerAt = Infinity
  private running = false
  /** Connections this node is closing itself (a probe's transient dial, discovery trimming): their close is no news. */
  private readonly closing = new WeakSet<Connection>()

  /**
   * A full-state exchange on a new connection only when it can carry news: we know nobody yet (joining), or the
   * peer is unknown, dead or left to us (a new member, or one back from a partition, which then refutes).
   * Overlay churn and transient dials between live members exchange nothing.
   */
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (!evt.detail.protocols.includes(this.init.protocols.membership)) return
    const peer = evt.detail.peerId.toString()
    const member = this.machine.get(peer)
    const joining = this.machine.liveMembers().length === 0
    if (joining || member === undefined || member.state === 'dead' || member.state === 'left') void this.pushPull(peer, joining)
  }

  /** The neighbours discovery chose (setChosen); probed even while their connection is down. */
  private chosen = new Set<string>()

  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    this.neighboursChanged()
    if (this.closing.has(conn)) return
    const peer = conn.remotePeer
    if (this.components.libp2p.getConnections(peer).length > 0) return
    const id = peer.toString()
    if (!this.chosen.has(id) && this.components.clock.now() - conn.timeline.open < TRANSIENT_CONNECTION_MS) return
    // The other side closed it itself (discovery trimming a link it no longer chose, a connection manager): it was
    // alive to say so. Probing it at once dialled a new connection for every link a neighbour trimmed.
    if (closedByRemote(conn)) return
    this.input({ type: 'connection-lost', now: this.components.clock.now(), peer: id })
  }

  private readonly onConnectionOpen = (): void => { this.neighboursChanged() }

  constructor (private readonly components: MembershipComponents, private readonly init: MembershipInit) {
    this.log = components.logger.child({ component: 'shoal:node:membership' })
    const now = components.clock.now()
    this.machine = new MembershipMachine({
      selfId: components.libp2p.peerId.toString(),
      // Every node of this release takes a clock sample from the acks it gets (ClockSync): it says so.
      meta: init.meta.capabilities.includes(ACK_WALL_CAPABILITY) ? init.meta : { ...init.meta, capabilities: [...init.meta.capabilities, ACK_WALL_CAPABILITY] },
      // Boot time: a restarted node starts above every incarnation of its earlier life, so `alive` wins.
      incarnation: now,
      now,
      timings: init.timings,
      rng: components.rng
    })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { libp2p } = this.components
    await handleRequests(libp2p, this.init.protocols.membership, async (msg, from) => await this.answer(msg, from), {
      logger: this.log,
      timeoutMs: this.init.timings.probeIntervalMs * 2
    })
    this.components.gossip.register<{ updates: MemberUpdate[] }>(this.init.protocols.topics.membership, {
      [UPDATE_TYPE]: payload => validateMembershipGossip(payload)
    }, envelope => {
      // No `from`: gossip may be relayed, and lastSeen counts only what a member told us itself.
      this.input({ type: 'updates', now: this.components.clock.now(), updates: envelope.payload.updates })
    })
    libp2p.addEventListener('peer:identify', this.onIdentify)
    libp2p.addEventListener('connection:close', this.onConnectionClose)
    libp2p.addEventListener('connection:open', this.onConnectionOpen)
    this.neighboursChanged()
    this.schedule()
  }

  /** Announces departure (gossip plus a direct message to every live member), then stops. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.timer?.cancel()
    const { libp2p, clock } = this.components
    libp2p.removeEventListener('peer:identify', this.onIdentify)
    libp2p.removeEventListener('connection:close', this.onConnectionClose)
    libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    const effects = this.machine.step({ type: 'leave', now: clock.now() })
    const signal = AbortSignal.timeout(constants.LEAVE_ANNOUNCE_TIMEOUT_MS)
    const left = effects.flatMap(e => e.type === 'broadcast' ? [e.update] : [])
    for (const e of effects) if (e.type === 'changed') this.components.events.emit('member:changed', { member: e.member, previous: e.previous })
    await Promise.allSettled([
      ...left.map(async u => await this.components.gossip.publish(this.init.protocols.topics.membership, UPDATE_TYPE, { updates: [u] })),
      ...this.leaveTargets().map(async id => await request(libp2p, peerIdFromString(id), this.init.protocols.membership,
        { v: 1, type: 'ping', seq: 0, updates: left } satisfies SwimMessage, { signal }))
    ])
    this.controller.abort()
    await unhandleRequests(libp2p, this.init.protocols.membership)
  }

  /** Who hears our leave directly: every live member, or with a bounded degree our neighbours (gossip does the rest). */
  private leaveTargets (): string[] {
    const live = this.machine.liveMembers()
    if (this.init.scoped !== true) return live
    const connected = new Set(this.components.libp2p.getPeers().map(p => p.toString()))
    return live.filter(id => connected.has(id))
  }

  members (): Member[] {
    return this.machine.view()
  }

  member (id: string): Member | undefined {
    return this.machine.get(id)
  }

  /**
   * A node that still knows no other live member retries its join exchange with a connected peer (discovery
   * calls this every round). The first exchange can fail (a busy bootstrap node, a timeout) and, with a bounded
   * degree, nobody else may choose to connect to a node the swarm has not heard of.
   */
  ensureJoined (): void {
    if (!this.running || this.machine.liveMembers().length > 0) return
    const self = this.components.libp2p.peerId.toString()
    const peers = [...new Set(this.components.libp2p.getConnections().map(c => c.remotePeer.toString()))].filter(id => id !== self)
    const peer = peers[Math.floor(this.components.rng() * peers.length)]
    if (peer !== undefined) void this.pushPull(peer, true)
  }

  /** Publishes our own current `alive` (or `left`) on the membership topic. */
  private announceSelf (): void {
    const self = this.machine.fullState()[0]
    if (!this.running || self === undefined) return
    this.components.gossip.publish(this.init.protocols.topics.membership, UPDATE_TYPE, { updates: [self] })
      .catch(err => { this.log.debug({ err: (err as Error).message }, 'join announce failed') })
  }

  /** Closes a connection without it reading as a lost member (discovery trimming the overlay). */
  async closeQuietly (conn: Connection): Promise<void> {
    this.closing.add(conn)
    await conn.close().catch(() => { conn.abort(new Error('close failed')) })
  }

  /**
   * The neighbours discovery chose this round. They stay in the probe scope while disconnected: a chosen
   * neighbour that died (or sits across a partition) must still be probed to be found dead.
   */
  setChosen (ids: string[]): void {
    this.chosen = new Set(ids)
    this.neighboursChanged()
  }

  /** With a bounded degree, the machine probes only its neighbours: the members it is connected to or chose. */
  private neighboursChanged (): void {
    if (this.init.scoped !== true) return
    const peers = new Set(this.components.libp2p.getConnections().map(c => c.remotePeer.toString()))
    for (const id of this.chosen) peers.add(id)
    this.input({ type: 'neighbours', now: this.components.clock.now(), peers: [...peers] })
  }

  /** Lifeguard's local health multiplier (core's MembershipMachine `localHealth`). */
  localHealth (): number {
    return this.machine.localHealth
  }

  /** New addresses or capabilities: raises our incarnation and tells the swarm. */
  setMeta (meta: Partial<MemberMeta>): void {
    this.input({ type: 'set-meta', now: this.components.clock.now(), meta })
  }

  /**
   * Arms the tick for when the machine next has work (`nextTickAt`), not on a fixed period: an idle node wakes
   * about once per probe round instead of ten times a second. Called after every step, since any input can bring
   * that time earlier (a new suspicion's deadline).
   */
  private schedule (): void {
    if (!this.running) return
    const { clock } = this.components
    const now = clock.now()
    const at = Math.min(this.machine.nextTickAt() ?? Infinity, now + MAX_TICK_GAP_MS)
    if (this.timer !== undefined && this.timerAt <= at) return
    this.timer?.cancel()
    this.timerAt = at
    this.timer = clock.setTimer(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.input({ type: 'tick', now: clock.now() })
    }, Math.max(0, at - now))
  }

  private input (input: MembershipInput): void {
    if (!this.running) return
    for (const effect of this.machine.step(input)) this.perform(effect)
    this.schedule()
  }

  private perform (effect: MembershipEffect): void {
    switch (effect.type) {
      case 'probe': void this.probe(effect); break
      case 'broadcast':
        this.components.gossip.publish(this.init.protocols.topics.membership, UPDATE_TYPE, { updates: [effect.update] })
          .catch(err => { this.log.debug({ err: (err as Error).message }, 'membership broadcast failed') })
        break
      case 'push-pull': void this.pushPull(effect.peer); break
      case 'gossip': for (const peer of effect.peers) void this.gossipTo(peer); break
      case 'changed': this.onChanged(effect.member, effect.previous); break
      case 'removed': this.components.events.emit('member:removed', { id: effect.id }); break
    }
  }

  private onChanged (member: Member, previous: Member['state'] | undefined): void {
    this.log.info({ member: member.id, from: previous ?? 'unknown', to: member.state, incarnation: member.incarnation }, `member ${member.state}`)
    // Only an alive member's addresses are news to the peer store (a suspect or dead one's are the same as when it
    // was alive): in a swarm that flaps, a merge per transition was a peer-store write per suspicion and refutation.
    if (member.state === 'alive' && member.id !== this.components.libp2p.peerId.toString() && member.addrs.length > 0) {
      const addrs = member.addrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      this.components.libp2p.peerStore.merge(peerIdFromString(member.id), { multiaddrs: addrs })
        .catch(err => { this.log.debug({ err: (err as Error).message }, 'peer store merge failed') })
    }
    this.components.events.emit('member:changed', { member, previous })
  }

  /** SWIM probe: a direct ping, then pings through `via` that must answer within the same budget. */
  private async probe (effect: Extract<MembershipEffect, { type: 'probe' }>): Promise<void> {
    const { clock } = this.components
    let ok = await this.ping(effect.target, effect.seq, effect.timeoutMs)
    let nacks = 0
    if (!ok && effect.via.length > 0) {
      const signal = this.probeDeadline(effect.timeoutMs)
      const attempts = effect.via.map(async via => {
        const reply = await this.send(via, { v: 1, type: 'ping-req', seq: effect.seq, target: effect.target, updates: this.piggyback() }, signal)
        // An answer that could not reach the target either is a nack: the relay and this node are fine.
        if (reply.type === 'ack' && !reply.ok) nacks++
        if (reply.type !== 'ack' || !reply.ok) throw new Error('indirect probe failed')
      })
      ok = await Promise.any(attempts).then(() => true, () => false)
    }
    this.input({ type: 'probe-result', now: clock.now(), target: effect.target, seq: effect.seq, ok, nacks })
  }

  private async ping (target: string, seq: number, timeoutMs: number): Promise<boolean> {
    try {
      const sent = monotonicNow(this.components.clock)
      const reply = await this.send(target, { v: 1, type: 'ping', seq, updates: this.piggyback() }, this.probeDeadline(timeoutMs))
      if (reply.type !== 'ack') return false
      const received = monotonicNow(this.components.clock)
      this.components.events.emit('member:probed', {
        id: target,
        rttMs: received - sent,
        ...(reply.wall !== undefined ? { clock: { sentMono: sent, receivedMono: received, remoteWall: reply.wall } } : {})
      })
      return true
    } catch (err) {
      this.log.trace({ target, err: (err as Error).message }, 'ping failed')
      return false
    }
  }

  /**
   * A gossip round's message to one neighbour: the queued updates on a ping, whose ack brings the neighbour's
   * own queued updates back (a version 1 ping: every node answers it). Not a probe: its outcome is not news.
   */
  private async gossipTo (peer: string): Promise<void> {
    try {
      await this.send(peer, { v: 1, type: 'ping', seq: 0, updates: this.piggyback() }, this.deadline(this.init.timings.probeTimeoutMs * GOSSIP_TIMEOUT_PROBES))
    } catch (err) {
      this.log.trace({ peer, err: (err as Error).message }, 'gossip failed')
    }
  }

  /** `announce`: after the join exchange, publish our own `alive` on gossip (JOIN_ANNOUNCE_AT_MS). */
  private async pushPull (peer: string, announce = false): Promise<void> {
    try {
      const reply = await this.send(peer, { v: 1, type: 'sync', updates: this.machine.fullState() }, this.deadline(constants.DEFAULT_NETWORK_TIMEOUT_MS))
      if (reply.type !== 'sync') throw new Error(`expected sync, got ${reply.type}`)
      if (announce) for (const at of JOIN_ANNOUNCE_AT_MS) this.components.clock.setTimer(() => { this.announceSelf() }, at)
    } catch (err) {
      this.log.debug({ peer, err: (err as Error).message }, 'push-pull failed')
    }
  }

  /**
   * Sends one message and feeds the reply's updates to the machine. With a bounded degree, a request to a peer we
   * held no connection with dials, and the connection it opened is closed once the answer is in unless the peer is
   * a chosen neighbour (memberlist probes over UDP and holds nothing open; a TCP link per probed member would undo
   * the bound).
   */
  private async send (peer: string, message: SwimMessage, signal: AbortSignal): Promise<SwimMessage> {
    const { libp2p } = this.components
    const id = peerIdFromString(peer)
    // A chosen neighbour's link is one discovery would dial next round anyway: keep it.
    const transient = this.init.scoped === true && libp2p.getConnections(id).length === 0 && !this.chosen.has(peer)
    let raw: unknown
    try {
      raw = await request(libp2p, id, this.init.protocols.membership, message, { signal })
    } finally {
      if (transient) for (const conn of libp2p.getConnections(id)) void this.closeQuietly(conn)
    }
    const reply = validateSwimMessage(raw)
    this.input({ type: 'updates', now: this.components.clock.now(), from: peer, updates: reply.updates })
    return reply
  }

  /** Answers an incoming message; invalid input throws, which resets the stream. */
  private async answer (raw: unknown, from: PeerId): Promise<SwimMessage> {
    const msg = validateSwimMessage(raw)
    const sender = from.toString()
    this.input({ type: 'updates', now: this.components.clock.now(), from: sender, updates: msg.updates })
    switch (msg.type) {
      case 'ping':
        return { v: 1, type: 'ack', seq: msg.seq, ok: true, updates: this.piggyback(), ...this.wallFor(sender) }
      case 'ping-req': {
        // Within RELAY_PING_FRACTION of the probe timeout, so a "could not reach it" (a nack) gets back to the asker
        // before its own deadline, the same length: Lifeguard reads a missing nack as the asker's own slowness.
        const ok = await this.ping(msg.target, msg.seq, this.init.timings.probeTimeoutMs * RELAY_PING_FRACTION)
        return { v: 1, type: 'ack', seq: msg.seq, ok, updates: this.piggyback() }
      }
      case 'sync':
        return { v: 1, type: 'sync', updates: this.machine.fullState() }
      case 'ack':
        throw new Error('unexpected ack')
    }
  }

  /** Our wall clock for the ack to a direct ping, when the pinger announced it reads one (ACK_WALL_CAPABILITY). */
  private wallFor (pinger: string): { wall?: number } {
    return this.machine.get(pinger)?.capabilities.includes(ACK_WALL_CAPABILITY) === true ? { wall: this.components.clock.now() } : {}
  }

  private piggyback (): MemberUpdate[] {
    return this.machine.takePiggyback(constants.MAX_PIGGYBACK_UPDATES)
  }

  private deadline (ms: number): AbortSignal {
    return AbortSignal.any([this.controller.signal, AbortSignal.timeout(ms)])
  }

  /** A probe's deadline, extended by this node's own event-loop stalls (patient-deadline.ts, Lifeguard). */
  private probeDeadline (ms: number): AbortSignal {
    return patientDeadline(ms, this.controller.signal)
  }
}

/**
 * Whether the remote closed `conn` itself: its yamux muxer received a GoAway (sent by a close, with a normal
 * termination, and by an abort) before the connection ended, so the remote process was alive to send it. A
 * process killed or cut off sends none. libp2p's Connection interface does not expose the muxer's state, so this
 * reads the yamux muxer's own field (@chainsafe/libp2p-yamux muxer.ts `remoteGoAway`);
 * packages/node/test/connection-close.test.ts fails if an upgrade renames it.
 */
export function closedByRemote (conn: Connection): boolean {
  const muxer = (conn as unknown as { muxer?: { remoteGoAway?: number } }).muxer
  return muxer?.remoteGoAway !== undefined
}
