/**
 * The one write path for this node's own events (docs/protocols/events.md, "Publishing"): group commit.
 * Everything published while the previous group was being written goes into the next group, which is stamped
 * (next seqs of this origin, HLC times), signed, and appended in ONE fsync'd batch together with what the
 * events change elsewhere (the KV replica, through the delivery stage), and only then gossiped.
 *
 * What this buys (issue "never lose an acknowledged write"):
 * - a seq is never reused after a machine crash: no event leaves the node before it is durable here;
 * - a write that fails (full disk) has no effect anywhere: nothing was gossiped and the batch is atomic;
 * - concurrent writers share one fsync (as in a database's group commit).
 * The next group is stamped and signed while the one before is being written (drain), so that CPU overlaps the
 * fsync; it is still written, acknowledged and gossiped only after the one before, and after its own fsync.
 */
import { InvalidInputError, classifyEvent, EVENT_WIRE_VERSION } from '@shoal/core'
import type { Clock, HybridClock, ShoalEvent } from '@shoal/core'
import type { PrivateKey } from '@libp2p/interface'
import type { AppendResult, Attachment, Delivered, EventLog } from '@shoal/store'
import { signEvent } from './signing.js'
import type { UnsignedEvent } from './signing.js'
import { encodedEventLimit } from './event-types.js'
import type { SerialQueue } from '../tasks.js'
import type { SeqReservation } from './seq-reservation.js'

/** An Ed25519 signature (64 bytes) as base64url: 86 characters. Events are Ed25519 only (verifyEvent refuses other origins). */
const SIGNATURE_STAND_IN = 'A'.repeat(86)

/**
 * Groups of at least this many events are signed on libuv's thread pool, all at once (measured on 2 cores: 64
 * writers gain about a sixth, while groups of 4 lose as much, a round trip to the pool costing more than the
 * signatures it moves off the main thread).
 */
const OFFLOAD_SIGNING_FROM = 16

/** Events stamped and written per group at most: bounds one batch's size and the latency it adds. */
export const MAX_OWN_GROUP = 512

export interface OwnEventsComponents {
  clock: Clock
  hlc: HybridClock
  log: EventLog
  privateKey: PrivateKey
  /** The node's one queue for store mutations (shared with the KV service). */
  writes: SerialQueue
  /** Seqs reserved on disk beside the log, so a lost log never leads to a reused seq; none in tests without a data dir. */
  reservation?: SeqReservation
}

export interface OwnEventsInit {
  self: string
  /** Payload limit of a topic, in bytes. */
  payloadLimit: (topic: string) => number
  /** Extra writes for what a group delivers (the KV replica's records), in the same batch. */
  attach: (delivered: Delivered[]) => Promise<Attachment | undefined>
  /** Throws when this node must not stamp new times now (its clock is too far from the swarm's). */
  guard: () => void
  /** After the batch is durable: the group's result, for the event service to announce and gossip. */
  committed: (appended: AppendResult, events: ShoalEvent[]) => void
}

export interface OwnEvent { event: ShoalEvent, lsn: number }

interface Pending { topic: string, data: string, type: string, trace?: string | undefined, resolve: (r: OwnEvent) => void, reject: (err: unknown) => void }

/** A group being stamped and signed ahead of its write: its events hold seqs `first`.. in order. */
interface Prepared { first: number, events: ShoalEvent[], items: Pending[] }

export class OwnEvents {
  private readonly outbox: Pending[] = []
  private draining = false
  private scheduled = false
  /** Wakes the drain loop while a group is being written, so it can stamp and sign what arrived meanwhile. */
  private arrived: (() => void) | undefined

  constructor (private readonly components: OwnEventsComponents, private readonly init: OwnEventsInit) {}

