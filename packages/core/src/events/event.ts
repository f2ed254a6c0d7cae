/**
 * The signed event (docs/protocols/events.md): its shape, the bytes its signature covers, structural checks and
 * the reject reason an incoming event is counted under. Signatures and clocks are checked by the node layer;
 * this file decides only what can be decided from the event alone.
 */
import { InvalidInputError } from '../errors.js'
import { fail, onlyKeys, record, safeInt } from '../validate.js'
import { HLC_MAX_LOGICAL, HLC_MAX_WALL } from '../hlc.js'

export const EVENT_WIRE_VERSION = 1

export interface ShoalEvent {
  v: typeof EVENT_WIRE_VERSION
  /** Kind of event: 'user' for events.publish; later 'task.*', 'state.*'. */
  type: string
  /** Application topic. */
  topic: string
  /** Publisher's peer id; also the node id of `hlc`. */
  origin: string
  /** Per origin 1, 2, 3, ...; (origin, seq) identifies the event. */
  seq: number
  hlc: { wall: number, logical: number }
  /** W3C traceparent. */
  trace?: string
  /** The payload as JSON text, signed byte for byte. */
  data: string
  /** base64url Ed25519 signature by origin's key over signingBytes(event). */
  sig: string
}

export type EventRejectReason = 'malformed' | 'oversized' | 'unsigned' | 'bad-signature' | 'future' | 'equivocation'
export const EVENT_REJECT_REASONS: readonly EventRejectReason[] = ['malformed', 'oversized', 'unsigned', 'bad-signature', 'future', 'equivocation']

export interface EventLimits {
  /** Largest `data` in UTF-8 bytes (config events.maxPayloadBytes). */
  maxPayloadBytes: number
}

export type ClassifyResult =
  | { ok: true, event: ShoalEvent }
  | { ok: false, reason: EventRejectReason, detail: string }

export const EVENT_TYPE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
export const EVENT_TOPIC_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/
/**
 * Origins are peer ids (base58btc or base32: letters and digits). We allow a little more for test ids, but never
 * '/', so `<origin>/<seq>` keys are unambiguous and a prefix scan over one origin sees no other.
 */
export const EVENT_ORIGIN_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
export const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const SIG_PATTERN = /^[A-Za-z0-9_-]{1,200}$/
const EVENT_KEYS = ['v', 'type', 'topic', 'origin', 'seq', 'hlc', 'trace', 'data', 'sig'] as const
const SIGNING_DOMAIN = 'shoal-event/1'
const SEQ_DIGITS = 16

const encoder = new TextEncoder()

/** UTF-8 of JSON.stringify(['shoal-event/1', type, topic, origin, seq, wall, logical, trace ?? null, data]). */
export function signingBytes (e: ShoalEvent): Uint8Array {
  return encoder.encode(JSON.stringify([SIGNING_DOMAIN, e.type, e.topic, e.origin, e.seq, e.hlc.wall, e.hlc.logical, e.trace ?? null, e.data]))
}

/** A peer id usable as a key: the origin pattern, and never '__proto__'. */
export function validateOrigin (v: unknown, path: string): string {
  if (typeof v !== 'string' || !EVENT_ORIGIN_PATTERN.test(v) || v === '__proto__') {
    fail(path, v, `a peer id matching ${String(EVENT_ORIGIN_PATTERN)}`)
  }
  return v
}

/**
 * Checks every field of an untrusted event and returns a fresh object holding only the schema's fields.
 * Throws InvalidInputError naming the first wrong field. Does not check the signature or the clock.
 */
