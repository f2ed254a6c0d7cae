/**
 * Wire form of the KV anti-entropy protocol, /shoal/<swarm>/kv/1.0.0 (docs/protocols/kv.md): one length-prefixed
 * JSON frame each way per stream. Every field is checked here; the events inside `records` and `store` are
 * checked by the node (classifyEvent, signature, recordFromEvent, key matches the request).
 *
 * `root`, `nodes` and `leaves` share their type between request and reply; the fields tell them apart (a
 * request has `ids`, a `root` reply has `hash`). validateKvSyncRequest / validateKvSyncResponse accept only
 * one direction, which is what a stream handler and a client want.
 */
import { KV_MAX_KEY_BYTES, KV_SYNC_BATCH, KV_SYNC_MAX_LEAF_ENTRIES } from '../constants.js'
import { EVENT_HLC, EVENT_ORIGIN } from '../events/event.js'
import { checked, fail, Type } from '../schema/index.js'
import { LEAF_DEPTH } from './merkle.js'
import type { MerkleNode } from './merkle.js'
import { validateKey } from './record.js'
import type { KvVersion } from './record.js'

export const KV_SYNC_WIRE_VERSION = 1

export interface KvLeafEntry { key: string, version: KvVersion }

export type KvSyncRequest =
  | { v: 1, type: 'root' }
  /** The 16 children of each internal node id (0..3 hex digits). */
  | { v: 1, type: 'nodes', ids: string[] }
  /** The {key, version} of every record under each leaf id (4 hex digits); `after` resumes a cut reply. */
  | { v: 1, type: 'leaves', ids: string[], after?: string }
  | { v: 1, type: 'get', keys: string[] }
  | { v: 1, type: 'store', event: unknown }
  /** "Pull from me": the sender's replica gained records no gossip carried (an import); answered with a `root`. */
  | { v: 1, type: 'pull' }

export type KvSyncResponse =
  | { v: 1, type: 'root', hash: string, count: number }
  | { v: 1, type: 'nodes', nodes: MerkleNode[] }
  | { v: 1, type: 'leaves', entries: KvLeafEntry[], more: boolean }
  | { v: 1, type: 'records', records: unknown[], more: boolean }
  | { v: 1, type: 'stored', ok: boolean, reason?: string }

export type KvSyncMessage = KvSyncRequest | KvSyncResponse

export interface KvSyncLimits {
  /** Largest key in UTF-8 bytes (config kv.maxKeyBytes). */
  maxKeyBytes: number
}

const TYPES = ['root', 'nodes', 'leaves', 'get', 'records', 'store', 'stored', 'pull'] as const
const MAX_REASON = 256
const DEFAULT_LIMITS: KvSyncLimits = { maxKeyBytes: KV_MAX_KEY_BYTES }
const strict = { additionalProperties: false } as const
const V = Type.Literal(KV_SYNC_WIRE_VERSION)
/** Keys pass this shape here; their byte limit (running config), NUL and Unicode rules are validateKey's. */
const KEY = Type.String({ minLength: 1, expected: 'a non-empty key' })
const HASH = Type.String({ pattern: '^[0-9a-f]{64}$', expected: '64 lowercase hex digits' })
const ids = (pattern: string, expected: string) => Type.Array(Type.String({ pattern, expected }), { maxItems: KV_SYNC_BATCH })

/** {wall, logical, node}: the bounds of an event's HLC and origin. */
export const KV_VERSION = Type.Object({ wall: EVENT_HLC.properties.wall, logical: EVENT_HLC.properties.logical, node: EVENT_ORIGIN }, strict)

/** The frame header: the version, then a type of either direction. */
const HEADER = Type.Object({ v: V, type: Type.Union(TYPES.map(t => Type.Literal(t)), { expected: `one of ${TYPES.join(', ')}` }) })

/** Requests by type: what a server reads. */
export const KV_SYNC_REQUESTS = {
  root: Type.Object({ v: V, type: Type.Literal('root') }, strict),
  /** The 16 children of each internal node id (0..3 hex digits). */
  nodes: Type.Object({ v: V, type: Type.Literal('nodes'), ids: ids('^[0-9a-f]{0,3}$', `an internal node id (0-${LEAF_DEPTH - 1} hex digits)`) }, strict),
  /** The {key, version} of every record under each leaf id (4 hex digits); `after` resumes a cut reply. */
  leaves: Type.Object({ v: V, type: Type.Literal('leaves'), ids: ids('^[0-9a-f]{4}$', `a leaf id (${LEAF_DEPTH} hex digits)`), after: Type.Optional(KEY) }, strict),
  get: Type.Object({ v: V, type: Type.Literal('get'), keys: Type.Array(KEY, { maxItems: KV_SYNC_BATCH }) }, strict),
  /** The event is checked by the node (classifyEvent, signature, recordFromEvent). */
  store: Type.Object({ v: V, type: Type.Literal('store'), event: Type.Record(Type.String(), Type.Unknown(), { expected: 'an object' }) }, strict),
  /** "Pull from me": answered with a `root`; the receiver starts a round with the sender. */
  pull: Type.Object({ v: V, type: Type.Literal('pull') }, strict)
} as const

