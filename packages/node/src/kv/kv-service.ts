/**
 * The replicated key-value store (docs/protocols/kv.md): writes are signed events on topic `kv`; every record
 * is the event that won (last writer wins by HLC and origin). Records reach this replica from the event path,
 * from anti-entropy (kv-sync.ts) and from writers pushing for acknowledgements; all of them are merged through
 * one queue that updates the record, the Merkle tree and the change log in one LevelDB batch.
 */
import {
  KV_EVENT_TYPES, KV_TOPIC, NotFoundError, TimeoutError, InvalidInputError, ShoalError, constants,
  kvEventData, validateKey, validateValue, sample
} from '@shoal/core'
import type { Clock, HybridClock, KvConfig, KvLimits, KvRecord, Logger, Rng, ShoalEvent } from '@shoal/core'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Attachment, Delivered, KvRepository, KvWritten, StoredKvRecord } from '@shoal/store'
import type { EventBus } from '../events.js'
import type { EventService } from '../events/event-service.js'
import type { ShoalLibp2p } from '../libp2p.js'
import type { MembershipService } from '../membership-service.js'
import type { SwarmProtocols } from '../protocols.js'
import { handleRequests, unhandleRequests } from '../frames.js'
import { KvSync } from './kv-sync.js'
import { KvTree } from './kv-tree.js'
import { KvExports } from './kv-exports.js'
import type { KvStats, WriteOptions, WriteResult } from './kv-types.js'
import { replicationLagMs, requiredAcks } from './kv-types.js'
import { mergeInto, purgeTombstones } from './kv-merge.js'
import type { MergedChange } from './kv-merge.js'
import { RepeatingTasks } from '../tasks.js'
import type { SerialQueue } from '../tasks.js'
import { noopTracing } from '../tracing.js'
import type { Tracing } from '../tracing.js'
import { connectedFirst } from '../neighbours.js'
import { KvWatchFeed } from './kv-watch.js'
import type { WatchedChange } from './kv-watch.js'

export type { Acks, KvStats, WriteOptions, WriteResult } from './kv-types.js'

/** Keys under this prefix belong to Shoal itself (jobs); user writes there are refused. */
export const SYSTEM_PREFIX = '_shoal/'

export interface KvServiceComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  rng: Rng
  logger: Logger
  events: EventBus
  eventService: EventService
  membership: MembershipService
  repo: KvRepository
  /** The node's hybrid clock: every version this replica stores moves it, so a later write here wins. */
  hlc: HybridClock
  /** The node's one queue for store mutations, shared with the event service. */
  writes: SerialQueue
  /**
   * Peers this node knew before its last restart (discovery's memory on disk), seen within `rememberMs`: they
   * count toward `quorum` until the view has them again. None without.
   */
  rememberedPeers?: () => Promise<Array<{ peerId: string, lastSeen: number }>>
  /** Spans `kv.put`, `kv.delete` and `kv.anti-entropy`; none without. */
  tracing?: Tracing
}

export interface KvServiceInit {
  protocols: SwarmProtocols
  config: KvConfig
  /** How long a remembered peer counts toward `quorum` after it was last seen (membership.deadMemberRetentionMs). */
  rememberMs?: number
}

/** Submissions merged into one LevelDB batch at most; bounds one batch's size and latency. */
const MAX_GROUP_COMMIT = 256
/** mergedOnDelivery's margin inside the tombstone horizon: the delivery stage computes the horizon a moment later. */
const HORIZON_MARGIN_MS = 60_000

interface PendingApply { events: ShoalEvent[], opts: { lsn?: number, sync?: boolean }, resolve: (changed: number) => void, reject: (err: unknown) => void }

export class KvService {
  readonly limits: KvLimits
  private readonly log: Logger
  private readonly self: string
  private readonly tree: KvTree
  private readonly incoming: PendingApply[] = []
  private draining = false
  private tasks!: RepeatingTasks
  private stopWatchingMembers = (): void => {}
  private readonly controller = new AbortController()
  private running = false
  private rejected = 0
  private appliedLsn = 0
  /** What `kv.watch` readers see, and the early changes reads wait for. */
  private readonly feed: KvWatchFeed
  private readonly ops = new Map<string, number>()
  readonly sync: KvSync
  /** Point-in-time exports open across RPC calls (kv.export, `shoal backup`). */
  readonly exports: KvExports
  /** Peers known before the last restart (see knownMembers). */
  private readonly remembered = new Set<string>()

