/** kv.* methods: the replicated key-value store (docs/protocols/kv.md). */
import { s } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import { subscriptionsFor } from '../subscription.js'
import type { RpcContext } from './context.js'
import { PEER_ID } from './schemas.js'
import { COMPACTED_CODE } from './events.js'

const define = methodsFor<RpcContext>()
const subscription = subscriptionsFor<RpcContext>()

const KEY = s.string({ minLength: 1, maxLength: 512, description: 'UTF-8, at most kv.maxKeyBytes (default 512) bytes, no NUL' })
const VERSION = s.object({
  wall: s.integer({ min: 0 }),
  logical: s.integer({ min: 0 }),
  node: PEER_ID
}, { description: 'HLC and origin of the winning write: last writer wins by (wall, logical, node)' })
const ACKS = s.oneOf([
  s.integer({ min: 1, max: 1000 }),
  s.string({ enum: ['quorum', 'all'] as const })
], { description: 'nodes (this one included) that must store the write durably before the call returns: a number, "quorum" or "all" of the alive members; default 1' })
const WRITE_RESULT = s.object({ key: KEY, version: VERSION, acked: s.integer({ min: 1 }), required: s.integer({ min: 1 }) })
const RECORD = s.object({ key: KEY, value: s.any(), version: VERSION })
const WRITE_ERRORS = [
  { code: RpcErrorCode.INVALID_PARAMS, message: 'bad key, value too large, bad acks' },
  { code: RpcErrorCode.TIMEOUT, message: 'fewer nodes acknowledged than required in time; data: {acked, required}; the write stays and keeps replicating' }
]

export const kvPut = define({
  name: 'kv.put',
  description: 'Writes a key. Returns once `acks` nodes (default 1: this one) hold it durably.',
  params: s.object({ key: KEY, value: s.any({ description: 'any JSON value, at most kv.maxValueBytes (default 1 MiB) serialised' }), acks: s.optional(ACKS), timeoutMs: s.optional(s.integer({ min: 100, max: 600_000 })) }),
  result: WRITE_RESULT,
  errors: WRITE_ERRORS,
  timeoutMs: 660_000,
  handler: async (p, ctx, { signal, trace }) => await ctx.node.kv.put(p.key, p.value, { acks: p.acks, timeoutMs: p.timeoutMs, signal, trace })
})

export const kvDelete = define({
  name: 'kv.delete',
  description: 'Deletes a key (a tombstone that wins or loses like any write, so the key never comes back).',
  params: s.object({ key: KEY, acks: s.optional(ACKS), timeoutMs: s.optional(s.integer({ min: 100, max: 600_000 })) }),
  result: WRITE_RESULT,
  errors: WRITE_ERRORS,
  timeoutMs: 660_000,
  handler: async (p, ctx, { signal, trace }) => await ctx.node.kv.delete(p.key, { acks: p.acks, timeoutMs: p.timeoutMs, signal, trace })
})

export const kvGet = define({
  name: 'kv.get',
  description: "Reads a key from this node's replica.",
  params: s.object({ key: KEY }),
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
  params: s.object({ prefix: s.optional(s.string({ maxLength: 512 })), cursor: s.optional(KEY), limit: s.optional(s.integer({ min: 1, max: 1000, description: 'default 100' })) }),
  result: s.object({ records: s.array(RECORD), next: s.optional(KEY) }),
  handler: async (p, ctx) => {
    const page = await ctx.node.kv.list({ prefix: p.prefix, cursor: p.cursor, limit: p.limit ?? 100 })
    return { records: page.records.map(r => ({ key: r.key, value: r.value, version: r.version })), ...(page.next !== undefined ? { next: page.next } : {}) }
  }
})

const PEER_SYNC = s.object({ root: s.optional(s.string()), match: s.boolean(), lastRound: s.optional(s.integer({ min: 0 })), lastMatch: s.optional(s.integer({ min: 0 })), lastError: s.optional(s.string()) })

export const kvStats = define({
  name: 'kv.stats',
  description: "This replica: live keys, tombstones, bytes, Merkle root, last change, and per peer the last anti-entropy round and whether roots matched.",
  params: s.object({}),
  result: s.object({
    keys: s.integer({ min: 0 }),
    tombstones: s.integer({ min: 0 }),
    bytes: s.integer({ min: 0 }),
    root: s.string(),
    lastChange: s.integer({ min: 0 }),
    appliedLsn: s.integer({ min: 0 }),
    rejected: s.integer({ min: 0 }),
    lagMs: s.optional(s.integer({ min: 0, description: 'replication lag: ms since this replica was last known equal to every live peer (0 = in sync at the last rounds); absent until a round with each peer has run' })),
    traffic: s.object({ sent: s.integer({ min: 0 }), received: s.integer({ min: 0 }) }, { description: 'bytes of anti-entropy messages since start' }),
    peers: s.record(PEER_SYNC)
  }),
  handler: async (_p, ctx) => { await ctx.node.kv.freshTree(); return ctx.node.kv.stats() }
})

export const kvSyncStatus = define({
  name: 'kv.syncStatus',
  description: 'Asks every live member for its Merkle root now and says whether the swarm is converged (all roots equal to ours).',
  params: s.object({}),
  result: s.object({ root: s.string(), converged: s.boolean(), peers: s.record(s.object({ root: s.optional(s.string()), match: s.boolean(), error: s.optional(s.string()) })) }),
  handler: async (_p, ctx, { signal }) => await ctx.node.kv.sync.convergence(signal)
})

export const kvWatch = subscription({
  name: 'kv.watch',
  description: 'WebSocket only. Changes to keys under `prefix` applied here after `since` (a change number; default: only new ones), each with the record (or `deleted`). Resume with the last `change`; a cursor older than the change log gets `compacted` (-32010).',
  params: s.object({ prefix: s.optional(s.string({ maxLength: 512 })), since: s.optional(s.integer({ min: 0 })) }),
  notification: s.object({ change: s.integer({ min: 1 }), key: KEY, deleted: s.boolean(), value: s.optional(s.any()), version: s.optional(VERSION) }),
  errors: [{ code: COMPACTED_CODE, message: 'compacted: the cursor is older than the change log' }],
  subscribe: async (p, ctx, sink, { signal }) => {
    for await (const c of ctx.node.kv.watch({ prefix: p.prefix, since: p.since }, signal)) {
      const r = c.record
      const sent = sink.send({ change: c.change, key: c.key, deleted: r === undefined || r.tombstone, ...(r !== undefined && !r.tombstone ? { value: r.value } : {}), ...(r !== undefined ? { version: r.version } : {}) })
      if (!sent) return
    }
  }
})