  /** Resolves once the event (and what it changes in the KV replica) is fsync'd; it is gossiped right after. */
  async publish (topic: string, data: string, opts: { type: string, trace?: string | undefined }): Promise<OwnEvent> {
    return await new Promise<OwnEvent>((resolve, reject) => {
      this.outbox.push({ topic, data, type: opts.type, trace: opts.trace, resolve, reject })
      if (this.arrived !== undefined) {
        this.arrived()
        return
      }
      // Start the group at the end of this turn of the event loop, not at once: concurrent writers whose previous
      // writes resolved together submit again in the same turn, and then share the next fsync.
      if (!this.draining && !this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.scheduled = false; void this.drain() })
      }
    })
  }

  /** Waits for everything published so far to be written. */
  async idle (): Promise<void> {
    while (this.draining || this.scheduled || this.outbox.length > 0) {
      await this.components.writes.idle()
      await new Promise(resolve => setImmediate(resolve))
    }
  }

  /**
   * Writes groups one after another. While one group's batch is being written (its KV merge reads, the batch
   * and the fsync: about half of a put's time, with the main thread idle), what arrives meanwhile is stamped and
   * signed as the next group, which is written as soon as the first is durable. Only the write of a group is
   * ordered after the previous one; nothing of a group is acknowledged or gossiped before its own batch is
   * durable. A group is prepared under the seqs that follow the group being written; if that write fails (or
   * repair brought back later seqs of ours) the group is stamped and signed again under the right seqs before
   * its write: it never left the node, so nothing was signed twice where anyone can see it.
   */
  private async drain (): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      let next: Prepared | undefined
      while (this.outbox.length > 0 || next !== undefined) {
        const group = next ?? await this.prepare(undefined, this.firstFreeSeq())
        next = undefined
        if (group === undefined) continue
        let written = false
        const writing = this.components.writes.run(async () => { await this.write(group) }).finally(() => { written = true })
        while (!written) {
          if (this.outbox.length > 0 && (next?.items.length ?? 0) < MAX_OWN_GROUP) {
            next = await this.prepare(next, group.first + group.events.length)
            continue
          }
          await Promise.race([writing, new Promise<void>(resolve => { this.arrived = resolve })])
          this.arrived = undefined
        }
        this.arrived = undefined
        // What arrived after the last stamping joins the prepared group (one fsync for all of it).
        if (next !== undefined && this.outbox.length > 0) next = await this.prepare(next, next.first)
      }
    } finally {
      this.arrived = undefined
      this.draining = false
    }
  }

  /** The seq after everything of ours this node holds: after a lost log, repair may have brought back later seqs. */
  private firstFreeSeq (): number {
    const self = this.init.self
    return Math.max(this.components.log.head(self), this.components.log.maxSeen(self)) + 1
  }

  /**
   * Stamps and signs `items` (by default what waits in the outbox, up to the group limit) onto `group` (a new one
   * starting at `first` when undefined), in order. An item that fails (an oversized event, the clock guard) is
   * rejected on its own and takes no seq. Undefined when nothing was added to a new group.
   */
  private async prepare (group: Prepared | undefined, first: number, items?: Pending[]): Promise<Prepared | undefined> {
    const into = group ?? { first, events: [], items: [] }
    const taken = items ?? this.outbox.splice(0, MAX_OWN_GROUP - into.items.length)
    try {
      this.init.guard()
      await this.components.reservation?.cover(into.first + into.events.length + taken.length - 1)
    } catch (err) {
      for (const item of taken) item.reject(err)
      return group
    }
    // Stamped in order (seqs and HLC times), then signed all at once (on the thread pool for a large group).
    const stamped: Array<{ item: Pending, event: UnsignedEvent }> = []
    for (const item of taken) {
      const event = this.stamp(item, into.first + into.events.length + stamped.length)
      try {
        this.check(event)
        stamped.push({ item, event })
      } catch (err) {
        item.reject(err)
      }
    }
    const { privateKey } = this.components
    const offload = stamped.length >= OFFLOAD_SIGNING_FROM
    const signed = await Promise.allSettled(stamped.map(async s => await signEvent(s.event, privateKey, { offload })))
    const failed = signed.findIndex(result => result.status === 'rejected')
    const kept = failed === -1 ? signed.length : failed
    for (let i = 0; i < kept; i++) {
      into.events.push((signed[i] as PromiseFulfilledResult<ShoalEvent>).value)
      into.items.push(stamped[i]!.item)
    }
    if (failed !== -1) {
      // A failed signature takes no seq: what was stamped after it is stamped again under the seqs that follow.
      stamped[failed]!.item.reject((signed[failed] as PromiseRejectedResult).reason)
      const rest = stamped.slice(failed + 1).map(s => s.item)
      if (rest.length > 0) return await this.prepare(into.events.length > 0 ? into : group, first, rest)
    }
    return into.events.length > 0 ? into : group
  }

  /** The event of `item` under `seq`, with the next HLC time of this node; not signed yet. */
  private stamp (item: Pending, seq: number): UnsignedEvent {
    const { wall, logical } = this.components.hlc.now(this.components.clock.now())
    return { v: EVENT_WIRE_VERSION, type: item.type, topic: item.topic, origin: this.init.self, seq, hlc: { wall, logical }, ...(item.trace !== undefined ? { trace: item.trace } : {}), data: item.data }
  }

  /** Writes one prepared group in one fsync'd batch (inside the writes queue); each item resolves or rejects on its own. */
  private async write (prepared: Prepared): Promise<void> {
    const { log } = this.components
    let group = prepared
    if (group.first !== this.firstFreeSeq()) {
      // The group before failed, or repair brought back later seqs of ours: stamp and sign again, in order.
      const again = await this.prepare(undefined, this.firstFreeSeq(), group.items)
      if (again === undefined) return
      group = again
    }
    const { events, items } = group
    let appended: AppendResult
    try {
      appended = await log.append(events, { sync: true, attach: this.init.attach })
    } catch (err) {
      for (const item of items) item.reject(err)
      return
    }
    const lsns = new Map(appended.delivered.filter(d => d.event.origin === this.init.self).map(d => [d.event.seq, d.lsn]))
    this.init.committed(appended, events)
    events.forEach((event, i) => { items[i]!.resolve({ event, lsn: lsns.get(event.seq) ?? log.lastLsn() }) })
  }

  /**
   * What gossip would refuse is refused here, before it is signed and stored. Checked with a stand-in signature of
   * the length every Ed25519 signature has, so the encoded size is the one the signed event will have.
   */
  private check (unsigned: UnsignedEvent): void {
    const event: ShoalEvent = { ...unsigned, sig: SIGNATURE_STAND_IN }
    const limit = this.init.payloadLimit(event.topic)
    const checked = classifyEvent(event, { maxPayloadBytes: limit })
    if (!checked.ok) throw new InvalidInputError(`event refused (${checked.reason}): ${checked.detail}`, { field: checked.reason === 'oversized' ? 'data' : 'event', reason: checked.reason })
    // Escaping can grow a payload when encoded.
    const encoded = Buffer.byteLength(JSON.stringify(event))
    if (encoded > encodedEventLimit(limit)) {
      throw new InvalidInputError(`event refused: ${encoded} bytes once encoded (too much escaping); send less or plainer data`, { field: 'data', reason: 'oversized' })
    }
  }
}