/** Responses by type: what a client reads. */
export const KV_SYNC_RESPONSES = {
  root: Type.Object({ v: V, type: Type.Literal('root'), hash: HASH, count: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }, strict),
  nodes: Type.Object({
    v: V,
    type: Type.Literal('nodes'),
    nodes: Type.Array(Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{1,4}$', expected: `a child node id (1-${LEAF_DEPTH} hex digits)` }), hash: HASH }, strict), { maxItems: 16 * KV_SYNC_BATCH })
  }, strict),
  leaves: Type.Object({ v: V, type: Type.Literal('leaves'), entries: Type.Array(Type.Object({ key: KEY, version: KV_VERSION }, strict), { maxItems: KV_SYNC_MAX_LEAF_ENTRIES }), more: Type.Boolean() }, strict),
  /** Each record's event is checked by the node. */
  records: Type.Object({ v: V, type: Type.Literal('records'), records: Type.Array(Type.Unknown(), { maxItems: KV_SYNC_BATCH }), more: Type.Boolean() }, strict),
  stored: Type.Object({ v: V, type: Type.Literal('stored'), ok: Type.Boolean(), reason: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_REASON })) }, strict)
} as const

/** Checks an untrusted frame of either direction; throws InvalidInputError naming the path of the first wrong field. */
export function validateKvSyncMessage (v: unknown, limits: KvSyncLimits = DEFAULT_LIMITS): KvSyncMessage {
  const o = header(v)
  switch (o.type) {
    case 'root': return 'hash' in o || 'count' in o ? response(o, limits) : request(o, limits)
    case 'nodes':
    case 'leaves': return 'ids' in o || 'after' in o ? request(o, limits) : response(o, limits)
    case 'get':
    case 'store':
    case 'pull': return request(o, limits)
    default: return response(o, limits)
  }
}

/** A frame a server reads: a request, never a reply. */
export function validateKvSyncRequest (v: unknown, limits: KvSyncLimits = DEFAULT_LIMITS): KvSyncRequest {
  return request(header(v), limits)
}

/** A frame a client reads: a reply, never a request. */
export function validateKvSyncResponse (v: unknown, limits: KvSyncLimits = DEFAULT_LIMITS): KvSyncResponse {
  return response(header(v), limits)
}

/** {wall, logical, node}: the bounds of an event's HLC and origin. */
export function validateKvVersion (v: unknown, path: string): KvVersion {
  const o = checked(KV_VERSION, v, path)
  return { wall: o.wall, logical: o.logical, node: o.node }
}

type Frame = Record<string, unknown> & { type: typeof TYPES[number] }

function header (v: unknown): Frame {
  return checked(HEADER, v, 'message') as Frame
}

function request (o: Frame, limits: KvSyncLimits): KvSyncRequest {
  const schema = Object.hasOwn(KV_SYNC_REQUESTS, o.type) ? KV_SYNC_REQUESTS[o.type as keyof typeof KV_SYNC_REQUESTS] : undefined
  if (schema === undefined) return fail('message.type', o.type, 'a request type (root, nodes, leaves, get, store, pull)')
  const m = checked(schema, o, 'message')
  switch (m.type) {
    case 'root': return { v: 1, type: 'root' }
    case 'nodes': return { v: 1, type: 'nodes', ids: m.ids.slice() }
    case 'leaves': {
      const out: KvSyncRequest = { v: 1, type: 'leaves', ids: m.ids.slice() }
      if (m.after !== undefined) out.after = validateKey(m.after, limits.maxKeyBytes, 'message.after')
      return out
    }
    case 'get': return { v: 1, type: 'get', keys: m.keys.map((k, i) => validateKey(k, limits.maxKeyBytes, `message.keys[${i}]`)) }
    case 'store': return { v: 1, type: 'store', event: m.event }
    case 'pull': return { v: 1, type: 'pull' }
  }
}

function response (o: Frame, limits: KvSyncLimits): KvSyncResponse {
  const schema = Object.hasOwn(KV_SYNC_RESPONSES, o.type) ? KV_SYNC_RESPONSES[o.type as keyof typeof KV_SYNC_RESPONSES] : undefined
  if (schema === undefined) return fail('message.type', o.type, 'a response type (root, nodes, leaves, records, stored)')
  const m = checked(schema, o, 'message')
  switch (m.type) {
    case 'root': return { v: 1, type: 'root', hash: m.hash, count: m.count }
    case 'nodes': return { v: 1, type: 'nodes', nodes: m.nodes.map(n => ({ id: n.id, hash: n.hash })) }
    case 'leaves': return {
      v: 1,
      type: 'leaves',
      entries: m.entries.map((e, i) => ({
        key: validateKey(e.key, limits.maxKeyBytes, `message.entries[${i}].key`),
        version: { wall: e.version.wall, logical: e.version.logical, node: e.version.node }
      })),
      more: m.more
    }
    case 'records': return { v: 1, type: 'records', records: m.records.slice(), more: m.more }
    case 'stored': {
      const out: KvSyncResponse = { v: 1, type: 'stored', ok: m.ok }
      if (m.reason !== undefined) out.reason = m.reason
      return out
    }
  }
}
