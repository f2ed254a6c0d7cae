/**
 * The signed event (docs/protocols/events.md): its shape, the bytes its signature covers, structural checks and
 * the reject reason an incoming event is counted under. Signatures and clocks are checked by the node layer;
 * this file decides only what can be decided from the event alone.
 */
import { InvalidInputError } from '../errors.js'
import { checked, fail, Type, type Static } from '../schema/index.js'
import { HLC_MAX_LOGICAL, HLC_MAX_WALL } from '../hlc.js'

export const EVENT_WIRE_VERSION = 1

const strict = { additionalProperties: false } as const

/**
 * Kind of event: 'user' for events.publish; 'kv.put', 'task.*', ... for the node's own. A factory so the RPC
 * layer can add its own description to the one rule.
 */
export const eventTypeSchema = (options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'event type: a lowercase letter or digit, then a-z 0-9 . _ -', ...options })
export const EVENT_TYPE = eventTypeSchema()
/** Application topic; the one definition the RPC methods use too (rpc methods/events.ts). */
export const eventTopicSchema = (options: { description?: string } = {}) =>
  Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:/-]+$', description: 'topic name: letters, digits and . _ : / -', ...options })
export const EVENT_TOPIC = eventTopicSchema()
/**
 * Origins are peer ids (base58btc or base32: letters and digits). We allow a little more for test ids, but never
 * '/', so `<origin>/<seq>` keys are unambiguous and a prefix scan over one origin sees no other; and never
 * '__proto__', so an origin can key a plain object.
 */
export const EVENT_ORIGIN = Type.String({ pattern: '^(?!__proto__$)[A-Za-z0-9._:-]{1,128}$', expected: 'a peer id of 1-128 letters, digits or . _ : - (not __proto__)' })
/** W3C traceparent, version 00. */
export const TRACEPARENT = Type.String({ pattern: '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$', expected: 'a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)' })
/** Per-origin sequence number: 1, 2, 3, ... */
export const EVENT_SEQ = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
/** Bounded so every valid event's clock can be merged into a HybridClock and written by hlcToString. */
export const EVENT_HLC = Type.Object({
  wall: Type.Integer({ minimum: 0, maximum: HLC_MAX_WALL }),
  logical: Type.Integer({ minimum: 0, maximum: HLC_MAX_LOGICAL })
}, strict)

/**
 * The signed event on the wire. `data` is checked further by code (validateEvent): its UTF-8 size against the
 * running config, well-formed Unicode, valid JSON text.
 */
export const SHOAL_EVENT = Type.Object({
  v: Type.Literal(EVENT_WIRE_VERSION),
  type: EVENT_TYPE,
  topic: EVENT_TOPIC,
  /** Publisher's peer id; also the node id of `hlc`. */
  origin: EVENT_ORIGIN,
  /** Per origin 1, 2, 3, ...; (origin, seq) identifies the event. */
  seq: EVENT_SEQ,
  hlc: EVENT_HLC,
  trace: Type.Optional(TRACEPARENT),
  /** The payload as JSON text, signed byte for byte. */
  data: Type.String({ expected: 'JSON text (a string)' }),
  /** base64url Ed25519 signature by origin's key over signingBytes(event). */
  sig: Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$', expected: 'base64url text of 1-200 characters' })
}, strict)

export type ShoalEvent = Static<typeof SHOAL_EVENT>

export type EventRejectReason = 'malformed' | 'oversized' | 'unsigned' | 'bad-signature' | 'future' | 'equivocation'
export const EVENT_REJECT_REASONS: readonly EventRejectReason[] = ['malformed', 'oversized', 'unsigned', 'bad-signature', 'future', 'equivocation']

export interface EventLimits {
  /** Largest `data` in UTF-8 bytes (config events.maxPayloadBytes). */
  maxPayloadBytes: number
}

export type ClassifyResult =
  | { ok: true, event: ShoalEvent }
  | { ok: false, reason: EventRejectReason, detail: string }

const SIGNING_DOMAIN = 'shoal-event/1'
const SEQ_DIGITS = 16

const encoder = new TextEncoder()

/** What an event's signature covers, as text: JSON.stringify(['shoal-event/1', type, topic, origin, seq, wall, logical, trace ?? null, data]). */
export function signingText (e: ShoalEvent): string {
  return JSON.stringify([SIGNING_DOMAIN, e.type, e.topic, e.origin, e.seq, e.hlc.wall, e.hlc.logical, e.trace ?? null, e.data])
}

/** The bytes an event's signature is made over: UTF-8 of signingText(e). */
export function signingBytes (e: ShoalEvent): Uint8Array {
  return encoder.encode(signingText(e))
}

/** A peer id usable as a key: EVENT_ORIGIN (never '/', never '__proto__'). */
export function validateOrigin (v: unknown, path: string): string {
  return checked(EVENT_ORIGIN, v, path)
}

/**
 * Checks every field of an untrusted event and returns a fresh object holding only the schema's fields.
 * Throws InvalidInputError naming the first wrong field. Does not check the signature or the clock.
 */
export function validateEvent (v: unknown, limits: EventLimits, path = 'event'): ShoalEvent {
  return checkEvent(v, limits, path, false)
}

/** validateEvent; `sized`: the caller has already held `data`'s UTF-8 size against the limit (classifyEvent). */
function checkEvent (v: unknown, limits: EventLimits, path: string, sized: boolean): ShoalEvent {
  const e = checked(SHOAL_EVENT, v, path)
  validateData(e.data, `${path}.data`, sized ? Infinity : limits.maxPayloadBytes)
  const event: ShoalEvent = { v: EVENT_WIRE_VERSION, type: e.type, topic: e.topic, origin: e.origin, seq: e.seq, hlc: { wall: e.hlc.wall, logical: e.hlc.logical }, data: e.data, sig: e.sig }
  if (e.trace !== undefined) event.trace = e.trace
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
    // The size was held against the limit just above; do not count the bytes twice on the receive path.
    return { ok: true, event: checkEvent(raw, limits, 'event', typeof o.data === 'string') }
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
  checked(EVENT_SEQ, seq, 'seq')
  return `${origin}/${String(seq).padStart(SEQ_DIGITS, '0')}`
}

export function parseEventKey (key: string): { origin: string, seq: number } {
  const slash = key.lastIndexOf('/')
  const digits = key.slice(slash + 1)
  if (slash < 0 || !/^[0-9]{16}$/.test(digits)) fail('key', key, '<origin>/<seq, 16 digits>')
  return { origin: validateOrigin(key.slice(0, slash), 'key.origin'), seq: checked(EVENT_SEQ, Number(digits), 'key.seq') }
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

function validateData (v: string, path: string, maxBytes: number): void {
  if (maxBytes !== Infinity) {
    const size = utf8Length(v)
    if (size > maxBytes) fail(path, `${size} bytes`, `at most ${maxBytes} UTF-8 bytes`)
  }
  // Lone surrogates would be signed as escapes but stored and counted as U+FFFD: refuse them.
  if (!v.isWellFormed()) fail(path, v, 'well-formed Unicode text')
  try {
    JSON.parse(v)
  } catch {
    fail(path, v, 'valid JSON text')
  }
}

function reject (reason: EventRejectReason, detail: string): ClassifyResult {
  return { ok: false, reason, detail }
}
