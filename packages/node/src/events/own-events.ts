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
 */
import { InvalidInputError, classifyEvent, EVENT_WIRE_VERSION } from '@shoal/core'
import type { Clock, HybridClock, ShoalEvent } from '@shoal/core'
import type { PrivateKey } from '@libp2p/interface'
import type { AppendResult, Attachment, Delivered, EventLog } from '@shoal/store'
import { signEvent } from './signing.js'
import { encodedEventLimit } from './event-types.js'
import type { SerialQueue } from '../tasks.js'
import type { SeqReservation } from './seq-reservation.js'

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

export class OwnEvents {
  private readonly outbox: Pending[] = []
  private draining = false
  private scheduled = false

  constructor (private readonly components: OwnEventsComponents, private readonly init: OwnEventsInit) {}

  /** Resolves once the event (and what it changes in the KV replica) is fsync'd; it is gossiped right after. */
  async publish (topic: string, data: string, opts: { type: string, trace?: string | undefined }): Promise<OwnEvent> {
    return await new Promise<OwnEvent>((resolve, reject) => {
      this.outbox.push({ topic, data, type: opts.type, trace: opts.trace, resolve, reject })
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

  private async drain (): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.outbox.length > 0) {
        const group = this.outbox.splice(0, MAX_OWN_GROUP)
        await this.components.writes.run(async () => { await this.commit(group) })
      }
    } finally {
      this.draining = false
    }
  }

  /** Stamps, signs and writes one group; each item resolves or rejects on its own. */
  private async commit (group: Pending[]): Promise<void> {
    const { log, hlc, clock } = this.components
    try {
      this.init.guard()
    } catch (err) {
      for (const item of group) item.reject(err)
      return
    }
    const self = this.init.self
    // Above everything of ours this node holds: after a lost log, repair may have brought back later seqs.
    let seq = Math.max(log.head(self), log.maxSeen(self))
    try {
      await this.components.reservation?.cover(seq + group.length)
    } catch (err) {
      for (const item of group) item.reject(err)
      return
    }
    const events: ShoalEvent[] = []
    const items: Pending[] = []
    for (const item of group) {
      try {
        const { wall, logical } = hlc.now(clock.now())
        const event = await signEvent({ v: EVENT_WIRE_VERSION, type: item.type, topic: item.topic, origin: self, seq: seq + 1, hlc: { wall, logical }, ...(item.trace !== undefined ? { trace: item.trace } : {}), data: item.data }, this.components.privateKey)
        this.check(event)
        seq++
        events.push(event)
        items.push(item)
      } catch (err) {
        item.reject(err)
      }
    }
    if (events.length === 0) return
    let appended: AppendResult
    try {
      appended = await log.append(events, { sync: true, attach: this.init.attach })
    } catch (err) {
      for (const item of items) item.reject(err)
      return
    }
    const lsns = new Map(appended.delivered.filter(d => d.event.origin === self).map(d => [d.event.seq, d.lsn]))
    this.init.committed(appended, events)
    events.forEach((event, i) => { items[i]!.resolve({ event, lsn: lsns.get(event.seq) ?? log.lastLsn() }) })
  }

  /** What gossip would refuse is refused here, before it is stored. */
  private check (event: ShoalEvent): void {
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
