/**
 * Reliable events (docs/protocols/events.md): publish signs, stores and gossips; every incoming event, from
 * gossip or from repair, is checked (shape, size, signature, clock) and applied through one queue into the
 * durable log, which delivers per origin in seq order. Gaps and lagging digests trigger pulls over
 * /shoal/<swarm>/events/1.0.0. Gossip is the fast path; the pull path makes delivery reliable.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { HybridClock, InvalidInputError, classifyEvent, checkEventClock, sample, constants, EVENT_WIRE_VERSION } from '@shoal/core'
import type { Clock, EventsConfig, Logger, Rng, ShoalEvent } from '@shoal/core'
import type { Delivered, EventLog } from '@shoal/store'
import type { EventBus } from '../events.js'
import type { GossipService } from '../gossip.js'
import type { ShoalLibp2p } from '../libp2p.js'
import type { MembershipService } from '../membership-service.js'
import type { SwarmProtocols } from '../protocols.js'
import { handleRequests } from '../frames.js'
import { signEvent, verifyEvent } from './signing.js'
import { EventRepair } from './event-repair.js'
import { RepeatingTasks, SerialQueue, Waiters } from '../tasks.js'
import { CompactedError, encodedEventLimit, maxPayloadLimit } from './event-types.js'
import type { EventStats, PublishResult } from './event-types.js'
import { noopTracing, traceIdOf } from '../tracing.js'
import type { Tracing } from '../tracing.js'

export { CompactedError, encodedEventLimit, maxPayloadLimit } from './event-types.js'
export type { EventStats, PublishResult } from './event-types.js'

const GOSSIP_TYPE = 'event'
/** How long a gap may stay open before we pull it (gossip usually fills it within a few ms). */
const GAP_GRACE_MS = 250

export interface EventServiceComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  rng: Rng
  logger: Logger
  events: EventBus
  gossip: GossipService
  membership: MembershipService
  log: EventLog
  privateKey: PrivateKey
  /** Spans `events.publish` and `events.apply`; none without. */
  tracing?: Tracing
}

export interface EventServiceInit {
  protocols: SwarmProtocols
  config: EventsConfig
  /** Payload limits of topics that need their own (the KV store's values are larger than events'). */
  topicLimits?: Record<string, number>
}

