/**
 * kv.export and kv.import: the replica as signed records and back, for `shoal kv export/import` and
 * `shoal backup`. An exported record carries the signed event that wrote it, so an import is an ordinary merge
 * (signature checked, last writer wins by version): importing an older copy never overwrites newer data, and
 * importing twice changes nothing. Live keys only (as kv.list): a key deleted since stays deleted wherever the
 * tombstone still is, and deleted keys are not restored.
 */
import { s } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import type { RpcContext } from './context.js'
import { PEER_ID } from './schemas.js'
import { verifyEvent } from '@shoal/node'

const define = methodsFor<RpcContext>()
type ShoalEvent = Parameters<typeof verifyEvent>[0]

/** The most records one import call takes (about 1 MiB of small records; the CLI sends batches of 200). */
export const KV_IMPORT_MAX_RECORDS = 1000

const KEY = s.string({ minLength: 1, maxLength: 512 })
const SIGNED_EVENT = s.object({
  v: s.integer({ min: 1 }),
  type: s.string(),
  topic: s.string(),
  origin: PEER_ID,
  seq: s.integer({ min: 1 }),
  hlc: s.object({ wall: s.integer({ min: 0 }), logical: s.integer({ min: 0 }) }),
  trace: s.optional(s.string()),
  data: s.string({ description: 'the signed payload, JSON text' }),
  sig: s.string({ description: 'base64url Ed25519 signature by origin' })
}, { description: 'the signed event that wrote a record (docs/protocols/events.md)' })
const EXPORTED = s.object({
  key: KEY,
  value: s.any(),
  version: s.object({ wall: s.integer({ min: 0 }), logical: s.integer({ min: 0 }), node: PEER_ID }),
  event: SIGNED_EVENT
})

export const kvExport = define({
  name: 'kv.export',
  description: 'Live records with the signed events that wrote them, in key order, optionally under a prefix; page with `cursor` = the previous `next`. One JSON line each is the `shoal kv export` format.',
  params: s.object({ prefix: s.optional(s.string({ maxLength: 512 })), cursor: s.optional(KEY), limit: s.optional(s.integer({ min: 1, max: 1000, description: 'default 200' })) }),
  result: s.object({ records: s.array(EXPORTED), next: s.optional(KEY) }),
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
  params: s.object({ records: s.array(s.object({ event: SIGNED_EVENT }, { additionalProperties: true }), { maxItems: KV_IMPORT_MAX_RECORDS }) }),
  result: s.object({ received: s.integer({ min: 0 }), changed: s.integer({ min: 0 }), refused: s.integer({ min: 0 }) }),
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
