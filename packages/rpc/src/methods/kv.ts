/** kv.* methods: the replicated key-value store (docs/protocols/kv.md). */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import { subscriptionsFor } from '../subscription.js'
import type { RpcContext } from './context.js'
import { KV_KEY, KV_PREFIX, PEER_ID, WRITE_REFUSED } from './schemas.js'
import { COMPACTED_CODE } from './events.js'

const define = methodsFor<RpcContext>()
const subscription = subscriptionsFor<RpcContext>()

const KEY = KV_KEY
const VERSION = Type.Object({
  wall: Type.Integer({ minimum: 0 }),
  logical: Type.Integer({ minimum: 0 }),
  node: PEER_ID
}, { additionalProperties: false, description: 'HLC and origin of the winning write: last writer wins by (wall, logical, node)' })
const ACKS = Type.Union([
  Type.Integer({ minimum: 1, maximum: 1000 }),
  Type.Enum(['quorum', 'all'])
], { description: 'nodes (this one included) that must store the write durably before the call returns: a number, "quorum" or "all" of the alive members; default 1' })
const WRITE_RESULT = Type.Object({ key: KEY, version: VERSION, acked: Type.Integer({ minimum: 1 }), required: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })
const RECORD = Type.Object({ key: KEY, value: Type.Unknown(), version: VERSION }, { additionalProperties: false })
const WRITE_ERRORS = [
  { code: RpcErrorCode.INVALID_PARAMS, message: 'bad key, value too large, bad acks' },
  { code: RpcErrorCode.TIMEOUT, message: 'fewer nodes acknowledged than required in time; data: {acked, required}; the write stays and keeps replicating' },
  WRITE_REFUSED
]

export const kvPut = define({
  name: 'kv.put',
  description: 'Writes a key. Returns once `acks` nodes (default 1: this one) hold it durably.',
  params: Type.Object({ key: KEY, value: Type.Unknown({ description: 'any JSON value, at most kv.maxValueBytes (default 1 MiB) serialised' }), acks: Type.Optional(ACKS), timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })) }, { additionalProperties: false }),
  result: WRITE_RESULT,
  errors: WRITE_ERRORS,
  timeoutMs: 660_000,
  handler: async (p, ctx, { signal, trace }) => await ctx.node.kv.put(p.key, p.value, { acks: p.acks, timeoutMs: p.timeoutMs, signal, trace })
})

export const kvDelete = define({
  name: 'kv.delete',
  description: 'Deletes a key (a tombstone that wins or loses like any write, so the key never comes back).',
  params: Type.Object({ key: KEY, acks: Type.Optional(ACKS), timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })) }, { additionalProperties: false }),
  result: WRITE_RESULT,
  errors: WRITE_ERRORS,
  timeoutMs: 660_000,
  handler: async (p, ctx, { signal, trace }) => await ctx.node.kv.delete(p.key, { acks: p.acks, timeoutMs: p.timeoutMs, signal, trace })
})

export const kvGet = define({
  name: 'kv.get',
  description: "Reads a key from this node's replica.",
  params: Type.Object({ key: KEY }, { additionalProperties: false }),
  result: RECORD,
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such key (or deleted)' }],
  handler: async (p, ctx) => {
    const r = await ctx.node.kv.get(p.key)
    return { key: r.key, value: r.value, version: r.version }
  }
})

export const kvList = define({
  name: 'kv.list',
  description: 'Live keys in lexicographic order, optionally under a prefix; page with `cursor` = the previous `next`.',
  params: Type.Object({ prefix: Type.Optional(KV_PREFIX), cursor: Type.Optional(KEY), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 100' })) }, { additionalProperties: false }),
  result: Type.Object({ records: Type.Array(RECORD), next: Type.Optional(KEY) }, { additionalProperties: false }),
  handler: async (p, ctx) => {
    const page = await ctx.node.kv.list({ prefix: p.prefix, cursor: p.cursor, limit: p.limit ?? 100 })
    return { records: page.records.map(r => ({ key: r.key, value: r.value, version: r.version })), ...(page.next !== undefined ? { next: page.next } : {}) }
  }
})

const PEER_SYNC = Type.Object({ root: Type.Optional(Type.String()), match: Type.Boolean(), lastRound: Type.Optional(Type.Integer({ minimum: 0 })), lastMatch: Type.Optional(Type.Integer({ minimum: 0 })), lastError: Type.Optional(Type.String()) }, { additionalProperties: false })

export const kvStats = define({
  name: 'kv.stats',
  description: "This replica: live keys, tombstones, bytes, Merkle root, last change, and per peer the last anti-entropy round and whether roots matched.",
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({
    keys: Type.Integer({ minimum: 0 }),
    tombstones: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    root: Type.String(),
    lastChange: Type.Integer({ minimum: 0 }),
    appliedLsn: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0 }),
    lagMs: Type.Optional(Type.Integer({ minimum: 0, description: 'replication lag: ms since this replica was last known equal to every live peer (0 = in sync at the last rounds); absent until a round with each peer has run' })),
    traffic: Type.Object({ sent: Type.Integer({ minimum: 0 }), received: Type.Integer({ minimum: 0 }) }, { additionalProperties: false, description: 'bytes of anti-entropy messages since start' }),
    peers: Type.Record(Type.String(), PEER_SYNC)
  }, { additionalProperties: false }),
  handler: async (_p, ctx) => { await ctx.node.kv.freshTree(); return ctx.node.kv.stats() }
})

export const kvSyncStatus = define({
  name: 'kv.syncStatus',
  description: 'Asks every live member for its Merkle root now and says whether the swarm is converged (all roots equal to ours).',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({ root: Type.String(), converged: Type.Boolean(), peers: Type.Record(Type.String(), Type.Object({ root: Type.Optional(Type.String()), match: Type.Boolean(), error: Type.Optional(Type.String()) }, { additionalProperties: false })) }, { additionalProperties: false }),
  handler: async (_p, ctx, { signal }) => await ctx.node.kv.sync.convergence(signal)
})

export const kvWatch = subscription({
  name: 'kv.watch',
  description: 'WebSocket only. Changes to keys under `prefix` applied here after `since` (a change number; default: only new ones), each with the record that change stored (or `deleted`; when resuming from further back than the node keeps in memory, the key\'s current record). A write from another node is told while this node is still storing it, and `kv.get` of its key waits until that is done (if storing fails, reads return what is stored and the write is told again once repair brings it back). Change numbers only grow, with gaps: resume with the last `change`; across a crash of this node a change may be told twice. A cursor older than the change log gets `compacted` (-32010).',
  params: Type.Object({ prefix: Type.Optional(KV_PREFIX), since: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  notification: Type.Object({ change: Type.Integer({ minimum: 1 }), key: KEY, deleted: Type.Boolean(), value: Type.Optional(Type.Unknown()), version: Type.Optional(VERSION) }, { additionalProperties: false }),
  errors: [{ code: COMPACTED_CODE, message: 'compacted: the cursor is older than the change log' }],
  subscribe: async (p, ctx, sink, { signal }) => {
    for await (const c of ctx.node.kv.watch({ prefix: p.prefix, since: p.since }, signal)) {
      const r = c.record
      const sent = sink.send({ change: c.change, key: c.key, deleted: r === undefined || r.tombstone, ...(r !== undefined && !r.tombstone ? { value: r.value } : {}), ...(r !== undefined ? { version: r.version } : {}) })
      if (!sent) return
    }
  }
})
