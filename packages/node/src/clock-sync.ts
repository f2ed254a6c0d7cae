/**
 * The clock-skew guard (docs/protocols/clock.md): samples peers' wall clocks, keeps the estimate in core's
 * ClockOffsets, and refuses to let this node stamp writes while its clock is more than maxClockDriftMs / 2 from the
 * swarm's median. Samples come from the acks of this node's SWIM probes (a member of this release puts its wall
 * clock in them: about one sample a second, and no message of its own), and over /shoal/<swarm>/time/1.0.0 from
 * each newly identified peer, and from one random live member per interval when no ack brought one (members of an
 * earlier release). Per-node load is at most one small request per interval, whatever N.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { ClockOffsets, ClockSkewError, hlcLeadMs, monotonicNow, sample } from '@shoal/core'
import type { Clock, HybridClock, Logger, Rng } from '@shoal/core'
import type { EventBus } from './events.js'
import type { ShoalLibp2p } from './libp2p.js'
import type { MembershipService } from './membership-service.js'
import { handleRequests, request, unhandleRequests } from './frames.js'
import { RepeatingTasks } from './tasks.js'
import { connectedFirst } from './neighbours.js'

/**
 * How often one live member is sampled over the time protocol, unless a probe's ack brought a sample since. Twenty
 * samples a minute keep the median fresh at any swarm size.
 */
export const CLOCK_SAMPLE_INTERVAL_MS = 3_000
/** Samples count this long: a minute of samples from up to 20 peers. */
export const CLOCK_SAMPLE_MAX_AGE_MS = 60_000
/** A slower round trip bounds the peer's time too loosely (±rtt/2) to use. */
export const CLOCK_SAMPLE_MAX_RTT_MS = 1_000
const REQUEST_TIMEOUT_MS = 2_000

export interface ClockSyncComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  rng: Rng
  logger: Logger
  membership: MembershipService
  /** 'member:probed' carries the clock samples of probe acks. */
  events: EventBus
  /** The node's hybrid clock: writes also wait while its last time is too far ahead of the swarm's. */
  hlc?: Pick<HybridClock, 'last'>
}

export interface ClockSyncInit {
  protocol: string
  /** events.maxClockDriftMs: writes are refused while this node is more than half of it off the swarm. */
  maxDriftMs: number
}

export class ClockSync {
  private readonly offsets = new ClockOffsets({ maxAgeMs: CLOCK_SAMPLE_MAX_AGE_MS, maxRttMs: CLOCK_SAMPLE_MAX_RTT_MS })
  private tasks?: RepeatingTasks
  private readonly controller = new AbortController()
  private readonly log: Logger
  private warned = false
  /** Monotonic ms of the last sample a probe's ack brought; -Infinity before the first. */
  private lastAckSample = -Infinity
  private offProbed?: () => void
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (evt.detail.protocols.includes(this.init.protocol)) void this.sample(evt.detail.peerId.toString())
  }

  constructor (private readonly components: ClockSyncComponents, private readonly init: ClockSyncInit) {
    this.log = components.logger.child({ component: 'shoal:node:clock' })
  }

  async start (): Promise<void> {
    const { libp2p, clock } = this.components
    await handleRequests(libp2p, this.init.protocol, async () => ({ v: 1, type: 'time', wall: clock.now() }), { logger: this.log, timeoutMs: REQUEST_TIMEOUT_MS })
    libp2p.addEventListener('peer:identify', this.onIdentify)
    this.tasks = new RepeatingTasks(clock, this.log)
    this.offProbed = this.components.events.on('member:probed', ({ id, clock: sample }) => {
      if (sample !== undefined && this.offsets.add(id, sample)) this.lastAckSample = sample.receivedMono
    })
    this.tasks.every(CLOCK_SAMPLE_INTERVAL_MS, async () => {
      if (this.mono() - this.lastAckSample < CLOCK_SAMPLE_INTERVAL_MS) return
      const self = libp2p.peerId.toString()
      const live = this.components.membership.members().filter(m => m.state === 'alive' && m.id !== self).map(m => m.id)
      // A member we hold a link to (a neighbour): sampling any member dialled a new connection about half the
      // time at 30 daemons with a bounded degree, a handshake and an identify for one small request.
      const [peer] = sample(connectedFirst(live, libp2p), 1, this.components.rng)
      if (peer !== undefined) await this.sample(peer)
    })
  }

  async stop (): Promise<void> {
    this.tasks?.stop()
    this.offProbed?.()
    this.controller.abort()
    this.components.libp2p.removeEventListener('peer:identify', this.onIdentify)
    await unhandleRequests(this.components.libp2p, this.init.protocol)
  }

  /** This node's offset from the swarm now (ms, positive = ahead) and how many peers it rests on. */
  status (): { offsetMs: number, peers: number, limitMs: number } {
    return { ...this.offsets.swarmOffset(this.components.clock.now(), this.mono()), limitMs: this.limitMs }
  }

  /**
   * Throws ClockSkewError while this node's clock is too far from the swarm's to stamp a write: its wall clock
   * more than maxClockDriftMs / 2 from the swarm's median, or its hybrid clock's last time more than that ahead
   * of the swarm's time (after a clock ran fast here: the HLC never goes back, so every later stamp would be
   * as far ahead until real time catches up).
   */
  guard (): void {
    const wall = this.components.clock.now()
    const { offsetMs, peers } = this.offsets.swarmOffset(wall, this.mono())
    const lead = hlcLeadMs(this.components.hlc?.last?.wall, wall, offsetMs)
    if (Math.abs(offsetMs) <= this.limitMs && lead <= this.limitMs) { this.warned = false; return }
    const data = { offsetMs: Math.round(offsetMs), limitMs: this.limitMs, peers, ...(Math.abs(offsetMs) <= this.limitMs ? { hlcAheadMs: Math.round(lead) } : {}) }
    if (!this.warned) {
      this.warned = true
      this.log.warn(data, data.hlcAheadMs !== undefined
        ? 'this node\'s hybrid clock is too far ahead of the swarm\'s time: refusing writes until it has caught up'
        : 'this node\'s clock is too far from the swarm\'s: refusing writes until it is fixed')
    }
    throw new ClockSkewError(data)
  }

  private get limitMs (): number {
    return this.init.maxDriftMs / 2
  }

  private mono (): number {
    return monotonicNow(this.components.clock)
  }

  /** One round trip to `peer`; a failure or a malformed answer records nothing. */
  async sample (peer: string): Promise<void> {
    const sentMono = this.mono()
    try {
      const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      const reply = await request(this.components.libp2p, peerIdFromString(peer), this.init.protocol, { v: 1, type: 'time' }, { signal, maxBytes: 1024 }) as { wall?: unknown }
      const receivedMono = this.mono()
      if (typeof reply?.wall === 'number') this.offsets.add(peer, { sentMono, receivedMono, remoteWall: reply.wall })
    } catch (err) {
      this.log.debug({ peer, err: (err as Error).message }, 'clock sample failed')
    }
  }
}
