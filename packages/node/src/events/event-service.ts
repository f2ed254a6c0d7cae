/**
 * Reliable events (docs/protocols/events.md): publish signs, stores and gossips; every incoming event, from
 * gossip or from repair, is checked (shape, size, signature, clock) and applied through one queue into the
 * durable log, which delivers per origin in seq order. Gaps and lagging digests trigger pulls over
 * /shoal/<swarm>/events/1.0.0. Gossip is the fast path; the pull path makes delivery reliable.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { InvalidInputError, classifyEvent, checkEventClock, sample, shuffled, constants } from '@shoal/core'
import type { Clock, EventsConfig, HybridClock, Logger, Rng, ShoalEvent } from '@shoal/core'
import type { AppendResult, Attachment, Delivered, EventLog } from '@shoal/store'
import type { EventBus } from '../events.js'
import type { GossipService } from '../gossip.js'
import type { ShoalLibp2p } from '../libp2p.js'
import type { MembershipService } from '../membership-service.js'
import type { SwarmProtocols } from '../protocols.js'
import { handleRequests, unhandleRequests } from '../frames.js'
import { VerifiedSignatures, checkSignature } from './signing.js'
import { EventRepair } from './event-repair.js'
import { OwnEvents } from './own-events.js'
import { GossipInbox } from './gossip-inbox.js'
import { recentDeliveries } from './recent-deliveries.js'
import type { SeqReservation } from './seq-reservation.js'
import { OWN_SEQ_LEARN_INTERVAL_MS, OwnSeqLearning } from './own-seq-learning.js'
import { RepeatingTasks, Waiters } from '../tasks.js'
import type { SerialQueue } from '../tasks.js'
import { CompactedError, encodedEventLimit, maxPayloadLimit } from './event-types.js'
import type { EventStats, PublishResult } from './event-types.js'
import { noopTracing, traceIdOf } from '../tracing.js'
import type { Tracing } from '../tracing.js'
import { connectedFirst } from '../neighbours.js'

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
  /** The node's hybrid clock, shared with the KV service (every stored version moves it). */
  hlc: HybridClock
  /** The node's one queue for store mutations, shared with the KV service. */
  writes: SerialQueue
  /** Throws when this node must not stamp new events (its clock is too far from the swarm's); none without. */
  clockGuard?: () => void
  /** Seqs reserved beside the log (seq-reservation.ts); none without (in-memory tests). */
  reservation?: SeqReservation
  /** Spans `events.publish` and `events.apply`; none without. */
  tracing?: Tracing
}

/**
 * What a service adds to the batch that delivers events (the KV replica merges `kv` events in the same atomic
 * write). Runs inside the write queue; returns undefined when it has nothing to add. `early`: these deliveries
 * were handed to live subscribers before the batch is written (gossiped events, DeliverOptions.early), so the
 * stage may hand on what it derives from them early too, undoing that in its `rollback` if the batch fails.
 */
export type DeliveryStage = (delivered: Delivered[], opts: { early: boolean }) => Promise<Attachment | undefined>

export interface EventServiceInit {
  protocols: SwarmProtocols
  config: EventsConfig
  /** Payload limits of topics that need their own (the KV store's values are larger than events'). */
  topicLimits?: Record<string, number>
  /** The event log was created empty at this start (a new node, or a lost `db/`). */
  freshLog?: boolean
  /**
   * Whether peers can be expected (bootstrap addresses, mDNS, or members and peers remembered): a restored identity
   * then waits to hear from one before it publishes (own-seq-learning.ts). Default true.
   */
  peersExpected?: boolean
}

