/** Result shapes and error docs shared by several methods. */
import { RpcErrorCode } from '../errors.js'
import { Type } from '../schema.js'

/** Why a write (kv.put, kv.delete, events.publish, task.submit) may be refused with nothing written anywhere. */
export const WRITE_REFUSED = {
  code: RpcErrorCode.UNAVAILABLE,
  message: "nothing written: the disk is full or the store failed, this node's clock is off the swarm's, or a node restored from a backup has not yet learned its last seq from a peer"
} as const

export const MULTIADDR = Type.String({ minLength: 1, maxLength: 1024, pattern: '^/', description: 'a multiaddr, e.g. /ip4/127.0.0.1/tcp/7700/p2p/12D3Koo…' })
/**
 * A KV key. Its length limit is kv.maxKeyBytes of the running config (UTF-8 bytes), which the node checks where
 * the config lives (core kv/record.ts validateKey); a copy of the number here would disagree with a node
 * configured otherwise. A too-long key answers -32602 with data { field: 'params.key', value: '<n> bytes',
 * expected: 'at most <max> UTF-8 bytes' }.
 */
export const KV_KEY = Type.String({ minLength: 1, description: 'UTF-8 text without NUL, at most kv.maxKeyBytes bytes (the running config; default 512)' })
/** A key prefix: any text (a prefix longer than the longest key simply matches nothing). */
export const KV_PREFIX = Type.String({ description: 'only keys that start with this text' })

export const PEER_ID = Type.String({ minLength: 1, maxLength: 128, description: 'a libp2p peer id' })

export const MEMBER = Type.Object({
  id: PEER_ID,
  state: Type.Enum(['alive', 'suspect', 'dead', 'left']),
  incarnation: Type.Integer({ minimum: 0 }),
  addrs: Type.Array(Type.String()),
  version: Type.String(),
  capabilities: Type.Array(Type.String()),
  lastSeen: Type.Integer({ minimum: 0, description: 'ms since the epoch this node last heard from the member directly; 0 if never' }),
  stateSince: Type.Integer({ minimum: 0 })
}, { additionalProperties: false })

export const PEER = Type.Object({
  peerId: PEER_ID,
  addresses: Type.Array(Type.String()),
  direction: Type.String(),
  member: Type.Boolean({ description: 'whether the peer is a live member of this swarm' })
}, { additionalProperties: false })