export class EventService {
  private readonly log: Logger
  private readonly self: string
  private hlc!: HybridClock
  private readonly queue = new SerialQueue()
  private readonly gapTimers = new Set<string>()
  /** Highest seq seen per origin (held or not): a gap is maxSeen > contiguous head. */
  private readonly maxSeen = new Map<string, number>()
  private readonly deliveries = new Waiters()
  private tasks!: RepeatingTasks
  private readonly controller = new AbortController()
  private running = false
  private readonly counts = { published: 0, received: 0, duplicates: 0, repaired: 0, gapsSkipped: 0 }
  private readonly rejected = new Map<string, number>()
  /** Per origin, the newest gossiped event's hlc.wall minus our clock when it arrived (transit not removed). */
  private readonly skews = new Map<string, { skewMs: number, at: number }>()
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (evt.detail.protocols.includes(this.init.protocols.events)) void this.repair.exchangeDigest(evt.detail.peerId.toString())
  }

  private readonly repair: EventRepair
  private readonly tracing: Tracing

  constructor (private readonly components: EventServiceComponents, private readonly init: EventServiceInit) {
    this.log = components.logger.child({ component: 'shoal:node:events' })
    this.self = components.libp2p.peerId.toString()
    this.tracing = components.tracing ?? noopTracing
    this.repair = new EventRepair({
      log: components.log,
      libp2p: components.libp2p,
      logger: this.log,
      protocol: init.protocols.events,
      signal: this.controller.signal,
      running: () => this.running,
      check: async raw => await this.check(raw),
      apply: async events => await this.apply(events, undefined),
      skipTo: async (origin, below) => {
        this.afterAppend(await this.queue.run(async () => await this.components.log.skipTo(origin, below)))
        this.counts.gapsSkipped++
      },
      repaired: n => { this.counts.repaired += n }
    })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { libp2p, log } = this.components
    const head = log.head(this.self)
    const last = head > 0 ? await log.get(this.self, head) : undefined
    this.hlc = new HybridClock({ node: this.self, maxDriftMs: this.init.config.maxClockDriftMs, last: last?.hlc })
    this.components.gossip.register<unknown>(this.init.protocols.topics.events, { [GOSSIP_TYPE]: payload => payload }, (envelope, _from, via) => {
      this.noteSkew(envelope.payload as ShoalEvent)
      this.apply([envelope.payload as ShoalEvent], via).catch(err => {
        // A full disk or a broken store: this event is lost here for now; repair brings it back later.
        this.log.warn({ err: (err as Error).message }, 'could not store a gossiped event')
      })
    }, {
      maxBytes: encodedEventLimit(maxPayloadLimit(this.init.config, this.init.topicLimits)) + 1024,
      check: async envelope => await this.check(envelope.payload)
    })
    await handleRequests(libp2p, this.init.protocols.events, async (msg, from) => await this.repair.answer(msg, from.toString()), {
      logger: this.log,
      timeoutMs: constants.DEFAULT_NETWORK_TIMEOUT_MS
    })
    libp2p.addEventListener('peer:identify', this.onIdentify)
    this.tasks = new RepeatingTasks(this.components.clock, this.log)
    this.tasks.every(this.init.config.digestIntervalMs, async () => {
      const [peer] = sample(this.livePeers(), 1, this.components.rng)
      if (peer !== undefined) await this.repair.exchangeDigest(peer)
    })
    this.tasks.every(this.init.config.compactIntervalMs, async () => { await this.compact() })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.tasks.stop()
    this.controller.abort()
    this.deliveries.wake()
    this.components.libp2p.removeEventListener('peer:identify', this.onIdentify)
    await this.components.libp2p.unhandle(this.init.protocols.events).catch(() => {})
    await this.queue.idle()
  }

  /** Signs, stores and gossips one event; durable locally on return. It carries its `events.publish` span's context. */
  async publish (topic: string, data: string, opts: { type?: string, trace?: string } = {}): Promise<PublishResult> {
    return await this.tracing.run('events.publish', { parent: opts.trace, attributes: { 'shoal.topic': topic } }, async span => {
      const trace = span.traceparent
      const result = await this.queue.run(async () => {
        const seq = this.components.log.head(this.self) + 1
        const { wall, logical } = this.hlc.now(this.components.clock.now())
        const event = await signEvent({ v: EVENT_WIRE_VERSION, type: opts.type ?? 'user', topic, origin: this.self, seq, hlc: { wall, logical }, ...(trace !== undefined ? { trace } : {}), data }, this.components.privateKey)
        const limit = this.payloadLimit(topic)
        const checked = classifyEvent(event, { maxPayloadBytes: limit })
        if (!checked.ok) throw new InvalidInputError(`event refused (${checked.reason}): ${checked.detail}`, { field: checked.reason === 'oversized' ? 'data' : 'event', reason: checked.reason })
        // Escaping can grow a payload when encoded; refuse here, before storing, what gossip would refuse.
        const encoded = Buffer.byteLength(JSON.stringify(event))
        if (encoded > encodedEventLimit(limit)) {
          throw new InvalidInputError(`event refused: ${encoded} bytes once encoded (too much escaping); send less or plainer data`, { field: 'data', reason: 'oversized' })
        }
        const appended = await this.components.log.append([event])
        this.afterAppend(appended.delivered)
        this.counts.published++
        return { event, lsn: appended.delivered[0]?.lsn ?? this.components.log.lastLsn() }
      })
      span.setAttributes({ 'shoal.seq': result.event.seq })
      this.components.gossip.publish(this.init.protocols.topics.events, GOSSIP_TYPE, result.event)
        .catch(err => { this.log.debug({ err: (err as Error).message }, 'event gossip failed; repair will carry it') })
      return { origin: this.self, seq: result.event.seq, hlc: result.event.hlc, lsn: result.lsn, event: result.event }
    })
  }

  /** Delivered events after `since` (an LSN), oldest first. */
  async list (opts: { topic?: string, since?: number, limit: number }): Promise<{ events: Delivered[], next: number }> {
    const page = await this.components.log.list(opts)
    if ('compactedLsn' in page) throw new CompactedError(page.compactedLsn)
    return page
  }

  /** Delivered events after `since`, then each new one as it is delivered, until `signal` aborts. */
  async * follow (opts: { topic?: string, since?: number }, signal: AbortSignal): AsyncGenerator<Delivered> {
    let cursor = opts.since ?? 0
    while (!signal.aborted && this.running) {
      const waiting = this.deliveries.next(signal)
      const page = await this.list({ topic: opts.topic, since: cursor, limit: constants.EVENT_PULL_BATCH })
      for (const d of page.events) yield d
      cursor = page.next
      if (page.events.length < constants.EVENT_PULL_BATCH) await waiting
    }
  }

  stats (): EventStats {
    const s = this.components.log.stats()
    return { origin: this.self, lastLsn: s.lastLsn, stored: s.events, origins: s.origins, heads: this.components.log.heads(), ...this.counts, rejected: Object.fromEntries(this.rejected) }
  }

  /** Estimated clock skew of each origin we heard live gossip from (positive = its clock is ahead). */
  clockSkews (): Record<string, { skewMs: number, at: number }> {
    return Object.fromEntries(this.skews)
  }

  /** Checks events from elsewhere (e.g. a KV store push) and applies the good ones; returns them. */
  async ingest (raws: unknown[], via?: string): Promise<ShoalEvent[]> {
    const accepted: ShoalEvent[] = []
    for (const raw of raws) if ((await this.check(raw)) === undefined) accepted.push(raw as ShoalEvent)
    if (accepted.length > 0) await this.apply(accepted, via)
    return accepted
  }

  /**
   * Shape, size, signature and clock; returns a reject reason, counted, or undefined. The event signature is
   * checked even when gossipsub's own signature proves the sender: an event must verify wherever it is served.
   */
  async check (raw: unknown): Promise<string | undefined> {
    const classified = classifyEvent(raw, { maxPayloadBytes: maxPayloadLimit(this.init.config, this.init.topicLimits) })
    let reason: string | undefined
    if (!classified.ok) reason = classified.reason
    else if (Buffer.byteLength(classified.event.data) > this.payloadLimit(classified.event.topic)) reason = 'oversized'
    else if (!(await verifyEvent(classified.event))) reason = 'bad-signature'
    else if (!checkEventClock(classified.event, this.components.clock.now(), this.init.config.maxClockDriftMs)) reason = 'future'
    if (reason !== undefined) {
      this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1)
      this.components.events.emit('event:rejected', { reason })
    }
    return reason
  }

  /** Applies checked events through the one queue; a gap behind them triggers a pull from `via`. */
  private async apply (events: ShoalEvent[], via: string | undefined): Promise<number> {
    const added = await this.queue.run(async () => {
      const startedAt = this.components.clock.now()
      const result = await this.components.log.append(events)
      this.traceApplied(result.added, startedAt, via)
      this.counts.received += result.added.length
      this.counts.duplicates += result.duplicates
      for (const c of result.conflicts) {
        this.rejected.set('equivocation', (this.rejected.get('equivocation') ?? 0) + 1)
        this.log.warn({ origin: c.origin, seq: c.seq }, 'two different events with one (origin, seq): kept the first')
      }
      for (const e of result.added) {
        if (e.seq > (this.maxSeen.get(e.origin) ?? 0)) this.maxSeen.set(e.origin, e.seq)
        try { this.hlc.receive({ ...e.hlc, node: e.origin }, this.components.clock.now()) } catch {}
      }
      this.afterAppend(result.delivered)
      return result.added.length
    })
    if (via !== undefined && via !== this.self) {
      for (const origin of new Set(events.map(e => e.origin))) {
        if (events.some(e => e.origin === origin && e.seq > this.components.log.head(origin))) this.pullGapSoon(via, origin)
      }
    }
    return added
  }

  /**
   * Gossip often delivers n+1 a moment before n (different mesh paths); give it GAP_GRACE_MS to fill the gap
   * before pulling.
   */
  private pullGapSoon (peer: string, origin: string): void {
    if (this.gapTimers.has(origin)) return
    this.gapTimers.add(origin)
    this.components.clock.setTimer(() => {
      this.gapTimers.delete(origin)
      if (this.running && (this.maxSeen.get(origin) ?? 0) > this.components.log.head(origin)) void this.repair.pull(peer, origin)
    }, GAP_GRACE_MS)
  }

  /** An `events.apply` span per newly stored event, child of its `trace`. */
  private traceApplied (added: ShoalEvent[], startTime: number, via: string | undefined): void {
    for (const e of added) {
      const attributes = { 'shoal.origin': e.origin, 'shoal.seq': e.seq, 'shoal.topic': e.topic, ...(via !== undefined ? { 'shoal.via': via } : {}) }
      this.tracing.start('events.apply', { parent: e.trace, attributes, startTime }).end()
      if (e.trace !== undefined) this.log.debug({ origin: e.origin, seq: e.seq, topic: e.topic, traceId: traceIdOf(e.trace) }, 'applied a traced event')
    }
  }

  private afterAppend (delivered: Delivered[]): void {
    for (const d of delivered) this.components.events.emit('event:delivered', d)
    if (delivered.length > 0) this.deliveries.wake()
  }

  private async compact (): Promise<void> {
    const { removed } = await this.queue.run(async () => await this.components.log.compact({
      now: this.components.clock.now(), maxAgeMs: this.init.config.retentionMs, maxEvents: this.init.config.retentionMaxEvents
    }))
    if (removed > 0) this.log.info({ removed }, 'compacted the event log')
  }

  private payloadLimit (topic: string): number {
    return this.init.topicLimits?.[topic] ?? this.init.config.maxPayloadBytes
  }

  private noteSkew (e: ShoalEvent): void {
    const now = this.components.clock.now()
    if (e.origin !== this.self) this.skews.set(e.origin, { skewMs: e.hlc.wall - now, at: now })
  }

  private livePeers (): string[] {
    return this.components.membership.members().filter(m => m.state === 'alive' && m.id !== this.self).map(m => m.id)
  }
}
