/**
 * The event log's record types and key layout (see docs/protocols/events.md, "Local log"). Keys pad numbers to
 * 16 digits so LevelDB's byte order is numeric order.
 */
import type { ShoalEvent } from '@shoal/core'
import { STORE_ERRORS, StoreError } from './store.js'

/** An event as the log stores it: core's signed event, byte for byte. */
export type StoredEvent = ShoalEvent

/** An event with the local sequence number (LSN) it was delivered under. */
export interface Delivered {
  lsn: number
  event: StoredEvent
}

/** `event-heads` value: every seq 1..contiguous is held or was compacted; every seq below compactedBelow is gone. */
export interface EventHead {
  contiguous: number
  compactedBelow: number
  /**
   * The highest seq ever stored for the origin. Nothing beyond it is held, so appends in order need no reads.
   * Absent in records written before it existed: then unknown, and every lookup reads.
   */
  maxSeen?: number
}

/** `event-lsn` value. */
export interface LsnEntry { origin: string, seq: number, topic: string }
/** `event-topic` value. */
export interface TopicEntry { origin: string, seq: number }

/** The largest seq or LSN: exact as a JS number, and 16 digits, so it fits the padded keys. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER

export const pad = (n: number): string => String(n).padStart(16, '0')
export const eventKey = (origin: string, seq: number): string => `${origin}/${pad(seq)}`
export const topicKey = (topic: string, lsn: number): string => `${topic}\u0000${pad(lsn)}`
/** Bounds of one origin's keys in `events`: origins hold no '/', so `<origin>/` is a prefix no other origin shares. */
export const originEnd = (origin: string): string => `${origin}/${'9'.repeat(16)}`
export const topicEnd = (topic: string): string => `${topic}\u0000${'9'.repeat(16)}`

/** The seq in an `events` key of the given origin. */
export const seqOf = (key: string, origin: string): number => Number(key.slice(origin.length + 1))

export const isCounter = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_COUNTER

export function isHead (v: unknown): v is EventHead {
  const h = v as EventHead | null
  return typeof h === 'object' && h !== null && isCounter(h.contiguous) && isCounter(h.compactedBelow)
}

/** A stored value that is the event under (origin, seq): anything else is treated as damaged, i.e. not held. */
export function isStoredEvent (v: unknown, origin: string, seq: number): v is StoredEvent {
  const e = v as StoredEvent | null
  return typeof e === 'object' && e !== null && e.origin === origin && e.seq === seq && typeof e.topic === 'string' &&
    typeof e.sig === 'string' && typeof e.data === 'string' && typeof e.hlc === 'object' && e.hlc !== null
}

export function isLsnEntry (v: unknown): v is LsnEntry {
  const e = v as LsnEntry | null
  return typeof e === 'object' && e !== null && typeof e.origin === 'string' && isCounter(e.seq) && typeof e.topic === 'string'
}

/** A stored value that is not JSON (a torn write, another program): read as absent, unlike an I/O failure. */
export const isDecodeError = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'LEVEL_DECODE_ERROR'

export function checkOrigin (origin: string): void {
  if (typeof origin !== 'string' || origin === '' || /[/\u0000]/.test(origin)) {
    throw new StoreError(STORE_ERRORS.invalid, `origin ${JSON.stringify(origin)} cannot be a log key (empty, or holds '/' or NUL)`)
  }
}

/**
 * The store only checks what its keys depend on (core validates events before they get here): a seq that fits a
 * key, an origin without '/' or NUL, a topic without NUL. A violation is a caller bug and rejects the whole call.
 */
export function checkEvent (e: StoredEvent, i: number): void {
  const bad = (why: string): StoreError => new StoreError(STORE_ERRORS.invalid, `event ${i} ${why}; nothing of the call was stored`, { index: i })
  if (typeof e !== 'object' || e === null) throw bad('is not an object')
  if (typeof e.origin !== 'string' || e.origin === '' || /[/\u0000]/.test(e.origin)) throw bad(`has an origin the log cannot key (${JSON.stringify(e.origin)})`)
  if (!isCounter(e.seq) || e.seq < 1) throw bad(`has seq ${JSON.stringify(e.seq)} (expected an integer 1..${MAX_COUNTER})`)
  if (typeof e.topic !== 'string' || e.topic.includes('\u0000')) throw bad('has a topic the log cannot key')
  if (typeof e.sig !== 'string' || typeof e.data !== 'string') throw bad('has no sig or data string')
}

export function checkSeq (seq: number, what: string): void {
  if (!isCounter(seq)) throw new StoreError(STORE_ERRORS.invalid, `${what} must be an integer 0..${MAX_COUNTER}, got ${String(seq)}`)
}

/** The same event again (a duplicate) rather than a second, different one under the same (origin, seq). */
export const sameEvent = (a: StoredEvent, b: StoredEvent): boolean => a.sig === b.sig && a.data === b.data