export class EventService {
  private readonly log: Logger
  private readonly self: string
  private readonly stages: DeliveryStage[] = []
  /** Topics the node writes itself (the KV store's): closed to the generic `publish`. */
  private readonly reserved = new Set<string>()
  private readonly own: OwnEvents
  private readonly inbox: GossipInbox
  private readonly gapTimers = new Set<string>()
  /** Highest seq seen per origin (held or not): a gap is maxSeen > contiguous head. */
  private readonly maxSeen = new Map<string, number>()
  private readonly deliveries = new Waiters()
  private readonly recent = recentDeliveries()
  private tasks!: RepeatingTasks
  private readonly controller = new AbortController()
  private running = false
  private readonly counts = { published: 0, received: 0, duplicates: 0, repaired: 0, gapsSkipped: 0 }
  private readonly rejected = new Map<string, number>()
  /** Signatures found valid here, so that a copy arriving by another path is not checked again. */
  private readonly verified = new VerifiedSignatures()
  private readonly signatureChecks = { valid: 0, known: 0, invalid: 0 }
  /** Per origin, the newest gossiped event's hlc.wall minus our clock when it arrived (transit not removed). */
  private readonly skews = new Map<string, { skewMs: number, at: number }>()
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (evt.detail.protocols.includes(this.init.protocols.events)) void this.repair.exchangeDigest(evt.detail.peerId.toString())
  }

  private readonly repair: EventRepair
  private readonly tracing: Tracing
  /** Present for a restored identity until it has learned its last seq from peers. */
  private readonly learning: OwnSeqLearning | undefined

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
      check: async raw => await this.check(raw, { offload: true }),
      apply: async events => (await this.apply(events, undefined)).added,
      skipTo: async (origin, below) => {
        this.afterAppend(await this.queue.run(async () => await this.components.log.skipTo(origin, below, { attach: this.attach })))
        this.counts.gapsSkipped++
      },
      repaired: n => { this.counts.repaired += n },
      peers: () => shuffled(this.livePeers(), this.components.rng),
      unreachable: () => this.components.membership.members().filter(m => m.id !== this.self && (m.state === 'suspect' || m.state === 'dead')).length,
      now: () => this.components.clock.now(),
      skipGraceMs: 2 * init.config.digestIntervalMs
    })
    this.inbox = new GossipInbox({
      apply: async group => {
        const vias = new Map(group.map(g => [g.event, g.via]))
        await this.apply(group.map(g => g.event), undefined, e => vias.get(e), { early: true })
      },
      // A full disk or a broken store: these events are lost here for now; repair brings them back later.
      failed: err => { this.log.warn({ err: (err as Error).message }, 'could not store gossiped events') },
      applied: group => { for (const via of new Set(group.map(g => g.via))) this.noteGaps(group.filter(g => g.via === via).map(g => g.event), via) }
    })
    const reservation = components.reservation
    this.learning = reservation?.mustLearn === true
      ? new OwnSeqLearning({
        self: this.self,
        reservation,
        peersExpected: init.peersExpected ?? true,
        ownHighest: () => Math.max(components.log.head(this.self), components.log.maxSeen(this.self)),
        digest: async peer => await this.repair.exchangeDigest(peer),
        peers: () => shuffled(this.livePeers(), this.components.rng),
        continueAt: async next => { this.afterAppend(await this.queue.run(async () => await this.components.log.skipTo(this.self, next, { attach: this.attach }))) },
        logger: this.log
      })
      : undefined
    this.own = new OwnEvents(components, {
      self: this.self,
      payloadLimit: topic => this.payloadLimit(topic),
      attach: this.attach,
      guard: () => { this.learning?.guard(); this.components.clockGuard?.() },
      committed: (appended, events) => { this.ownCommitted(appended, events) }
    })
  }

  private get queue (): SerialQueue {
    return this.components.writes
  }

  /** Adds `stage` to every batch that delivers events; see DeliveryStage. */
  addDeliveryStage (stage: DeliveryStage): void {
    this.stages.push(stage)
  }

  /** Closes `topic` to the generic publish (events.publish over RPC): only `publish(.., { internal: true })` writes it. */
  reserveTopic (topic: string): void {
    this.reserved.add(topic)
  }

  private readonly attach = async (delivered: Delivered[], early = false): Promise<Attachment | undefined> => {
    if (delivered.length === 0 || this.stages.length === 0) return undefined
    const parts = (await Promise.all(this.stages.map(async stage => await stage(delivered, { early })))).filter((a): a is Attachment => a !== undefined)
    if (parts.length === 0) return undefined
    if (parts.length === 1) return parts[0]
    return {
      ops: parts.flatMap(p => p.ops),
      commit: () => { for (const p of parts) p.commit() },
      rollback: () => { for (const p of parts) p.rollback?.() }
    }
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { libp2p, log } = this.components
    // A lost log: start above every seq this node may have signed, so none is ever signed twice.
    const reserved = this.components.reservation?.highest ?? 0
    if (this.init.freshLog === true && reserved > log.maxSeen(this.self)) {
      await this.queue.run(async () => await log.skipTo(this.self, reserved + 1))
      this.log.warn({ from: reserved + 1 }, 'the event log is new but this node published before: its own events continue above its seq reservation')
    }
    this.components.gossip.register<unknown>(this.init.protocols.topics.events, { [GOSSIP_TYPE]: payload => payload }, (envelope, via) => {
      this.noteSkew(envelope.payload as ShoalEvent)
      this.inbox.push(envelope.payload as ShoalEvent, via)
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
    if (this.learning !== undefined) {
      const learning = this.learning
      this.tasks.every(OWN_SEQ_LEARN_INTERVAL_MS, async () => { if (learning.learning) await learning.round() })
    }
    this.tasks.every(this.init.config.digestIntervalMs, async () => {
      const [peer] = sample(connectedFirst(this.livePeers(), this.components.libp2p), 1, this.components.rng)
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
    await unhandleRequests(this.components.libp2p, this.init.protocols.events)
    await this.own.idle()
    await this.inbox.idle()
    await this.queue.idle()
  }

  /**
   * Signs, stores and gossips one event: fsync'd here (with what it changes in the KV replica) before it is
   * gossiped, grouped with concurrent publishes (own-events.ts). It carries its `events.publish` span's context.
   * Throws InvalidInputError for a reserved topic (unless `internal`) or an oversized event; a store error
   * (full disk) leaves no trace anywhere.
   */
  async publish (topic: string, data: string, opts: { type?: string, trace?: string, internal?: boolean } = {}): Promise<PublishResult> {
    if (this.reserved.has(topic) && opts.internal !== true) {
      throw new InvalidInputError(`topic ${JSON.stringify(topic)} is written by the node itself (the KV store's); publish on another topic, or use kv.put`, { field: 'topic', reason: 'reserved' })
    }
    return await this.tracing.run('events.publish', { parent: opts.trace, attributes: { 'shoal.topic': topic } }, async span => {
      const result = await this.own.publish(topic, data, { type: opts.type ?? 'user', trace: span.traceparent })
      span.setAttributes({ 'shoal.seq': result.event.seq })
      return { origin: this.self, seq: result.event.seq, hlc: result.event.hlc, lsn: result.lsn, event: result.event }
    })
  }

  /** After a group of own events is durable: announce, then gossip (never before). */
  private ownCommitted (appended: AppendResult, events: ShoalEvent[]): void {
    this.counts.published += events.length
    for (const e of events) if (e.seq > (this.maxSeen.get(e.origin) ?? 0)) this.maxSeen.set(e.origin, e.seq)
    this.afterAppend(appended.delivered)
    for (const event of events) {
      this.components.gossip.publish(this.init.protocols.topics.events, GOSSIP_TYPE, event)
        .catch(err => { this.log.debug({ err: (err as Error).message }, 'event gossip failed; repair will carry it') })
    }
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
      const seen = this.deliveries.generation
      // From memory when the cursor is recent (a subscriber keeping up), from the log otherwise; a cursor below
      // what compaction removed gets CompactedError from the log either way.
      const topic = opts.topic
      const fresh = cursor >= this.components.log.lastCompactedLsn() ? this.recent.after(cursor, constants.EVENT_PULL_BATCH, topic === undefined ? undefined : d => d.event.topic === topic) : undefined
      const page = fresh !== undefined ? { events: fresh.items, next: fresh.next } : await this.list({ topic, since: cursor, limit: constants.EVENT_PULL_BATCH })
      for (const d of page.events) yield d
      cursor = page.next
      if (page.events.length < constants.EVENT_PULL_BATCH) await this.deliveries.after(seen, signal)
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
  async check (raw: unknown, opts: { offload?: boolean } = {}): Promise<string | undefined> {
    const classified = classifyEvent(raw, { maxPayloadBytes: maxPayloadLimit(this.init.config, this.init.topicLimits) })
    let reason: string | undefined
    if (!classified.ok) reason = classified.reason
    else if (Buffer.byteLength(classified.event.data) > this.payloadLimit(classified.event.topic)) reason = 'oversized'
    else if (!(await this.verifyOnce(classified.event, opts))) reason = 'bad-signature'
    else if (!checkEventClock(classified.event, this.components.clock.now(), this.init.config.maxClockDriftMs)) reason = 'future'
    if (reason !== undefined) {
      this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1)
      this.components.events.emit('event:rejected', { reason })
    }
    return reason
  }

  /**
   * Signature checks of received events by outcome: `valid` and `invalid` were verified (Ed25519), `known` were
   * copies of an event whose signature this node had already found valid (VerifiedSignatures) and cost no check.
   */
  signatureCheckCounts (): Readonly<{ valid: number, known: number, invalid: number }> {
    return this.signatureChecks
  }

  /** The Ed25519 check, skipped for a copy of an event already found valid here (VerifiedSignatures); counted. */
  private async verifyOnce (event: ShoalEvent, opts: { offload?: boolean }): Promise<boolean> {
    const outcome = await checkSignature(event, { ...opts, verified: this.verified })
    this.signatureChecks[outcome]++
    return outcome !== 'invalid'
  }

  /**
   * Stores one checked event that `via` pushed to get this node's acknowledgement (a KV write with acks above 1):
   * appended with an fsync, with what it changes in the KV replica in the same batch. True when this append
   * delivered it, so that its KV record is merged and on disk; false when it was held behind a gap or had been
   * stored before (by gossip, without an fsync): the caller then makes the KV merge durable on its own. An event
   * that is not the next of its origin here is not appended at all (false at once): it could not be delivered.
   */
  async storeForAck (event: ShoalEvent, via: string): Promise<boolean> {
    if (this.components.log.head(event.origin) !== event.seq - 1) return false
    const { delivered } = await this.apply([event], via, undefined, { sync: true })
    return delivered.some(d => d.event.origin === event.origin && d.event.seq === event.seq)
  }

  /**
   * Applies checked events through the one queue; a gap behind them triggers a pull from `via`. `sync` fsyncs the
   * batch. Returns how many events were new here and what the append delivered.
   */
  private async apply (events: ShoalEvent[], via: string | undefined, viaOf: (e: ShoalEvent) => string | undefined = () => via, opts: { sync?: boolean, early?: boolean } = {}): Promise<{ added: number, delivered: Delivered[] }> {
    const applied = await this.queue.run(async () => {
      const startedAt = this.components.clock.now()
      let announced: Delivered[] | undefined
      const early = opts.early === true ? (delivered: Delivered[]) => { announced = this.deliverEarly(delivered) ? delivered : undefined; return announced !== undefined } : undefined
      // The log calls `early` before `attach`: the stages know whether these deliveries were handed on.
      const attach = async (delivered: Delivered[]): Promise<Attachment | undefined> => await this.attach(delivered, announced !== undefined)
      let result: AppendResult
      try {
        result = await this.components.log.append(events, { attach, sync: opts.sync === true, ...(early !== undefined ? { early } : {}) })
      } catch (err) {
        // What was handed on early is not in the log: a subscriber reading from further back must not get it.
        if (announced !== undefined) this.recent.dropAfter(announced[0]!.lsn - 1)
        throw err
      }
      this.traceApplied(result.added, startedAt, viaOf)
      this.counts.received += result.added.length
      this.counts.duplicates += result.duplicates
      for (const c of result.conflicts) {
        this.rejected.set('equivocation', (this.rejected.get('equivocation') ?? 0) + 1)
        this.log.warn({ origin: c.origin, seq: c.seq }, 'two different events with one (origin, seq): kept the first')
      }
      for (const e of result.added) {
        if (e.seq > (this.maxSeen.get(e.origin) ?? 0)) this.maxSeen.set(e.origin, e.seq)
        // Past events only: the local wall clock is taken in when this node stamps (now), not on receive, so a
        // wall clock that ran fast while writes were refused leaves nothing behind in the HLC.
        this.components.hlc.observe(e.hlc)
      }
      this.afterAppend(result.delivered, announced !== undefined)
      return { added: result.added.length, delivered: result.delivered }
    })
    if (via !== undefined) this.noteGaps(events, via)
    return applied
  }

  /** Events from `via` that are still above their origin's head leave a gap behind them: pull it from `via`. */
  private noteGaps (events: ShoalEvent[], via: string): void {
    if (via === this.self) return
    for (const origin of new Set(events.map(e => e.origin))) {
      if (events.some(e => e.origin === origin && e.seq > this.components.log.head(origin))) this.pullGapSoon(via, origin)
    }
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
  private traceApplied (added: ShoalEvent[], startTime: number, viaOf: (e: ShoalEvent) => string | undefined): void {
    for (const e of added) {
      const via = viaOf(e)
      const attributes = { 'shoal.origin': e.origin, 'shoal.seq': e.seq, 'shoal.topic': e.topic, ...(via !== undefined ? { 'shoal.via': via } : {}) }
      this.tracing.start('events.apply', { parent: e.trace, attributes, startTime }).end()
      if (e.trace !== undefined) this.log.debug({ origin: e.origin, seq: e.seq, topic: e.topic, traceId: traceIdOf(e.trace) }, 'applied a traced event')
    }
  }

  /**
   * Early delivery (docs/protocols/events.md, "Local log"): gossiped events go to live subscribers as soon as
   * their LSNs are set, while their append is still being written, instead of a LevelDB round trip later; the
   * delivery stages (the KV replica's watchers) may then hand on theirs early too. Not for this node's own events
   * (delivered once durable). True when handed on.
   */
  private deliverEarly (delivered: Delivered[]): boolean {
    // A subscriber that publishes on being told must publish above what it was told of.
    for (const d of delivered) this.components.hlc.observe(d.event.hlc)
    this.recent.add(delivered)
    this.deliveries.wake()
    return true
  }

  /** After an append: announces what it delivered (to subscribers too, unless `early` already did). */
  private afterAppend (delivered: Delivered[], early = false): void {
    for (const d of delivered) this.components.events.emit('event:delivered', d)
    if (early) return
    this.recent.add(delivered)
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