  constructor (private readonly components: KvServiceComponents, private readonly init: KvServiceInit) {
    this.log = components.logger.child({ component: 'shoal:node:kv' })
    this.self = components.libp2p.peerId.toString()
    this.limits = { maxKeyBytes: init.config.maxKeyBytes, maxValueBytes: init.config.maxValueBytes }
    this.tree = new KvTree({ repo: components.repo, clock: components.clock, logger: this.log })
    this.sync = new KvSync({ ...components, logger: this.log, kv: this }, { protocol: init.protocols.kv, pushBackAfterMs: init.config.antiEntropyIntervalMs })
    this.feed = new KvWatchFeed(components.repo)
    this.exports = new KvExports({ clock: components.clock, snapshot: async () => await components.repo.snapshot() })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const { repo, eventService, libp2p } = this.components
    await this.tree.start()
    const now = this.components.clock.now()
    for (const p of await this.components.rememberedPeers?.().catch(() => []) ?? []) {
      if (p.peerId !== this.self && now - p.lastSeen < (this.init.rememberMs ?? 3_600_000)) this.remembered.add(p.peerId)
    }
    this.appliedLsn = repo.stats().appliedLsn
    // Every kv event is merged in the same batch that delivers it (one write path: own writes, gossip, repair).
    eventService.reserveTopic(KV_TOPIC)
    eventService.addDeliveryStage(async (delivered, opts) => await this.stageDelivered(delivered, opts))
    // A store written before deliveries and merges shared one batch may have delivered events not yet merged.
    for (let since = this.appliedLsn; this.running && since < eventService.stats().lastLsn;) {
      const page = await eventService.list({ topic: KV_TOPIC, since, limit: constants.KV_SYNC_BATCH }).catch(() => undefined)
      if (page === undefined || page.events.length === 0) break
      for (const d of page.events) await this.applyEvents([d.event], { lsn: d.lsn })
      since = page.next
    }
    await handleRequests(libp2p, this.init.protocols.kv, async (msg, from) => await this.sync.answer(msg, from.toString()), {
      logger: this.log,
      timeoutMs: constants.DEFAULT_NETWORK_TIMEOUT_MS,
      maxBytes: constants.MAX_FRAME_BYTES
    })
    this.sync.start()
    // A member back from suspect or dead (a healed partition, a paused process resumed) may hold writes we missed
    // and lack ours: one round with it now rather than when a periodic round happens to pick it. Its connection
    // may have survived the partition, so the round on a new connection (identify) does not cover this. A member
    // with no link to us gets its round on the new connection instead.
    this.stopWatchingMembers = this.components.events.on('member:changed', ({ member, previous }) => {
      // Only over a link we hold: with a bounded degree the member's own neighbours repair it, and a swarm whose
      // members flap would otherwise dial across the whole view on every refutation.
      if (member.state === 'alive' && (previous === 'suspect' || previous === 'dead') && member.id !== this.self &&
        this.components.libp2p.getConnections(peerIdFromString(member.id)).length > 0) void this.sync.round(member.id)
    })
    this.tasks = new RepeatingTasks(this.components.clock, this.log)
    this.tasks.every(this.init.config.antiEntropyIntervalMs, async () => {
      const [peer] = sample(this.syncCandidates(), 1, this.components.rng)
      if (peer !== undefined) await this.sync.round(peer)
    })
    this.tasks.every(Math.min(this.init.config.tombstoneHorizonMs, 3_600_000), async () => { await this.collectTombstones() })
    this.tasks.every(this.init.config.compactIntervalMs, async () => { await this.components.writes.run(async () => await this.components.repo.compactChanges(this.init.config.changesRetention)) })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.tasks.stop()
    this.stopWatchingMembers()
    this.tree.stop()
    this.controller.abort()
    this.sync.stop()
    this.feed.stop()
    await this.exports.stop()
    await unhandleRequests(this.components.libp2p, this.init.protocols.kv)
    await this.components.writes.idle()
  }

  get signal (): AbortSignal {
    return this.controller.signal
  }

  /** The Merkle root as last computed (stats); `freshTree()` first for one that covers every write so far. */
  root (): string {
    return this.tree.root()
  }

  /** True when the replica surely holds no record of `key` (KvTree.absent: exact, from the Merkle leaf cache). */
  absent (key: string): boolean {
    return this.tree.absent(key)
  }

  treeChildren (id: string): Array<{ id: string, hash: string }> {
    return this.tree.children(id)
  }

