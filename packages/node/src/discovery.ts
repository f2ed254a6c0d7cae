/**
 * Keeps this node connected to the swarm: dials bootstrap addresses and peers remembered on disk at start,
 * walks the DHT for peers it has not met, keeps connections to `degree` chosen members (core's planNeighbours:
 * ring neighbours plus random ones; docs/protocols/membership.md "Bounded degree") and closes the outbound links
 * it no longer chooses, dials peers that mDNS finds on the LAN (config `mdns`), and remembers every swarm peer
 * it identifies so a restart needs no bootstrap address.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PeerInfo } from '@libp2p/interface'
import { constants, planNeighbours, sample } from '@shoal/core'
import type { Clock, Logger, Rng, TimerHandle } from '@shoal/core'
import type { PeerRepository } from '@shoal/store'
import type { ShoalLibp2p } from './libp2p.js'
import { incompatibilities } from './compat.js'
import type { Incompatibility } from './compat.js'
import { TRANSIENT_CONNECTION_MS } from './membership-service.js'
import type { MembershipService } from './membership-service.js'
import type { SwarmProtocols } from './protocols.js'

/** How often connectivity is checked; the first rounds run sooner so a new node joins fast. */
const MAINTAIN_INTERVAL_MS = 3000
const FIRST_ROUNDS_MS = [0, 500, 1500]
/** A DHT random walk per this many maintain rounds (a walk costs a few dozen messages). */
const WALK_EVERY_ROUNDS = 5
/**
 * With a bounded degree, membership already names every member and a walk dials only strangers, so what it costs
 * is the query: kad-dht dials the routing-table peers it asks, outside the overlay, and discovery closes those
 * links 10 s later. Once a minute, in step on every node started together, that kept a formed 30-daemon swarm on
 * 2 cores drifting into suspicions and deaths within a minute (3 runs of 3); without it, 2 runs of 2 stayed
 * alive (docs/scale.md). So: every 5 minutes, at a phase of each node's own and not while the swarm forms; every
 * WALK_EVERY_ROUNDS rounds while alone.
 */
const BOUNDED_WALK_EVERY_ROUNDS = 100
const DIAL_TIMEOUT_MS = 5000
/**
 * A seed (bootstrap address, remembered peer) is dialled while we know nobody, and every joining node dials the
 * same one: under that load its handshakes are slow, and a 5 s abort every round wasted each one it had begun,
 * so a node could stay alone for minutes (30 daemons started together on 2 cores). Seeds get longer; a dial
 * still pending when the next round comes is joined by libp2p, not repeated. Not longer still: a node with the
 * wrong swarm key learns it only when this runs out (pnet makes the handshake hang, not fail).
 */
const SEED_DIAL_TIMEOUT_MS = 15_000
/** Dials started per round, so a large membership does not open hundreds of sockets at once. */
const MAX_DIALS_PER_ROUND = 16
/** Dead members retried per round (memberlist gossips to the dead for a while for the same reason). */
const MAX_DEAD_DIALS_PER_ROUND = 2
/** Bounds the set of peers already warned about (then it starts over: a warning again per peer, not unbounded memory). */
const MAX_REPORTED_INCOMPATIBLE = 1024

export interface DiscoveryComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  rng: Rng
  logger: Logger
  peers: PeerRepository
  membership: MembershipService
}

export interface DiscoveryInit {
  bootstrap: string[]
  protocols: SwarmProtocols
  /** Neighbours to choose (core planNeighbours); 0 dials every live member. */
  degree: number
}

