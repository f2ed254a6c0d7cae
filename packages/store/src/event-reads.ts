/**
 * The event log's reads: an origin's held events for the repair protocol's pull, and the delivery log by cursor.
 * They run outside the write queue; a compaction that lands meanwhile is caught by checking the bound again at
 * the end, so a reader never silently misses compacted events.
 */
import type { BucketHandle } from './store.js'
import { eventKey, isDecodeError, isLsnEntry, isStoredEvent, originEnd, pad, seqOf, topicEnd, topicKey } from './event-records.js'
import type { Delivered, LsnEntry, StoredEvent, TopicEntry } from './event-records.js'

export type RangeResult = { events: StoredEvent[], more: boolean } | { compactedBelow: number }
export type ListResult = { events: Delivered[], next: number } | { compactedLsn: number }

export interface ListOptions {
  /** Only events of this topic (through the event-topic index). */
  topic?: string
  /** The cursor: events with an LSN above it. Default 0 (from the start). Valid iff since >= compactedLsn. */
  since?: number
  limit: number
}

interface RangeSource { events: BucketHandle<StoredEvent | null>, compactedBelow: () => number }
interface ListSource {
  events: BucketHandle<StoredEvent | null>
  lsnIndex: BucketHandle<LsnEntry>
  topicIndex: BucketHandle<TopicEntry>
  compactedLsn: () => number
}

/**
 * Held events of `origin` from seq `from` upward in seq order, stopping at the first missing seq, at `limit`
 * events, or before the encoded size would pass `maxBytes` (but never with none when `from` is held).
 * `more` says the next seq is held too. A `from` below the origin's compactedBelow gets `{ compactedBelow }`.
 */
export async function readRange (src: RangeSource, origin: string, from: number, limit: number, maxBytes: number): Promise<RangeResult> {
  // Below compactedBelow a log may still hold events: a gap was skipped on evidence above events it holds (an
  // origin restarted above its seq reservation, several times). Serve what is held at `from`; with nothing there,
  // `compacted` names the next seq this log holds (or compactedBelow, if it holds nothing before it), never
  // past events it holds: a reader skips at most what this log cannot serve.
  const events: StoredEvent[] = []
  let expect = Math.max(1, from)
  let bytes = 0
  let more = false
  let nextHeld: number | undefined
  // One past the limit, to learn whether the next seq is held.
  for await (const [key, event] of src.events.entries({ gte: eventKey(origin, expect), lte: originEnd(origin), limit: limit + 1 })) {
    if (key !== eventKey(origin, expect) || !isStoredEvent(event, origin, expect)) {
      if (events.length === 0) nextHeld = seqOf(key, origin)
      break
    }
    if (events.length >= limit) { more = true; break }
    const size = Buffer.byteLength(JSON.stringify(event))
    if (events.length > 0 && bytes + size > maxBytes) { more = true; break }
    events.push(event)
    bytes += size
    expect++
  }
  const now = src.compactedBelow()
  if (from >= now || events.length > 0) return { events, more }
  return { compactedBelow: nextHeld !== undefined && nextHeld > from && nextHeld < now ? nextHeld : now }
}

/**
 * Delivered events with an LSN above `since`, in LSN order, at most `limit`; `next` is the last LSN returned
 * (or `since` when none), the cursor to resume from. A cursor below compactedLsn (the highest LSN compaction
 * removed) would miss events, so it gets `{ compactedLsn }` instead.
 */
export async function readList (src: ListSource, opts: ListOptions): Promise<ListResult> {
  const since = opts.since ?? 0
  if (since < src.compactedLsn()) return { compactedLsn: src.compactedLsn() }
  const refs: Array<{ lsn: number, origin: string, seq: number }> = []
  if (opts.topic === undefined) {
    for await (const [key, entry] of src.lsnIndex.entries({ gt: pad(since), limit: opts.limit })) {
      if (isLsnEntry(entry)) refs.push({ lsn: Number(key), origin: entry.origin, seq: entry.seq })
    }
  } else {
    const topic = opts.topic
    for await (const [key, entry] of src.topicIndex.entries({ gt: topicKey(topic, since), lte: topicEnd(topic), limit: opts.limit })) {
      if (typeof entry?.origin === 'string' && typeof entry.seq === 'number') refs.push({ lsn: Number(key.slice(topic.length + 1)), origin: entry.origin, seq: entry.seq })
    }
  }
  const events: Delivered[] = []
  for (const ref of refs) {
    let event: unknown
    try { event = await src.events.get(eventKey(ref.origin, ref.seq)) } catch (err) { if (isDecodeError(err)) continue; throw err }
    if (isStoredEvent(event, ref.origin, ref.seq)) events.push({ lsn: ref.lsn, event })
  }
  // Compaction removes in LSN order: if it removed anything above `since` while we read, compactedLsn passed it.
  if (since < src.compactedLsn()) return { compactedLsn: src.compactedLsn() }
  return { events, next: events.at(-1)?.lsn ?? refs.at(-1)?.lsn ?? since }
}
