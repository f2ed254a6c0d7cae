/**
 * Records of the replicated key-value store (docs/protocols/kv.md): a record IS the winning signed event for its
 * key, and the merge rule is last writer wins on (wall, logical, node). Pure: parsing and validation only; the
 * signature and clock of the event are checked by the node before it gets here.
 */
import { KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES } from '../constants.js'
import type { ShoalEvent } from '../events/event.js'
import { utf8Length, validateOrigin } from '../events/event.js'
import { compareHlc, hlcToString } from '../hlc.js'
import { checked, fail, Type } from '../schema/index.js'

/** The version of a record: its event's HLC, with the origin as the node. */
export interface KvVersion {
  wall: number
  logical: number
  node: string
}

export interface KvRecord {
  key: string
  /** The JSON value; absent for a tombstone. */
  value?: unknown
  tombstone: boolean
  version: KvVersion
  /** The signed event that wrote the record (data = {"key":..,"value":..} or {"key":..}). */
  event: ShoalEvent
}

export interface KvLimits {
  /** Largest key in UTF-8 bytes (config kv.maxKeyBytes). */
  maxKeyBytes: number
  /** Largest value as serialised JSON text, in UTF-8 bytes (config kv.maxValueBytes). */
  maxValueBytes: number
}

export const DEFAULT_KV_LIMITS: Readonly<KvLimits> = Object.freeze({ maxKeyBytes: KV_MAX_KEY_BYTES, maxValueBytes: KV_MAX_VALUE_BYTES })

export const KV_EVENT_TYPES = { put: 'kv.put', del: 'kv.del' } as const
export type KvEventType = typeof KV_EVENT_TYPES[keyof typeof KV_EVENT_TYPES]
export const KV_TOPIC = 'kv'

/**
 * The event payload limit for topic `kv`. The doc says maxValueBytes + key + 1 KiB; a key counts 6 times here
 * because JSON escapes a control character as \u00XX, so a valid key can take 6 bytes per byte in the data text.
 */
export function kvPayloadLimit (limits: KvLimits): number {
  return limits.maxValueBytes + 6 * limits.maxKeyBytes + 1024
}

/** Total order by (wall, logical, node), the same as compareHlc; 0 only for the same write. */
export function compareVersions (a: KvVersion, b: KvVersion): -1 | 0 | 1 {
  return compareHlc(a, b)
}

/** Fixed-width sortable text `<wall 12 hex>-<logical 8 hex>-<node>` (hlcToString); hashed by the Merkle tree. */
export function versionString (v: KvVersion): string {
  return hlcToString(v)
}

/**
 * Last writer wins: the record with the greater version; `b` when `a` is undefined. Two distinct writes never
 * have equal versions (the node breaks ties); equal versions mean the same write, and `a` is kept, so merging a
 * record with itself changes nothing. Commutative, associative and idempotent (test/kv-record.test.ts).
 */
export function mergeRecords (a: KvRecord | undefined, b: KvRecord): KvRecord {
  if (a === undefined) return b
  return compareVersions(b.version, a.version) > 0 ? b : a
}

/**
 * Checks a key: a string of 1..maxKeyBytes UTF-8 bytes, without NUL (the Merkle hash separates key and version
 * with 0x00) and without lone surrogates (they would be stored and hashed as U+FFFD). Returns it.
 */
export function validateKey (key: unknown, maxKeyBytes: number, path: string): string {
  if (typeof key !== 'string' || key.length === 0) fail(path, key, `a non-empty string of at most ${maxKeyBytes} UTF-8 bytes`)
  if (key.includes('\0')) fail(path, key, 'a string without NUL')
  if (!key.isWellFormed()) fail(path, key, 'well-formed Unicode text (no lone surrogates)')
  const size = utf8Length(key)
  if (size > maxKeyBytes) fail(path, `${size} bytes`, `at most ${maxKeyBytes} UTF-8 bytes`)
  return key
}

/**
 * Checks a value: plain JSON (null, booleans, finite numbers, strings, arrays without holes, plain objects),
 * whose JSON text is at most maxValueBytes UTF-8 bytes. Returns that text. Never throws anything but
 * InvalidInputError, also for cycles, BigInt or nesting too deep to serialise.
 */
export function validateValue (value: unknown, maxValueBytes: number, path: string): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    // describeValue would stringify again (and could overflow the stack): describe by type only.
    fail(path, `a ${typeof value} that cannot be serialised`, 'a JSON value (no cycles, no BigInt, bounded nesting)')
  }
  // The size first: the walk below then visits at most one node per byte of that text (plus the one that
  // fails), even for a value that shares sub-objects.
  if (text !== undefined) {
    const size = utf8Length(text)
    if (size > maxValueBytes) fail(path, `${size} bytes`, `at most ${maxValueBytes} bytes of JSON text`)
  }
  checkPlainJson(value, path, text?.length ?? 0)
  if (text === undefined) fail(path, value, 'a JSON value')
  return text
}

/**
 * The `data` text of a kv event: `{"key":K,"value":V}` for a put, `{"key":K}` for a delete (value undefined).
 * Validates both, so a value JSON.stringify would silently drop (a function, undefined inside) is refused.
 */
export function kvEventData (key: string, value?: unknown, limits: KvLimits = DEFAULT_KV_LIMITS): string {
  validateKey(key, limits.maxKeyBytes, 'key')
  if (value === undefined) return JSON.stringify({ key })
  return `{"key":${JSON.stringify(key)},"value":${validateValue(value, limits.maxValueBytes, 'value')}}`
}

