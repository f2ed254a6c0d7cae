/**
 * kv.export and kv.import: the replica as signed records and back, for `shoal kv export/import` and
 * `shoal backup`. An exported record carries the signed event that wrote it, so an import is an ordinary merge
 * (signature checked, last writer wins by version): importing an older copy never overwrites newer data, and
 * importing twice changes nothing.
 *
 * An export reads one LevelDB snapshot across all its pages (the node's KvExports): the copy is the replica of
 * one instant, tombstones included (a deleted key is exported as its delete, so an import deletes it wherever an
 * older put survives, and a restored node cannot bring it back). The first call opens the snapshot; `cursor`
 * (the previous `next`) names it and the position in it; the last page, a failed read, or 30 s without a call
 * release it; at most 4 are open at once (docs/operations.md, "Backup and restore").
 */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcError, RpcErrorCode } from '../errors.js'
import type { RpcContext } from './context.js'
import { KV_KEY, KV_PREFIX, PEER_ID } from './schemas.js'
import { verifyEvent, KV_EXPORT_MAX_OPEN, KV_EXPORT_IDLE_MS } from '@shoal/node'

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
const VERSION = Type.Object({ wall: Type.Integer({ minimum: 0 }), logical: Type.Integer({ minimum: 0 }), node: PEER_ID }, { additionalProperties: false })
const EXPORTED = Type.Object({
  key: KEY,
  value: Type.Optional(Type.Unknown()),
  tombstone: Type.Optional(Type.Boolean({ description: 'true: the key was deleted (no value); importing it deletes older copies' })),
  version: VERSION,
  event: SIGNED_EVENT
}, { additionalProperties: false })
const SNAPSHOT = Type.Object({
  appliedLsn: Type.Integer({ minimum: 0, description: 'the event-log LSN the replica had applied at the snapshot' }),
  maxVersion: Type.Optional(VERSION),
  keys: Type.Integer({ minimum: 0 }),
  tombstones: Type.Integer({ minimum: 0 }),
  lastChange: Type.Integer({ minimum: 0, description: 'the last local change number at the snapshot' }),
  takenAt: Type.Integer({ minimum: 0, description: 'when the snapshot was taken, ms since the epoch (node clock)' })
}, { additionalProperties: false, description: 'the instant the export copies; the same on every page' })

/** `<export id>.<base64url of the last key>`: which snapshot, and where in it. */
const encodeCursor = (id: string, key: string): string => `${id}.${Buffer.from(key).toString('base64url')}`
function decodeCursor (cursor: string): { id: string, after: string } {
  const dot = cursor.indexOf('.')
  if (dot <= 0) throw new RpcError(RpcErrorCode.INVALID_PARAMS, 'cursor is not a kv.export `next`', { field: 'cursor', value: cursor, expected: 'the `next` of a kv.export page' })
  return { id: cursor.slice(0, dot), after: Buffer.from(cursor.slice(dot + 1), 'base64url').toString() }
}

export const kvExport = define({
  name: 'kv.export',
  description: `Records (tombstones included) with the signed events that wrote them, in key order, optionally under a prefix, all from one snapshot of the replica: the first call takes it, later calls pass \`cursor\` = the previous \`next\` (and the same prefix is kept); no \`next\` means done and released. A snapshot idle ${KV_EXPORT_IDLE_MS / 1000} s is released (then the cursor gets NOT_FOUND); at most ${KV_EXPORT_MAX_OPEN} are open (more: UNAVAILABLE). One JSON line per record is the \`shoal kv export\` format.`,
  params: Type.Object({ prefix: Type.Optional(KV_PREFIX), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 200' })) }, { additionalProperties: false }),
  result: Type.Object({ records: Type.Array(EXPORTED), next: Type.Optional(Type.String()), snapshot: SNAPSHOT }, { additionalProperties: false }),
  errors: [
    { code: RpcErrorCode.NOT_FOUND, message: 'the cursor\'s snapshot was released (finished, failed or idle): start again' },
    { code: RpcErrorCode.UNAVAILABLE, message: `${KV_EXPORT_MAX_OPEN} exports are open, or the node is stopping` }
  ],
  handler: async (p, ctx) => {
    const exports = ctx.node.kv.exports
    const limit = p.limit ?? 200
    let id: string
    let page
    if (p.cursor === undefined) {
      page = await exports.start({ prefix: p.prefix, limit })
      id = page.id
    } else {
      const at = decodeCursor(p.cursor)
      id = at.id
      page = await exports.page(id, { after: at.after, limit })
    }
    const last = page.records.at(-1)
    return {
      records: page.records.map(r => ({
        key: r.key,
        ...(r.tombstone ? { tombstone: true } : { value: r.value }),
        version: r.version,
        event: { ...r.event }
      })),
      ...(page.more && last !== undefined ? { next: encodeCursor(id, last.key) } : {}),
      snapshot: page.info
    }
  }
})

export const kvImport = define({
  name: 'kv.import',
  description: 'Merges exported records (their signed events) into this replica by the normal rules, fsynced; then every live member is asked to pull them (anti-entropy), as gossip does not carry them. Returns how many records changed here and how many were refused (bad signature, malformed, past the tombstone horizon).',
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
    const changed = good.length > 0 ? await ctx.node.kv.importEvents(good) : 0
    const malformed = ctx.node.kv.stats().rejected - before
    return { received: events.length, changed, refused: events.length - good.length + malformed }
  }
})
