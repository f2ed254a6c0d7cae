/**
 * The local event log (docs/protocols/events.md, "Local log"): held events, per-origin heads, and the delivery log
 * that numbers events with local sequence numbers (LSNs) as each origin's contiguous prefix grows. The only writer
 * of the events, event-heads, event-lsn and event-topic buckets. Every mutation runs through one queue and writes
 * one atomic batch, so concurrent callers never interleave and a crash never leaves an event without its indexes.
 */
import { BUCKETS, CLOSED_AT_LSN_KEY, COMPACTED_LSN_KEY, NEXT_LSN_KEY } from './buckets.js'
import type { BatchOp, BucketHandle, Store } from './store.js'
import {
  checkEvent, checkOrigin, checkSeq, eventKey, isCounter, isDecodeError, isHead, isLsnEntry, isStoredEvent, pad, sameEvent, seqOf, topicKey
} from './event-records.js'
import type { Delivered, EventHead, LsnEntry, StoredEvent, TopicEntry } from './event-records.js'
import { readList, readRange } from './event-reads.js'
import type { ListOptions, ListResult, RangeResult } from './event-reads.js'

/** Events removed per compaction batch (three deletes each): bounds one write, and lets appends run in between. */
export const COMPACT_BATCH_EVENTS = 1000

/**
 * LSNs announced early (DeliverOptions.early) stay below the next LSN on disk plus this many: a mutation is
 * announced only if its LSNs fit, counting those that failed batches left unused since the last batch that
 * landed. An open after a stop without close() therefore resumes this far above the next LSN on disk, and an LSN a
 * subscriber was given is never given to another event, however many batches failed before the process died.
 */
export const EARLY_DELIVERY_MAX = 1024

export interface AppendResult {
  /** Newly stored (delivered now or held until their gap fills). */
  added: StoredEvent[]
  /** Already held (same sig and data) or below the origin's compactedBelow. */
  duplicates: number
  /** A different event under an (origin, seq) already held: refused, not stored ('equivocation'). */
  conflicts: StoredEvent[]
  /** What became contiguous, in LSN order. */
  delivered: Delivered[]
}

export interface CompactOptions { now: number, maxAgeMs: number, maxEvents: number }

/**
 * Writes another repository adds to an event-log mutation, so that what the delivered events change elsewhere
 * (the KV replica) lands in the same atomic batch: both or neither. `commit` runs only after the batch is on
 * disk; `rollback` (if given) when it failed.
 */
export interface Attachment { ops: BatchOp[], commit: () => void, rollback?: () => void }

/** Options of a mutation that delivers events. */
export interface DeliverOptions {
  /** fsync the batch before resolving (a node's own events: durable before they are gossiped). */
  sync?: boolean
  /** Called with what this mutation delivers, before the batch is written; its ops join the batch. */
  attach?: (delivered: Delivered[]) => Promise<Attachment | undefined> | Attachment | undefined
  /**
   * Early delivery: called with what this mutation delivers as soon as that is known, before `attach` and before
   * the batch is written (not called for none, nor when its LSNs do not fit: see EARLY_DELIVERY_MAX). Returning true says the
   * caller handed them on (to live subscribers): their LSNs are then never given to other events, even when the
   * batch fails (they stay unused) or the process dies before it lands (see EARLY_DELIVERY_MAX). The events are
   * in the log, and in `list`, only once the append resolves.
   */
  early?: (delivered: Delivered[]) => boolean
}

export interface EventLogStats { events: number, origins: number, lastLsn: number, compactedLsn: number }

/** The writes of one mutation, built up before anything in memory changes. */
interface Step { ops: BatchOp[], heads: Map<string, EventHead>, delivered: Delivered[], nextLsn: number }

export class EventLog {
  private readonly store: Store
  private readonly events: BucketHandle<StoredEvent | null>
  private readonly lsnIndex: BucketHandle<LsnEntry>
  private readonly topicIndex: BucketHandle<TopicEntry>
  private readonly headsByOrigin = new Map<string, EventHead>()
  private nextLsn = 1
  /** The next LSN as the disk records it (where an open after a crash starts, before the margin). */
  private writtenLsn = 1
  private compactedLsn = 0
  /** Delivered events still held (= entries of event-lsn). */
  private count = 0
  private tail: Promise<unknown> = Promise.resolve()

  private constructor (store: Store) {
    this.store = store
    this.events = store.bucket(BUCKETS.events)
    this.lsnIndex = store.bucket(BUCKETS.eventLsn)
    this.topicIndex = store.bucket(BUCKETS.eventTopic)
  }

  /** Loads heads and counters; from then on they are served from memory. */
  static async open (store: Store): Promise<EventLog> {
    const log = new EventLog(store)
    await log.load()
    return log
  }