export class DiscoveryService {
  private readonly log: Logger
  private readonly controller = new AbortController()
  private timer?: TimerHandle
  private round = 0
  /** Shifts this node's walks, once it knows members, off the rounds of the nodes started with it. */
  private readonly walkPhase: number
  private running = false
  /** The neighbours chosen last round (kept while they stay live, so the overlay does not churn). */
  private desired = new Set<string>()
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[], listenAddrs: Multiaddr[] }>): void => {
    const { peerId, protocols, listenAddrs } = evt.detail
    const mismatched = incompatibilities(this.init.protocols, protocols)
    if (mismatched.length > 0) { this.reportIncompatible(peerId.toString(), mismatched); return }
    if (!protocols.includes(this.init.protocols.membership)) return
    this.components.peers.remember(peerId.toString(), { addrs: listenAddrs.map(a => a.toString()), lastSeen: this.components.clock.now() })
      .catch(err => { this.log.debug({ err: (err as Error).message }, 'could not remember peer') })
  }

  /**
   * A peer answered our swarm's mDNS query (or announced itself): dial it unless already connected. libp2p only
   * stores what discovery finds; nothing dials it. Answers repeat every query round, hence the connected check.
   */
  private readonly onMdnsPeer = (evt: CustomEvent<PeerInfo>): void => {
    const { libp2p } = this.components
    const { id, multiaddrs } = evt.detail
    if (!this.running || id.equals(libp2p.peerId) || libp2p.getConnections(id).length > 0) return
    this.log.debug({ peer: id.toString(), addrs: multiaddrs.map(a => a.toString()) }, 'found by mDNS')
    void libp2p.peerStore.merge(id, { multiaddrs })
      .then(async () => { await this.dialAll([id]) })
      .catch(err => { this.log.debug({ err: (err as Error).message }, 'could not dial a peer found by mDNS') })
  }

  /** Peers already reported as speaking other protocol versions: one warning per peer per run, not per identify. */
  private readonly reportedIncompatible = new Set<string>()

  /**
   * A peer that shares no version of a Shoal protocol with us: say why, once. It is not remembered as a swarm
   * peer and never becomes a member, so nothing redials it or marks it alive and dead in turn.
   */
  private reportIncompatible (peer: string, mismatched: Incompatibility[]): void {
    if (this.reportedIncompatible.has(peer)) return
    if (this.reportedIncompatible.size >= MAX_REPORTED_INCOMPATIBLE) this.reportedIncompatible.clear()
    this.reportedIncompatible.add(peer)
    this.log.warn({ peer, protocols: mismatched }, `peer speaks ${mismatched.map(m => `${m.protocol} ${m.theirs.join('/')}`).join(', ')}; this node speaks ${mismatched.map(m => `${m.protocol} ${m.ours}`).join(', ')}: they cannot talk (upgrade the older side; docs/protocols/README.md#versions)`)
  }

  constructor (private readonly components: DiscoveryComponents, private readonly init: DiscoveryInit) {
    this.log = components.logger.child({ component: 'shoal:node:discovery' })
    this.walkPhase = Math.floor(components.rng() * BOUNDED_WALK_EVERY_ROUNDS)
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.components.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.components.libp2p.services.mdns?.addEventListener('peer', this.onMdnsPeer)
    for (const at of FIRST_ROUNDS_MS) this.components.clock.setTimer(() => { void this.maintain() }, at)
    this.schedule()
  }

  stop (): void {
    this.running = false
    this.timer?.cancel()
    this.controller.abort()
    this.components.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.components.libp2p.services.mdns?.removeEventListener('peer', this.onMdnsPeer)
  }

  private schedule (): void {
    if (!this.running) return
    this.timer = this.components.clock.setTimer(() => {
      void this.maintain().finally(() => { this.schedule() })
    }, MAINTAIN_INTERVAL_MS)
  }

  /** One connectivity round. Never throws. */
  async maintain (): Promise<void> {
    if (!this.running) return
    this.round++
    const { libp2p } = this.components
    try {
      if (libp2p.getPeers().length === 0) await this.dialSeeds()
      this.components.membership.ensureJoined()
      await this.dialMembers()
      const every = this.init.degree > 0 && this.components.membership.members().length > 1 ? BOUNDED_WALK_EVERY_ROUNDS : WALK_EVERY_ROUNDS
      // Once it knows members: not in the first `every` rounds (the swarm is forming), then at its own phase.
      const due = every === BOUNDED_WALK_EVERY_ROUNDS
        ? this.round > every && (this.round + this.walkPhase) % every === 1
        : this.round % every === 1
      if (due) await this.randomWalk()
    } catch (err) {
      if (this.running) this.log.debug({ err: (err as Error).message }, 'maintenance round failed')
    }
  }

  /** Bootstrap addresses and remembered peers: the ways in when we know nobody. */
  private async dialSeeds (): Promise<void> {
    const targets: Array<Multiaddr | PeerId> = []
    for (const a of this.init.bootstrap) {
      try { targets.push(multiaddr(a)) } catch { this.log.warn({ addr: a }, 'invalid bootstrap address') }
    }
    for (const known of await this.components.peers.list()) {
      const id = peerIdFromString(known.peerId)
      await this.components.libp2p.peerStore.merge(id, { multiaddrs: known.addrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } }) })
      targets.push(id)
    }
    await this.dialAll(targets.slice(0, MAX_DIALS_PER_ROUND * 2), 'warn', SEED_DIAL_TIMEOUT_MS)
  }

  /**
   * Live members we are not connected to (addresses came with their `alive` updates), and a few dead ones:
   * a member cut off by a partition is dead to us until we reach it again, and once connected it refutes.
   */
  private async dialMembers (): Promise<void> {
    const { libp2p } = this.components
    const connected = new Set(libp2p.getPeers().map(p => p.toString()))
    const self = libp2p.peerId.toString()
    const members = this.components.membership.members().filter(m => m.id !== self)
    const unconnected = members.filter(m => !connected.has(m.id))
    const dead = sample(unconnected.filter(m => m.state === 'dead'), MAX_DEAD_DIALS_PER_ROUND, this.components.rng)
    if (this.init.degree === 0) {
      const alive = unconnected.filter(m => m.state === 'alive').slice(0, MAX_DIALS_PER_ROUND)
      await this.dialAll([...alive, ...dead].map(m => peerIdFromString(m.id)))
      return
    }
    const live = members.filter(m => m.state === 'alive' || m.state === 'suspect').map(m => m.id)
    const plan = planNeighbours({
      self,
      live,
      current: [...this.desired],
      degree: this.init.degree,
      ringNeighbours: constants.OVERLAY_RING_NEIGHBOURS,
      rng: this.components.rng
    })
    this.desired = new Set(plan.desired)
    this.components.membership.setChosen(plan.desired)
    this.trim(new Set(members.map(m => m.id)))
    const dial = plan.desired.filter(id => !connected.has(id)).slice(0, MAX_DIALS_PER_ROUND)
    await this.dialAll([...dial, ...dead.map(m => m.id)].map(id => peerIdFromString(id)))
  }

  /**
   * Closes outbound connections to members we no longer choose, once they are past the transient age (a probe's
   * or a query's dial is closed by its owner). Inbound links are the other side's choice and stay: each node holds
   * its `degree` chosen links plus those others chose, about 2 x degree in all.
   */
  private trim (members: Set<string>): void {
    const now = this.components.clock.now()
    for (const conn of this.components.libp2p.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (conn.direction !== 'outbound' || this.desired.has(peer) || now - conn.timeline.open < TRANSIENT_CONNECTION_MS) continue
      // Non-members (DHT peers of another swarm, a bootstrap node not yet identified) are libp2p's to manage.
      if (!members.has(peer)) continue
      void this.components.membership.closeQuietly(conn)
    }
  }

  /** The neighbours chosen in the last round. */
  neighbours (): string[] {
    return [...this.desired]
  }

  /** Asks the DHT for the peers closest to a random key and dials those we are not connected to. */
  private async randomWalk (): Promise<void> {
    const { libp2p, rng } = this.components
    const key = new Uint8Array(32).map(() => Math.floor(rng() * 256))
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS * 2)])
    const found: PeerId[] = []
    try {
      for await (const ev of libp2p.services.dht.getClosestPeers(key, { signal })) {
        if (ev.name === 'FINAL_PEER' && !ev.peer.id.equals(libp2p.peerId)) found.push(ev.peer.id)
      }
    } catch (err) {
      this.log.trace({ err: (err as Error).message }, 'random walk ended early')
    }
    const connected = new Set(libp2p.getPeers().map(p => p.toString()))
    // With a bounded degree only strangers are dialled: a member's link is the overlay's choice, not the walk's.
    const known = this.init.degree === 0 ? new Set<string>() : new Set(this.components.membership.members().map(m => m.id))
    await this.dialAll(found.filter(p => !connected.has(p.toString()) && !known.has(p.toString())).slice(0, MAX_DIALS_PER_ROUND))
  }

  private async dialAll (targets: Array<Multiaddr | PeerId>, level: 'debug' | 'warn' = 'debug', timeoutMs = DIAL_TIMEOUT_MS): Promise<void> {
    await Promise.allSettled(targets.map(async t => {
      const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(timeoutMs)])
      try {
        await this.components.libp2p.dial(t, { signal })
      } catch (err) {
        // A bootstrap list shared by every node (a StatefulSet, a compose file) names this node too: not a failure.
        const self = (err as Error).name === 'InvalidPeerIdError' && /dial self/.test((err as Error).message)
        if (this.running) this.log[self ? 'debug' : level]({ target: t.toString(), err: (err as Error).message }, self ? 'bootstrap address is this node' : dialFailureHint(err))
      }
    }))
  }
}

/** The most likely cause, in words an operator can act on. */
export function dialFailureHint (err: unknown): string {
  const e = err as { name?: string, message?: string }
  if (e.name === 'EncryptionFailedError' || /ECONNRESET|handshake/i.test(e.message ?? '')) {
    return 'dial failed during the handshake: the peer is probably in another swarm (a different or missing swarm key)'
  }
  if (/ECONNREFUSED/.test(e.message ?? '')) return 'dial failed: nothing listens at that address'
  return 'dial failed'
}
