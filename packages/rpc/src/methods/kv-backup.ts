/**
 * kv.export and kv.import: the replica as signed records and back, for `shoal kv export/import` and
 * `shoal backup`. An exported record carries the signed event that wrote it, so an import is an ordinary merge
 * (signature checked, last writer wins by version): importing an older copy never overwrites newer data, and
 * importing twice changes nothing. Live keys only (as kv.list): a key deleted since stays deleted wherever the
 * tombstone still is, and deleted keys are not restored.
 */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import type { RpcContext } from './context.js'
import { KV_KEY, KV_PREFIX, PEER_ID } from './schemas.js'
import { verifyEvent } from '@shoal/node'

const define = methodsFor<RpcContext>()
type ShoalEvent = Parameters<typeof verifyEvent>[0]

/** The most records one import call takes (about 1 MiB of small records; the CLI sends batches of 200). */
export const KV_IMPORT_MAX_RECORDS = 1000

const KEY = KV_KEY
const SIGNED_EVENT = Type.Object({
  v: Type.Integer({ minimum: 1 }),
  type: Type.String(),
  topic: Type.String(),
  origin: PEER_ID,
  seq: Type.Integer({ minimum: 1 }),
  hlc: Type.Object({ wall: Type.Integer({ minimum: 0 }), logical: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  trace: Type.Optional(Type.String()),
  data: Type.String({ description: 'the signed payload, JSON text' }),
  sig: Type.String({ description: 'base64url Ed25519 signature by origin' })
}, { additionalProperties: false, description: 'the signed event that wrote a record (docs/protocols/events.md)' })
const EXPORTED = Type.Object({
  key: KEY,
  value: Type.Unknown(),
  version: Type.Object({ wall: Type.Integer({ minimum: 0 }), logical: Type.Integer({ minimum: 0 }), node: PEER_ID }, { additionalProperties: false }),
  event: SIGNED_EVENT
}, { additionalProperties: false })

export const kvExport = define({
  name: 'kv.export',
  description: 'Live records with the signed events that wrote them, in key order, optionally under a prefix; page with `cursor` = the previous `next`. One JSON line each is the `shoal kv export` format.',
  params: Type.Object({ prefix: Type.Optional(KV_PREFIX), cursor: Type.Optional(KEY), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 200' })) }, { additionalProperties: false }),
  result: Type.Object({ records: Type.Array(EXPORTED), next: Type.Optional(KEY) }, { additionalProperties: false }),
  handler: async (p, ctx) => {
    const page = await ctx.node.kv.list({ prefix: p.prefix, cursor: p.cursor, limit: p.limit ?? 200 })
    return {
      records: page.records.map(r => ({ key: r.key, value: r.value, version: r.version, event: { ...r.event } })),
      ...(page.next !== undefined ? { next: page.next } : {})
    }
  }
})

export const kvImport = define({
  name: 'kv.import',
  description: 'Merges exported records (their signed events) into this replica by the normal rules, fsynced; they then replicate like any write. Returns how many records changed here and how many were refused (bad signature, malformed, past the tombstone horizon).',
  params: Type.Object({ records: Type.Array(Type.Object({ event: SIGNED_EVENT }, { additionalProperties: true }), { maxItems: KV_IMPORT_MAX_RECORDS }) }, { additionalProperties: false }),
  result: Type.Object({ received: Type.Integer({ minimum: 0 }), changed: Type.Integer({ minimum: 0 }), refused: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  errors: [{ code: RpcErrorCode.INVALID_PARAMS, message: `more than ${KV_IMPORT_MAX_RECORDS} records, or a record without its signed event` }],
  handler: async (p, ctx) => {
    // The door for records from a file: the KV service's merge trusts its callers to have checked signatures
    // (gossip's validator does for live events), so each one is verified here, once.
    const events = p.records.map(r => r.event as unknown as ShoalEvent)
    const signed = await Promise.all(events.map(async e => await verifyEvent(e).catch(() => false)))
    const good = events.filter((_, i) => signed[i] === true)
    const before = ctx.node.kv.stats().rejected
    const changed = good.length > 0 ? await ctx.node.kv.applyEvents(good, { sync: true }) : 0
    const malformed = ctx.node.kv.stats().rejected - before
    return { received: events.length, changed, refused: events.length - good.length + malformed }
  }
})