export function validateEvent (v: unknown, limits: EventLimits, path = 'event'): ShoalEvent {
  const o = record(v, path)
  onlyKeys(o, path, EVENT_KEYS)
  if (o.v !== EVENT_WIRE_VERSION) fail(`${path}.v`, o.v, `version ${EVENT_WIRE_VERSION}`)
  const type = pattern(o.type, `${path}.type`, EVENT_TYPE_PATTERN)
  const topic = pattern(o.topic, `${path}.topic`, EVENT_TOPIC_PATTERN)
  const origin = validateOrigin(o.origin, `${path}.origin`)
  const seq = safeInt(o.seq, `${path}.seq`, 1)
  const h = record(o.hlc, `${path}.hlc`)
  onlyKeys(h, `${path}.hlc`, ['wall', 'logical'])
  // Bounded so every valid event's clock can be merged into a HybridClock and written by hlcToString.
  const hlc = { wall: safeInt(h.wall, `${path}.hlc.wall`, 0, HLC_MAX_WALL), logical: safeInt(h.logical, `${path}.hlc.logical`, 0, HLC_MAX_LOGICAL) }
  const trace = o.trace === undefined ? undefined : pattern(o.trace, `${path}.trace`, TRACEPARENT_PATTERN)
  const data = validateData(o.data, `${path}.data`, limits.maxPayloadBytes)
  const sig = pattern(o.sig, `${path}.sig`, SIG_PATTERN)
  const event: ShoalEvent = { v: EVENT_WIRE_VERSION, type, topic, origin, seq, hlc, data, sig }
  if (trace !== undefined) event.trace = trace
  return event
}

/**
 * Never throws: the event, or the reason it is counted under. 'oversized' for a payload over the limit,
 * 'unsigned' for a missing or empty sig, 'malformed' for everything else structural.
 */
export function classifyEvent (raw: unknown, limits: EventLimits): ClassifyResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('malformed', 'event: not an object')
  const o = raw as Record<string, unknown>
  if (typeof o.data === 'string') {
    const size = utf8Length(o.data)
    if (size > limits.maxPayloadBytes) return reject('oversized', `event.data: ${size} bytes > ${limits.maxPayloadBytes}`)
  }
  if (!Object.hasOwn(o, 'sig') || o.sig === undefined || o.sig === null || o.sig === '') return reject('unsigned', 'event.sig: missing')
  try {
    return { ok: true, event: validateEvent(raw, limits) }
  } catch (err) {
    if (err instanceof InvalidInputError) return reject('malformed', err.message)
    return reject('malformed', err instanceof Error ? err.message : String(err))
  }
}

/** True when the event's clock is within `maxDriftMs` of our wall clock; false means reject as 'future'. */
export function checkEventClock (event: ShoalEvent, wallNow: number, maxDriftMs: number): boolean {
  return event.hlc.wall <= wallNow + maxDriftMs
}

/** Store key `<origin>/<seq, 16 digits>`: keys of one origin sort by seq. */
export function eventKey (origin: string, seq: number): string {
  validateOrigin(origin, 'origin')
  safeInt(seq, 'seq', 1)
  return `${origin}/${String(seq).padStart(SEQ_DIGITS, '0')}`
}

export function parseEventKey (key: string): { origin: string, seq: number } {
  const slash = key.lastIndexOf('/')
  const digits = key.slice(slash + 1)
  if (slash < 0 || !/^[0-9]{16}$/.test(digits)) fail('key', key, '<origin>/<seq, 16 digits>')
  return { origin: validateOrigin(key.slice(0, slash), 'key.origin'), seq: safeInt(Number(digits), 'key.seq', 1) }
}

/** UTF-8 length without allocating the encoded bytes. Lone surrogates count as 3 (U+FFFD), as TextEncoder does. */
export function utf8Length (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++ }
    else n += 3
  }
  return n
}

function validateData (v: unknown, path: string, maxBytes: number): string {
  if (typeof v !== 'string') fail(path, v, 'JSON text (a string)')
  const size = utf8Length(v)
  if (size > maxBytes) fail(path, `${size} bytes`, `at most ${maxBytes} UTF-8 bytes`)
  // Lone surrogates would be signed as escapes but stored and counted as U+FFFD: refuse them.
  if (!v.isWellFormed()) fail(path, v, 'well-formed Unicode text')
  try {
    JSON.parse(v)
  } catch {
    fail(path, v, 'valid JSON text')
  }
  return v
}

function pattern (v: unknown, path: string, re: RegExp): string {
  if (typeof v !== 'string' || !re.test(v)) fail(path, v, `a string matching ${String(re)}`)
  return v
}

function reject (reason: EventRejectReason, detail: string): ClassifyResult {
  return { ok: false, reason, detail }
}