  /**
   * Recomputes the leaves written since the last call (one range read of the leaf index each) and their
   * paths, so that root() and treeChildren() cover every write committed before this call.
   */
  async freshTree (): Promise<void> {
    await this.tree.fresh()
  }


  async put (key: string, value: unknown, opts: WriteOptions = {}): Promise<WriteResult> {
    return await this.counted('put', async () => {
      this.checkKey(key, opts)
      validateValue(value, this.limits.maxValueBytes, 'value')
      return await this.write(KV_EVENT_TYPES.put, key, value, opts)
    })
  }

  async delete (key: string, opts: WriteOptions = {}): Promise<WriteResult> {
    return await this.counted('delete', async () => {
      this.checkKey(key, opts)
      return await this.write(KV_EVENT_TYPES.del, key, undefined, opts)
    })
  }

  async get (key: string): Promise<KvRecord> {
    return await this.counted('get', async () => {
      validateKey(key, this.limits.maxKeyBytes, 'key')
      await this.feed.landed(k => k === key)
      const record = await this.components.repo.get(key)
      if (record === undefined || record.tombstone) throw new NotFoundError(`no key ${JSON.stringify(key)}`, { key })
      return record as KvRecord
    })
  }

  /** Operations since start, keyed `${op} ${outcome}`: outcome is 'ok' or the error's code (for metrics). */
  operations (): ReadonlyMap<string, number> {
    return this.ops
  }

  private async counted<T> (op: string, work: () => Promise<T>): Promise<T> {
    let outcome = 'ok'
    try {
      return await work()
    } catch (err) {
      outcome = err instanceof ShoalError ? err.code : 'ERR_INTERNAL'
      throw err
    } finally {
      this.ops.set(`${op} ${outcome}`, (this.ops.get(`${op} ${outcome}`) ?? 0) + 1)
    }
  }

  /** The record under `key`, tombstone or not; undefined if never written (for Shoal's own readers). */
  async record (key: string): Promise<KvRecord | undefined> {
    return await this.components.repo.get(key) as KvRecord | undefined
  }

  private checkKey (key: string, opts: WriteOptions): void {
    validateKey(key, this.limits.maxKeyBytes, 'key')
    if (opts.system !== true && key.startsWith(SYSTEM_PREFIX)) {
      throw new InvalidInputError(`keys under ${SYSTEM_PREFIX} are reserved for Shoal's own records`, { field: 'key' })
    }
  }

  async list (opts: { prefix?: string, cursor?: string, limit: number }): Promise<{ records: KvRecord[], next?: string }> {
    await this.feed.landed(k => k.startsWith(opts.prefix ?? ''))
    const page = await this.components.repo.list({ prefix: opts.prefix, after: opts.cursor, limit: opts.limit })
    return { records: page.records as KvRecord[], ...(page.next !== undefined ? { next: page.next } : {}) }
  }

  /** Changes after `since` (a local change number), then each new one, until `signal` aborts; see KvWatchFeed. */
  watch (opts: { prefix?: string, since?: number }, signal: AbortSignal): AsyncGenerator<WatchedChange> {
    return this.feed.watch(opts, signal)
  }

  stats (): KvStats {
    const s = this.components.repo.stats()
    const peers = this.sync.peerStatus()
    const lagMs = replicationLagMs(this.livePeers(), peers, this.components.clock.now())
    return { keys: s.keys, tombstones: s.tombstones, bytes: s.bytes, root: this.tree.root(), lastChange: s.lastChange, appliedLsn: s.appliedLsn, rejected: this.rejected, ...(lagMs !== undefined ? { lagMs } : {}), traffic: this.sync.traffic(), peers }
  }

  /**
   * Merges signed events that came from outside the swarm (an import; their signatures already checked) with
   * fsync, and, when any changed the replica, asks every live member to pull from us (`pull`, docs/protocols/kv.md)
   * rather than wait for periodic rounds: gossip never carries these. Returns how many changed the replica.
   */
  async importEvents (events: ShoalEvent[]): Promise<number> {
    const changed = await this.applyEvents(events, { sync: true })
    if (changed > 0) void this.sync.invitePulls()
    return changed
  }

  /**
   * Merges records into the replica through the one queue. Returns how many changed it. `lsn` marks the event
   * log position they came from (for replay after a restart); `sync` fsyncs the batch (acknowledged writes).
   */
  async applyEvents (events: ShoalEvent[], opts: { lsn?: number, sync?: boolean } = {}): Promise<number> {
    return await new Promise<number>((resolve, reject) => {
      this.incoming.push({ events, opts, resolve, reject })
      void this.drain()
    })
  }