  private async load (): Promise<void> {
    for await (const [origin, head] of this.store.bucket<unknown>(BUCKETS.eventHeads).entries()) {
      if (isHead(head)) this.headsByOrigin.set(origin, { contiguous: head.contiguous, compactedBelow: head.compactedBelow, maxSeen: isCounter(head.maxSeen) ? head.maxSeen : Number.MAX_SAFE_INTEGER })
    }
    const meta = this.store.bucket<unknown>(BUCKETS.meta)
    const next = await meta.get(NEXT_LSN_KEY)
    const compacted = await meta.get(COMPACTED_LSN_KEY)
    const closedAt = await meta.get(CLOSED_AT_LSN_KEY)
    this.compactedLsn = isCounter(compacted) ? compacted : 0
    let last = 0
    for await (const key of this.lsnIndex.keys({ reverse: true, limit: 1 })) last = Number(key)
    // The counter is written with every delivery; the index and compactedLsn only guard against a damaged counter.
    const resumed = Math.max(isCounter(next) ? next : 1, last + 1, this.compactedLsn + 1)
    // After close() the LSNs continue where it left them (above LSNs a failed batch left unused); after a stop
    // without it (a crash), LSNs announced early for a batch that never landed are skipped.
    if (isCounter(closedAt) && closedAt >= resumed) this.nextLsn = closedAt
    else this.nextLsn = this.store.created ? resumed : resumed + EARLY_DELIVERY_MAX
    this.writtenLsn = resumed
    // From now on a stop without close() must be noticed again; fsync'd, so that a machine crash cannot bring the
    // marker back under LSNs this run announced.
    if (closedAt !== undefined) await this.store.batch([{ bucket: BUCKETS.meta, type: 'del', key: CLOSED_AT_LSN_KEY }], { sync: true })
    for await (const _ of this.lsnIndex.keys()) this.count++
  }

  /** Stores new events and delivers whatever became contiguous; all of one call is one batch. */
  async append (events: StoredEvent[], opts: DeliverOptions = {}): Promise<AppendResult> {
    events.forEach(checkEvent)
    return await this.serial(async () => {
      const step = this.newStep()
      const pending = new Map<string, StoredEvent>()
      const touched = new Set<string>()
      const result: AppendResult = { added: [], duplicates: 0, conflicts: [], delivered: step.delivered }
      for (const event of events) {
        const head = step.heads.get(event.origin) ?? this.headOf(event.origin)
        if (event.seq < head.compactedBelow) { result.duplicates++; continue }
        const key = eventKey(event.origin, event.seq)
        // Beyond maxSeen nothing is held: the common, in-order case costs no read.
        const held = pending.get(key) ?? (event.seq <= (head.maxSeen ?? Number.MAX_SAFE_INTEGER) ? await this.heldEvent(event.origin, event.seq) : undefined)
        if (held !== undefined) {
          if (sameEvent(held, event)) result.duplicates++
          else result.conflicts.push(event)
          continue
        }
        pending.set(key, event)
        touched.add(event.origin)
        result.added.push(event)
        step.ops.push({ bucket: BUCKETS.events, type: 'put', key, value: event })
        if (event.seq > (head.maxSeen ?? 0)) step.heads.set(event.origin, { ...head, maxSeen: event.seq })
      }
      await this.advance(step, touched, pending)
      await this.commit(step, opts)
      return result
    })
  }

  /**
   * Records (fsync'd) that the log stopped here cleanly, after the mutations already queued: the next open then
   * continues at the same LSN. Without it the next open skips EARLY_DELIVERY_MAX LSNs. Call it last, before the
   * store closes; an append after it is still taken, and the next open then skips, as after a crash.
   */
  async close (): Promise<void> {
    await this.serial(async () => {
      await this.store.batch([{ bucket: BUCKETS.meta, type: 'put', key: CLOSED_AT_LSN_KEY, value: this.nextLsn }], { sync: true })
    })
  }

  /**
   * The repair peer says every seq below `seq` of `origin` is compacted: the gap is skipped and what is held beyond
   * it delivered. Held events inside the skipped gap are delivered first (they are real events, just not
   * contiguous) rather than dropped.
   */
  async skipTo (origin: string, seq: number, opts: DeliverOptions = {}): Promise<Delivered[]> {
    checkOrigin(origin)
    checkSeq(seq, 'skipTo seq')
    return await this.serial(async () => {
      const step = this.newStep()
      const before = this.headOf(origin)
      const head = { ...before }
      if (seq - 1 > head.contiguous) {
        for await (const [key, event] of this.events.entries({ gt: eventKey(origin, head.contiguous), lt: eventKey(origin, seq) })) {
          if (isStoredEvent(event, origin, seqOf(key, origin))) this.deliver(step, event)
        }
        head.contiguous = seq - 1
      }
      head.compactedBelow = Math.max(head.compactedBelow, seq)
      head.maxSeen = Math.max(head.maxSeen ?? 0, head.contiguous)
      if (head.contiguous !== before.contiguous || head.compactedBelow !== before.compactedBelow) step.heads.set(origin, head)
      await this.advance(step, [origin], new Map())
      await this.commit(step, opts)
      return step.delivered
    })
  }

