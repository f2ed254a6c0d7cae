/**
 * Frozen copy of the hand-made checks that validated events and envelopes before they moved to the schema kit
 * (issue 13; the old packages/core/src/validate.ts and events/event.ts validateEvent, at commit dcf9178). Kept
 * only as the baseline of wire-checks.bench.ts, so "not slower" is measured in the same run. Not used by Shoal.
 */
import { InvalidInputError, describeValue, previewValue, utf8Length } from '@shoal/core'

const HLC_MAX_WALL = 0xffff_ffff_ffff
const HLC_MAX_LOGICAL = 0x7fff_ffff

function fail (path: string, value: unknown, expected: string): never {
  throw new InvalidInputError(`${path}: expected ${expected}, got ${describeValue(value)}`, { field: path, value: previewValue(value), expected })
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function record (v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) fail(path, v, 'an object')
  return v
}

function string (v: unknown, path: string, maxLength: number, minLength = 1): string {
  if (typeof v !== 'string' || v.length < minLength || v.length > maxLength) fail(path, v, `a string of ${minLength}-${maxLength} characters`)
  return v
}

function safeInt (v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(path, v, `an integer from ${min} to ${max}`)
  return v
}

function onlyKeys (o: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, o[k], `no such field (allowed: ${keys.join(', ')})`)
}

const EVENT_TYPE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
const EVENT_TOPIC_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/
const EVENT_ORIGIN_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const SIG_PATTERN = /^[A-Za-z0-9_-]{1,200}$/
const EVENT_KEYS = ['v', 'type', 'topic', 'origin', 'seq', 'hlc', 'trace', 'data', 'sig'] as const

interface LegacyEvent {
  v: 1
  type: string
  topic: string
  origin: string
  seq: number
  hlc: { wall: number, logical: number }
  trace?: string
  data: string
  sig: string
}

function validateOrigin (v: unknown, path: string): string {
  if (typeof v !== 'string' || !EVENT_ORIGIN_PATTERN.test(v) || v === '__proto__') fail(path, v, `a peer id matching ${String(EVENT_ORIGIN_PATTERN)}`)
  return v
}

function pattern (v: unknown, path: string, re: RegExp): string {
  if (typeof v !== 'string' || !re.test(v)) fail(path, v, `a string matching ${String(re)}`)
  return v
}

function validateData (v: unknown, path: string, maxBytes: number): string {
  if (typeof v !== 'string') fail(path, v, 'JSON text (a string)')
  const size = utf8Length(v)
  if (size > maxBytes) fail(path, `${size} bytes`, `at most ${maxBytes} UTF-8 bytes`)
  if (!v.isWellFormed()) fail(path, v, 'well-formed Unicode text')
  try {
    JSON.parse(v)
  } catch {
    fail(path, v, 'valid JSON text')
  }
  return v
}

export function legacyValidateEvent (v: unknown, limits: { maxPayloadBytes: number }, path = 'event'): LegacyEvent {
  const o = record(v, path)
  onlyKeys(o, path, EVENT_KEYS)
  if (o.v !== 1) fail(`${path}.v`, o.v, 'version 1')
  const type = pattern(o.type, `${path}.type`, EVENT_TYPE_PATTERN)
  const topic = pattern(o.topic, `${path}.topic`, EVENT_TOPIC_PATTERN)
  const origin = validateOrigin(o.origin, `${path}.origin`)
  const seq = safeInt(o.seq, `${path}.seq`, 1)
  const h = record(o.hlc, `${path}.hlc`)
  onlyKeys(h, `${path}.hlc`, ['wall', 'logical'])
  const hlc = { wall: safeInt(h.wall, `${path}.hlc.wall`, 0, HLC_MAX_WALL), logical: safeInt(h.logical, `${path}.hlc.logical`, 0, HLC_MAX_LOGICAL) }
  const trace = o.trace === undefined ? undefined : pattern(o.trace, `${path}.trace`, TRACEPARENT_PATTERN)
  const data = validateData(o.data, `${path}.data`, limits.maxPayloadBytes)
  const sig = pattern(o.sig, `${path}.sig`, SIG_PATTERN)
  const event: LegacyEvent = { v: 1, type, topic, origin, seq, hlc, data, sig }
  if (trace !== undefined) event.trace = trace
  return event
}

/** The old classifyEvent: never throws; the event or the reason it is counted under. */
export function legacyClassifyEvent (raw: unknown, limits: { maxPayloadBytes: number }): { ok: true, event: LegacyEvent } | { ok: false, reason: string, detail: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'malformed', detail: 'event: not an object' }
  const o = raw as Record<string, unknown>
  if (typeof o.data === 'string') {
    const size = utf8Length(o.data)
    if (size > limits.maxPayloadBytes) return { ok: false, reason: 'oversized', detail: `event.data: ${size} bytes > ${limits.maxPayloadBytes}` }
  }
  if (!Object.hasOwn(o, 'sig') || o.sig === undefined || o.sig === null || o.sig === '') return { ok: false, reason: 'unsigned', detail: 'event.sig: missing' }
  try {
    return { ok: true, event: legacyValidateEvent(raw, limits) }
  } catch (err) {
    return { ok: false, reason: 'malformed', detail: err instanceof Error ? err.message : String(err) }
  }
}

/** The old envelope header check (EnvelopeCodec.decode after JSON.parse), payload passed through. */
export function legacyEnvelopeHeader (raw: unknown): { type: string, sentAt: number, payload: unknown } {
  if (!isRecord(raw)) fail('envelope', raw, 'an object')
  if (raw.v !== 1) fail('envelope.v', raw.v, 'version 1')
  onlyKeys(raw, 'envelope', ['v', 'type', 'sentAt', 'payload'])
  const type = string(raw.type, 'envelope.type', 64)
  const sentAt = safeInt(raw.sentAt, 'envelope.sentAt')
  if (!Object.hasOwn(raw, 'payload')) fail('envelope.payload', undefined, 'a payload')
  return { type, sentAt, payload: raw.payload }
}