  /**
   * Group commit: everything that arrived while the previous batch was being written goes into the next
   * batch, with one fsync if any part of it asked for one. Concurrent writers then share the disk's sync.
   */
  private async drain (): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.incoming.length > 0) {
        const group = this.incoming.splice(0, MAX_GROUP_COMMIT)
        await this.components.writes.run(async () => {
          try {
            const counts = await this.applyGroup(group)
            group.forEach((item, i) => { item.resolve(counts[i]!) })
          } catch (err) {
            for (const item of group) item.reject(err)
          }
        })
      }
    } finally {
      this.draining = false
    }
  }

  /** Merges a group of submissions in order; one LevelDB batch. Returns how many records each changed. */
  private async applyGroup (group: PendingApply[]): Promise<number[]> {
    const changes: MergedChange[] = []
    const pending = new Map<string, StoredKvRecord | undefined>()
    const counts: number[] = []
    let sync = false
    let lsn = this.appliedLsn
    let written: KvWritten[] = []
    for (const { events, opts } of group) {
      sync ||= opts.sync === true
      if (opts.lsn !== undefined) lsn = Math.max(lsn, opts.lsn)
      counts.push(await mergeInto(changes, pending, events, this.mergeContext(this.components.clock.now() - this.init.config.tombstoneHorizonMs, false)))
    }
    // A synced write also runs when nothing changed: the record may have arrived a moment ago by the event
    // path without an fsync, and a synced LevelDB write makes everything before it durable too.
    if (changes.length > 0 || sync || lsn > this.appliedLsn) {
      written = await this.components.repo.write(changes, { sync, appliedLsn: lsn })
    }
    this.markApplied(lsn)
    this.changed(changes, written)
    return counts
  }

  /**
   * After a batch with these changes is on disk (`written`: the change numbers the repository gave them, same
   * order): the clock passes them, watchers (unless `announced` told them already) and the bus hear of them.
   */
  private changed (changes: MergedChange[], written: KvWritten[], announced = false): void {
    if (changes.length === 0) return
    if (!announced) this.feed.told(changes, written)
    this.tree.changed(changes.map(c => c.record))
    for (const c of changes) {
      this.components.hlc.observe(c.record.version)
      this.components.events.emit('kv:changed', { key: c.record.key, version: c.record.version, tombstone: c.record.tombstone, ...(c.record.tombstone ? {} : { value: c.record.value }) })
    }
  }

  /**
   * The KV part of a batch that delivers events (the event service's DeliveryStage): merges the `kv` events
   * among `delivered` and returns their writes, to land atomically with the delivery. Events older than the
   * tombstone horizon are not merged from the event path (a delete of that key may have been collected; if the
   * put is still the winner somewhere, anti-entropy brings it). Runs inside the write queue.
   *
   * Early changes (`early`: gossiped events, already handed to event subscribers): watchers get the merged
   * changes now, while the batch is being written, and `get`/`list` of those keys wait for it to land, so a
   * watcher's next read still returns what it was told of. If the batch fails, the changes are forgotten and
   * their numbers stay unused (the repository's `abandon`); the records come back by repair, under new numbers.
   */
  private async stageDelivered (delivered: Delivered[], opts: { early: boolean }): Promise<Attachment | undefined> {
    const kvEvents = delivered.filter(d => d.event.topic === KV_TOPIC)
    if (kvEvents.length === 0) return undefined
    const changes: MergedChange[] = []
    const horizon = this.components.clock.now() - this.init.config.tombstoneHorizonMs
    await mergeInto(changes, new Map(), kvEvents.map(d => d.event), this.mergeContext(horizon, true))
    const lsn = Math.max(this.appliedLsn, ...kvEvents.map(d => d.lsn))
    // A watcher that writes on being told writes above what it was told of (LWW by HLC): the event service has
    // observed these events' HLC times before it handed them on early, which `early` says it did.
    const tell = opts.early && changes.length > 0 && changes.length <= this.components.repo.earlyRoom()
    const staged = this.components.repo.stage(changes, { appliedLsn: lsn })
    const landing = tell ? this.feed.announce(changes, staged.written) : undefined
    return {
      ops: staged.ops,
      commit: () => {
        try {
          staged.commit()
          this.markApplied(lsn)
          this.changed(changes, staged.written, landing !== undefined)
        } finally {
          landing?.settle()
        }
      },
      rollback: () => {
        if (landing === undefined) return
        staged.abandon()
        landing.forget()
        landing.settle()
      }
    }
  }

  /**
   * Whether the delivery stage merges `event` when the event log delivers it: a kv event dated within the
   * tombstone horizon (with a minute to spare). Older ones are merged by applyEvents only (stageDelivered).
   */
  mergedOnDelivery (event: ShoalEvent): boolean {
    return event.topic === KV_TOPIC && event.hlc.wall >= this.components.clock.now() - this.init.config.tombstoneHorizonMs + HORIZON_MARGIN_MS
  }

  private mergeContext (horizon: number, eventPath: boolean): Parameters<typeof mergeInto>[3] {
    return {
      repo: this.components.repo,
      limits: this.limits,
      horizon,
      eventPath,
      absent: key => this.absent(key),
      rejected: (event, err) => {
        this.rejected++
        this.log.debug({ origin: event.origin, seq: event.seq, err: err.message }, 'not a valid kv event')
      }
    }
  }

  /** One write as a `kv.put` / `kv.delete` span; its event carries the span's context (`opts.trace` is the parent). */
  private async write (type: string, key: string, value: unknown, opts: WriteOptions): Promise<WriteResult> {
    const name = type === KV_EVENT_TYPES.put ? 'kv.put' : 'kv.delete'
    return await (this.components.tracing ?? noopTracing).run(name, { parent: opts.trace, attributes: { 'shoal.key': key } }, async span => {
      const required = requiredAcks(opts.acks ?? 1, this.knownMembers())
      // One fsync'd batch holds the event and the merged record (own-events.ts); gossip follows it.
      const { event } = await this.components.eventService.publish(KV_TOPIC, kvEventData(key, value, this.limits), { type, trace: span.traceparent, internal: true })
      const version = { ...event.hlc, node: this.self }
      if (required <= 1) return { key, version, acked: 1, required }
      const live = this.livePeers().length
      const timeoutMs = opts.timeoutMs ?? this.init.config.ackTimeoutMs
      const acked = 1 + await this.sync.pushForAcks(event, required - 1, timeoutMs, opts.signal)
      span.setAttributes({ 'shoal.acked': acked, 'shoal.required': required })
      if (acked < required) {
        // Too few live peers to ask is not a slow network: say so rather than "in time" (it answers at once).
        const why = 1 + live < required
          ? `this node sees ${live} live peer${live === 1 ? '' : 's'}, so at most ${1 + live} of the ${required} required nodes can hold it`
          : `only ${acked} of the ${required} required nodes acknowledged it within ${timeoutMs} ms`
        throw new TimeoutError(`${why}; the write stays here and replicates as peers join or answer`, { acked, required, key })
      }
      return { key, version, acked, required }
    })
  }

  private async collectTombstones (): Promise<void> {
    const horizon = this.components.clock.now() - this.init.config.tombstoneHorizonMs
    const purged = await this.components.writes.run(async () => await purgeTombstones(this.components.repo, horizon))
    this.tree.changed([], purged)
    if (purged.length > 0) this.log.info({ purged: purged.length }, 'collected tombstones past the horizon')
  }

  /**
   * Members of the last known view that have not left, self included (the base of `quorum` and `all`). The view
   * lives in memory, so peers remembered on disk from before a restart count too until the view has them again:
   * a node that just restarted must not take itself for a swarm of one (invariant 7).
   */
  knownMembers (): number {
    const ids = new Set([this.self])
    const left = new Set<string>()
    for (const m of this.components.membership.members()) {
      if (m.state === 'left') left.add(m.id)
      else ids.add(m.id)
    }
    for (const id of this.remembered) if (!left.has(id)) ids.add(id)
    return ids.size
  }

  /**
   * One anti-entropy round with `peer` now (the periodic rounds pick a peer at random): pulls what is newer
   * there, and the peer pulls back what is newer here. Never throws; see stats().peers for the outcome.
   */
  async syncWith (peer: string): Promise<void> {
    await this.sync.round(peer)
  }

  /**
   * Whom a periodic round may pick: the live members we hold a connection to, or every live member when we hold
   * none. A member killed a moment ago stays alive in the membership until SWIM suspects it, but its
   * connections close at once; a round spent on it would delay repair by a whole interval.
   */
  private syncCandidates (): string[] {
    return connectedFirst(this.livePeers(), this.components.libp2p)
  }

  livePeers (): string[] {
    return this.components.membership.members().filter(m => m.state === 'alive' && m.id !== this.self).map(m => m.id)
  }

  private markApplied (lsn: number): void {
    if (lsn > this.appliedLsn) this.appliedLsn = lsn
  }
}