  /**
   * Removes the oldest LSNs first while more than maxEvents are delivered or the event is older than maxAgeMs
   * (by its hlc.wall); stops at the first LSN that is neither. Held, not yet contiguous events are not touched.
   */
  async compact (opts: CompactOptions): Promise<{ removed: number }> {
    const cutoff = opts.now - opts.maxAgeMs
    let removed = 0
    for (;;) {
      const n = await this.serial(async () => await this.compactBatch(cutoff, opts.maxEvents))
      removed += n
      if (n < COMPACT_BATCH_EVENTS) return { removed }
    }
  }

  /** The origin's contiguous seq (0 if unknown). */
  head (origin: string): number {
    return this.headOf(origin).contiguous
  }

  /**
   * The highest seq of `origin` this log has held (delivered or waiting for a gap), at least its contiguous
   * head; what a node must publish above after its own log was rebuilt from peers.
   */
  maxSeen (origin: string): number {
    const head = this.headOf(origin)
    // A head written before maxSeen was kept reads as MAX_SAFE_INTEGER ("unknown"): fall back to contiguous.
    const seen = head.maxSeen === undefined || head.maxSeen === Number.MAX_SAFE_INTEGER ? 0 : head.maxSeen
    return Math.max(head.contiguous, seen)
  }

  /** Every origin with a contiguous prefix, as a fresh object (the digest the repair protocol sends). */
  heads (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [origin, head] of this.headsByOrigin) if (head.contiguous > 0) out[origin] = head.contiguous
    return out
  }

  async get (origin: string, seq: number): Promise<StoredEvent | undefined> {
    if (!isCounter(seq) || typeof origin !== 'string' || origin.includes('/')) return undefined
    return await this.heldEvent(origin, seq)
  }

  /** Held events of one origin from `from` upward, for the repair protocol's pull; see event-reads.ts. */
  async range (origin: string, from: number, limit: number, maxBytes: number): Promise<RangeResult> {
    checkOrigin(origin)
    checkSeq(from, 'range from')
    return await readRange({ events: this.events, compactedBelow: () => this.headOf(origin).compactedBelow }, origin, from, limit, maxBytes)
  }

  /** Delivered events after the cursor `since`, in LSN order; see event-reads.ts. */
  async list (opts: ListOptions): Promise<ListResult> {
    checkSeq(opts.since ?? 0, 'list since')
    return await readList({ events: this.events, lsnIndex: this.lsnIndex, topicIndex: this.topicIndex, compactedLsn: () => this.compactedLsn }, opts)
  }

  lastLsn (): number { return this.nextLsn - 1 }

  /** The highest LSN compaction removed (0 for none): a list cursor below it has missed events. */
  lastCompactedLsn (): number {
    return this.compactedLsn
  }

  stats (): EventLogStats {
    return { events: this.count, origins: Object.keys(this.heads()).length, lastLsn: this.nextLsn - 1, compactedLsn: this.compactedLsn }
  }

  // -------------------------------------------------------------------------------------------------------

  /** Runs mutations one at a time, in call order; a failed one does not stop the next. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.catch(() => {})
    return await run
  }

  private headOf (origin: string): EventHead {
    return this.headsByOrigin.get(origin) ?? { contiguous: 0, compactedBelow: 0, maxSeen: 0 }
  }

  /** A held event, or undefined (also for a damaged record, which a good copy may then replace). */
  private async heldEvent (origin: string, seq: number): Promise<StoredEvent | undefined> {
    let value: unknown
    try { value = await this.events.get(eventKey(origin, seq)) } catch (err) { if (isDecodeError(err)) return undefined; throw err }
    return isStoredEvent(value, origin, seq) ? value : undefined
  }

  private newStep (): Step {
    return { ops: [], heads: new Map(), delivered: [], nextLsn: this.nextLsn }
  }

  /** Gives the event the next LSN and adds its index entries to the step. */
  private deliver (step: Step, event: StoredEvent): void {
    const lsn = step.nextLsn++
    step.ops.push({ bucket: BUCKETS.eventLsn, type: 'put', key: pad(lsn), value: { origin: event.origin, seq: event.seq, topic: event.topic } satisfies LsnEntry })
    step.ops.push({ bucket: BUCKETS.eventTopic, type: 'put', key: topicKey(event.topic, lsn), value: { origin: event.origin, seq: event.seq } satisfies TopicEntry })
    step.delivered.push({ lsn, event })
  }

  /** Advances each origin's contiguous over held events (this call's pending ones first), in the given order. */
  private async advance (step: Step, origins: Iterable<string>, pending: Map<string, StoredEvent>): Promise<void> {
    for (const origin of origins) {
      const head = { ...(step.heads.get(origin) ?? this.headOf(origin)) }
      const start = head.contiguous
      for (;;) {
        const next = head.contiguous + 1
        if (next > (head.maxSeen ?? Number.MAX_SAFE_INTEGER)) break
        const event = pending.get(eventKey(origin, next)) ?? await this.heldEvent(origin, next)
        if (event === undefined) break
        head.contiguous = next
        this.deliver(step, event)
      }
      if (head.contiguous !== start || step.heads.has(origin)) step.heads.set(origin, head)
    }
  }

  /** Writes the step (and what `attach` adds) as one batch, then (only if that worked) updates memory. */
  private async commit (step: Step, opts: DeliverOptions = {}): Promise<void> {
    for (const [origin, head] of step.heads) step.ops.push({ bucket: BUCKETS.eventHeads, type: 'put', key: origin, value: head })
    const recordsNext = step.nextLsn !== this.nextLsn
    if (recordsNext) step.ops.push({ bucket: BUCKETS.meta, type: 'put', key: NEXT_LSN_KEY, value: step.nextLsn })
    const count = step.delivered.length
    const announced = opts.early !== undefined && count > 0 && step.nextLsn - this.writtenLsn <= EARLY_DELIVERY_MAX && opts.early(step.delivered)
    let attached: Attachment | undefined
    try {
      attached = opts.attach === undefined ? undefined : await opts.attach(step.delivered)
      if (step.ops.length === 0 && (attached === undefined || attached.ops.length === 0)) return
      await this.store.batch(attached === undefined ? step.ops : [...step.ops, ...attached.ops], { sync: opts.sync === true })
    } catch (err) {
      attached?.rollback?.()
      // Announced LSNs stay unused rather than name other events later.
      if (announced) this.nextLsn = step.nextLsn
      throw err
    }
    attached?.commit()
    for (const [origin, head] of step.heads) this.headsByOrigin.set(origin, head)
    this.nextLsn = step.nextLsn
    if (recordsNext) this.writtenLsn = step.nextLsn
    this.count += step.delivered.length
  }

  private async compactBatch (cutoff: number, maxEvents: number): Promise<number> {
    const ops: BatchOp[] = []
    const heads = new Map<string, EventHead>()
    let removed = 0
    let last = this.compactedLsn
    for await (const key of this.lsnIndex.keys({ gt: pad(this.compactedLsn), limit: COMPACT_BATCH_EVENTS })) {
      const lsn = Number(key)
      let entry: unknown
      try { entry = await this.lsnIndex.get(key) } catch (err) { if (isDecodeError(err)) entry = undefined; else throw err }
      const ref = isLsnEntry(entry) ? entry : undefined
      const event = ref === undefined ? undefined : await this.heldEvent(ref.origin, ref.seq)
      const over = this.count - removed > maxEvents
      // A damaged entry or a missing event has no age to keep it: it goes when reached.
      const old = event === undefined || !(event.hlc.wall >= cutoff)
      if (!over && !old) break
      removed++
      last = lsn
      ops.push({ bucket: BUCKETS.eventLsn, type: 'del', key })
      if (ref === undefined) continue
      ops.push({ bucket: BUCKETS.events, type: 'del', key: eventKey(ref.origin, ref.seq) })
      ops.push({ bucket: BUCKETS.eventTopic, type: 'del', key: topicKey(ref.topic, lsn) })
      // Per-origin delivery is in seq order, so what compaction removes of an origin is a seq prefix.
      const head = heads.get(ref.origin) ?? { ...this.headOf(ref.origin) }
      head.compactedBelow = Math.max(head.compactedBelow, ref.seq + 1)
      heads.set(ref.origin, head)
    }
    if (removed === 0) return 0
    for (const [origin, head] of heads) ops.push({ bucket: BUCKETS.eventHeads, type: 'put', key: origin, value: head })
    ops.push({ bucket: BUCKETS.meta, type: 'put', key: COMPACTED_LSN_KEY, value: last })
    await this.store.batch(ops)
    for (const [origin, head] of heads) this.headsByOrigin.set(origin, head)
    this.compactedLsn = last
    this.count -= removed
    return removed
  }
}
