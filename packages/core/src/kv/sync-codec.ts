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
import { validateOrigin } from '../events/event.js'
import { HLC_MAX_LOGICAL, HLC_MAX_WALL } from '../hlc.js'
import { fail, list, oneOf, onlyKeys, record, safeInt, string } from '../validate.js'
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

const TYPES = ['root', 'nodes', 'leaves', 'get', 'records', 'store', 'stored'] as const
const INTERNAL_ID = /^[0-9a-f]{0,3}$/
const LEAF_ID = /^[0-9a-f]{4}$/
const CHILD_ID = /^[0-9a-f]{1,4}$/
const HASH = /^[0-9a-f]{64}$/
const MAX_REASON = 256
const DEFAULT_LIMITS: KvSyncLimits = { maxKeyBytes: KV_MAX_KEY_BYTES }

/** Checks an untrusted frame of either direction; throws InvalidInputError naming the path of the first wrong field. */
export function validateKvSyncMessage (v: unknown, limits: KvSyncLimits = DEFAULT_LIMITS): KvSyncMessage {
  const o = header(v)
  switch (o.type) {
    case 'root': return 'hash' in o || 'count' in o ? response(o, limits) : request(o, limits)
    case 'nodes':
    case 'leaves': return 'ids' in o || 'after' in o ? request(o, limits) : response(o, limits)
    case 'get':
    case 'store': return request(o, limits)
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
  const o = record(v, path)
  onlyKeys(o, path, ['wall', 'logical', 'node'])
  return {
    wall: safeInt(o.wall, `${path}.wall`, 0, HLC_MAX_WALL),
    logical: safeInt(o.logical, `${path}.logical`, 0, HLC_MAX_LOGICAL),
    node: validateOrigin(o.node, `${path}.node`)
  }
}

type Frame = Record<string, unknown> & { type: typeof TYPES[number] }

function header (v: unknown): Frame {
  const o = record(v, 'message')
  if (o.v !== KV_SYNC_WIRE_VERSION) fail('message.v', o.v, `version ${KV_SYNC_WIRE_VERSION}`)
  oneOf(o.type, 'message.type', TYPES)
  return o as Frame
}

function request (o: Frame, limits: KvSyncLimits): KvSyncRequest {
  switch (o.type) {
    case 'root':
      onlyKeys(o, 'message', ['v', 'type'])
      return { v: 1, type: 'root' }
    case 'nodes':
      onlyKeys(o, 'message', ['v', 'type', 'ids'])
      return { v: 1, type: 'nodes', ids: ids(o.ids, 'message.ids', INTERNAL_ID, `an internal node id (0-${LEAF_DEPTH - 1} hex digits)`) }
    case 'leaves': {
      onlyKeys(o, 'message', ['v', 'type', 'ids', 'after'])
      const out: KvSyncRequest = { v: 1, type: 'leaves', ids: ids(o.ids, 'message.ids', LEAF_ID, `a leaf id (${LEAF_DEPTH} hex digits)`) }
      if (o.after !== undefined) out.after = validateKey(o.after, limits.maxKeyBytes, 'message.after')
      return out
    }
    case 'get':
      onlyKeys(o, 'message', ['v', 'type', 'keys'])
      return { v: 1, type: 'get', keys: items(o.keys, 'message.keys', KV_SYNC_BATCH, (k, path) => validateKey(k, limits.maxKeyBytes, path)) }
    case 'store':
      onlyKeys(o, 'message', ['v', 'type', 'event'])
      record(o.event, 'message.event')
      return { v: 1, type: 'store', event: o.event }
    default:
      return fail('message.type', o.type, 'a request type (root, nodes, leaves, get, store)')
  }
}

function response (o: Frame, limits: KvSyncLimits): KvSyncResponse {
  switch (o.type) {
    case 'root':
      onlyKeys(o, 'message', ['v', 'type', 'hash', 'count'])
      return { v: 1, type: 'root', hash: hash(o.hash, 'message.hash'), count: safeInt(o.count, 'message.count') }
    case 'nodes':
      onlyKeys(o, 'message', ['v', 'type', 'nodes'])
      return {
        v: 1,
        type: 'nodes',
        nodes: items(o.nodes, 'message.nodes', 16 * KV_SYNC_BATCH, (n, path) => {
          const e = record(n, path)
          onlyKeys(e, path, ['id', 'hash'])
          if (typeof e.id !== 'string' || !CHILD_ID.test(e.id)) fail(`${path}.id`, e.id, `a child node id (1-${LEAF_DEPTH} hex digits)`)
          return { id: e.id, hash: hash(e.hash, `${path}.hash`) }
        })
      }
    case 'leaves':
      onlyKeys(o, 'message', ['v', 'type', 'entries', 'more'])
      return {
        v: 1,
        type: 'leaves',
        entries: items(o.entries, 'message.entries', KV_SYNC_MAX_LEAF_ENTRIES, (n, path) => {
          const e = record(n, path)
          onlyKeys(e, path, ['key', 'version'])
          return { key: validateKey(e.key, limits.maxKeyBytes, `${path}.key`), version: validateKvVersion(e.version, `${path}.version`) }
        }),
        more: bool(o.more, 'message.more')
      }
    case 'records':
      onlyKeys(o, 'message', ['v', 'type', 'records', 'more'])
      return { v: 1, type: 'records', records: Array.from(list(o.records, 'message.records', KV_SYNC_BATCH)), more: bool(o.more, 'message.more') }
    case 'stored': {
      onlyKeys(o, 'message', ['v', 'type', 'ok', 'reason'])
      const out: KvSyncResponse = { v: 1, type: 'stored', ok: bool(o.ok, 'message.ok') }
      if (o.reason !== undefined) out.reason = string(o.reason, 'message.reason', MAX_REASON)
      return out
    }
    default:
      return fail('message.type', o.type, 'a response type (root, nodes, leaves, records, stored)')
  }
}

function ids (v: unknown, path: string, re: RegExp, expected: string): string[] {
  return items(v, path, KV_SYNC_BATCH, (id, p) => {
    if (typeof id !== 'string' || !re.test(id)) fail(p, id, expected)
    return id
  })
}

/** Checks each item of a bounded list; a hole counts as undefined (Array.prototype.map would skip it). */
function items<T> (v: unknown, path: string, max: number, check: (item: unknown, path: string) => T): T[] {
  const l = list(v, path, max)
  const out: T[] = []
  for (let i = 0; i < l.length; i++) out.push(check(l[i], `${path}[${i}]`))
  return out
}

function hash (v: unknown, path: string): string {
  if (typeof v !== 'string' || !HASH.test(v)) fail(path, v, '64 lowercase hex digits')
  return v
}

function bool (v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, v, 'true or false')
  return v
}