const KEY_FIELD = Type.Unknown({ expected: 'a key' })
/** The `data` of a kv.put event: exactly key and value (their limits are validateKey's and validateValue's). */
const KV_PUT_DATA = Type.Object({ key: KEY_FIELD, value: Type.Unknown({ expected: 'a JSON value (required for kv.put)' }) }, { additionalProperties: false })
/** The `data` of a kv.del event: exactly the key. */
const KV_DEL_DATA = Type.Object({ key: KEY_FIELD }, { additionalProperties: false })

/**
 * The record an event writes. The event must be of type kv.put or kv.del on topic kv, with data holding exactly
 * `key` (and `value` for a put). Throws InvalidInputError naming the field (event.type, event.topic,
 * event.data, event.data.key, event.data.value, event.data.<extra>). The event's own structure and signature
 * are the caller's to check (validateEvent and the node).
 */
export function recordFromEvent (event: ShoalEvent, limits: KvLimits): KvRecord {
  if (event.type !== KV_EVENT_TYPES.put && event.type !== KV_EVENT_TYPES.del) fail('event.type', event.type, `${KV_EVENT_TYPES.put} or ${KV_EVENT_TYPES.del}`)
  if (event.topic !== KV_TOPIC) fail('event.topic', event.topic, `topic ${KV_TOPIC}`)
  const node = validateOrigin(event.origin, 'event.origin')
  let parsed: unknown
  try {
    parsed = JSON.parse(event.data)
  } catch {
    fail('event.data', event.data, 'JSON text')
  }
  const put = event.type === KV_EVENT_TYPES.put
  const version: KvVersion = { wall: event.hlc.wall, logical: event.hlc.logical, node }
  if (!put) {
    const data = checked(KV_DEL_DATA, parsed, 'event.data')
    return { key: validateKey(data.key, limits.maxKeyBytes, 'event.data.key'), tombstone: true, version, event }
  }
  const data = checked(KV_PUT_DATA, parsed, 'event.data')
  const key = validateKey(data.key, limits.maxKeyBytes, 'event.data.key')
  validateValue(data.value, limits.maxValueBytes, 'event.data.value')
  return { key, value: data.value, tombstone: false, version, event }
}

/**
 * Walks the value without recursion (a parsed 1 MiB value can nest ~500 000 deep). A node's path is only spelled
 * out for the node that fails: each visited node keeps its parent and its key, so the walk itself builds no
 * strings (an 11 KB value of about 2,000 nodes: 0.35 ms with a path string per node, 0.06 ms without).
 * Called after JSON.stringify succeeded within the size limit, so there is no cycle; every node of a plain value
 * takes at least one character of that text (`textLength`), so a walk past it has found sub-objects that
 * JSON.stringify never reached (hidden behind a `toJSON`) and fails rather than walk them.
 */
function checkPlainJson (value: unknown, path: string, textLength: number): void {
  if (value === null || typeof value !== 'object') {
    checkPlainLeaf(value, () => path)
    return
  }
  // Every node pushed so far: its value, its parent's index (-1 for the root) and its key within the parent.
  const values: unknown[] = [value]
  const parents: number[] = [-1]
  const keys: Array<string | number> = ['']
  const stack: number[] = [0]
  const pathOf = (at: number): string => {
    const parts: string[] = []
    for (let i = at; i > 0; i = parents[i]!) {
      const k = keys[i]!
      parts.push(typeof k === 'number' ? `[${k}]` : `.${k}`)
    }
    return path + parts.reverse().join('')
  }
  const push = (child: unknown, parent: number, key: string | number): void => {
    if (child === null || typeof child !== 'object') {
      checkPlainLeaf(child, () => `${pathOf(parent)}${typeof key === 'number' ? `[${key}]` : `.${key}`}`)
      return
    }
    values.push(child)
    parents.push(parent)
    keys.push(key)
    stack.push(values.length - 1)
  }
  while (stack.length > 0) {
    if (values.length > textLength) fail(path, 'a value whose JSON text leaves out parts of it', PLAIN_JSON)
    const at = stack.pop()!
    const v = values[at] as object
    if (Array.isArray(v)) {
      // JSON.stringify writes an array's toJSON() in its place (an object's toJSON is a function: refused below).
      if (Object.hasOwn(v, 'toJSON')) fail(`${pathOf(at)}.toJSON`, 'a toJSON method', PLAIN_JSON)
      for (let i = 0; i < v.length; i++) {
        if (!Object.hasOwn(v, i)) fail(`${pathOf(at)}[${i}]`, undefined, 'an array without holes')
        push(v[i], at, i)
      }
      continue
    }
    const proto = Object.getPrototypeOf(v) as unknown
    if (proto !== Object.prototype && proto !== null) fail(pathOf(at), 'an instance of a class', 'a plain object')
    const own = Object.keys(v)
    for (let i = 0; i < own.length; i++) push((v as Record<string, unknown>)[own[i]!], at, own[i]!)
  }
}

const PLAIN_JSON = 'a JSON value (null, boolean, finite number, string, array or plain object)'

/** A value that is not an object: null, a boolean, a string or a finite number pass; `pathOf` names it otherwise. */
function checkPlainLeaf (v: unknown, pathOf: () => string): void {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(pathOf(), v, 'a finite number')
    return
  }
  fail(pathOf(), typeof v, PLAIN_JSON)
}
