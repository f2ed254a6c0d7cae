/** events.* methods: publish, list and stats over HTTP; the WebSocket subscription lives beside them. */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcError, RpcErrorCode } from '../errors.js'
import { subscriptionsFor } from '../subscription.js'
import type { Delivered } from '@shoal/node'
import { EVENT_TOPIC, eventTypeSchema } from '@shoal/core'
import type { RpcContext } from './context.js'
import { PEER_ID, WRITE_REFUSED } from './schemas.js'

const define = methodsFor<RpcContext>()

/** The JSON-RPC code for a cursor older than the log's retention (ERR_COMPACTED). */
export const COMPACTED_CODE = -32010
/** Same code the WebSocket server uses when it drops a reader that fell behind. */
const SLOW_CONSUMER_CODE = -32011

/** The wire event's topic rule (core EVENT_TOPIC): what publish accepts is what every peer's check accepts. */
export const TOPIC = EVENT_TOPIC
export const CURSOR = Type.Integer({ minimum: 0, description: 'a local sequence number (LSN) from an earlier event or `next`; 0 = from the start' })

export const EVENT = Type.Object({
  lsn: Type.Integer({ minimum: 1, description: "this node's delivery order: the cursor to resume after this event" }),
  origin: PEER_ID,
  seq: Type.Integer({ minimum: 1, description: 'per-origin sequence number' }),
  topic: Type.String(),
  type: Type.String(),
  hlc: Type.Object({ wall: Type.Integer({ minimum: 0 }), logical: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  trace: Type.Optional(Type.String()),
  data: Type.Unknown({ description: 'the published JSON value' })
}, { additionalProperties: false })

export function toWire (d: Delivered): {
  lsn: number, origin: string, seq: number, topic: string, type: string, hlc: { wall: number, logical: number }, trace?: string, data: unknown
} {
  const e = d.event
  return { lsn: d.lsn, origin: e.origin, seq: e.seq, topic: e.topic, type: e.type, hlc: e.hlc, ...(e.trace !== undefined ? { trace: e.trace } : {}), data: JSON.parse(e.data) }
}

export const eventsPublish = define({
  name: 'events.publish',
  description: 'Publishes an event on a topic: signed, stored durably here, then gossiped; peers that miss the gossip pull it later. Returns its identity.',
  params: Type.Object({
    topic: TOPIC,
    data: Type.Unknown({ description: 'any JSON value; at most events.maxPayloadBytes (default 64 KiB) when serialised' }),
    type: Type.Optional(eventTypeSchema({ description: "event type (default 'user'): a lowercase letter or digit, then a-z 0-9 . _ -" }))
  }, { additionalProperties: false }),
  result: Type.Object({ origin: PEER_ID, seq: Type.Integer({ minimum: 1 }), hlc: Type.Object({ wall: Type.Integer({ minimum: 0 }), logical: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), lsn: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  errors: [{ code: RpcErrorCode.INVALID_PARAMS, message: 'data too large, or not JSON' }, WRITE_REFUSED],
  handler: async (params, ctx, { trace }) => {
    const r = await ctx.node.events.publish(params.topic, JSON.stringify(params.data ?? null), { ...(params.type === undefined ? {} : { type: params.type }), trace })
    return { origin: r.origin, seq: r.seq, hlc: r.hlc, lsn: r.lsn }
  }
})

export const eventsList = define({
  name: 'events.list',
  description: "Events this node has delivered after a cursor, in delivery order (per origin always in seq order). Page with `next`.",
  params: Type.Object({
    topic: Type.Optional(TOPIC),
    since: Type.Optional(CURSOR),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 100' }))
  }, { additionalProperties: false }),
  result: Type.Object({ events: Type.Array(EVENT), next: CURSOR }, { additionalProperties: false }),
  errors: [{ code: COMPACTED_CODE, message: 'compacted: the cursor is older than the retention window (data.compactedLsn says where to resume)' }],
  handler: async (params, ctx) => {
    const page = await ctx.node.events.list({ topic: params.topic, since: params.since, limit: params.limit ?? 100 })
    return { events: page.events.map(toWire), next: page.next }
  }
})

export const eventsStats = define({
  name: 'events.stats',
  description: "The event log here: last LSN, events stored, per-origin contiguous heads, and counters (published, received, duplicates, repaired, rejected by reason).",
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({
    origin: PEER_ID,
    lastLsn: Type.Integer({ minimum: 0 }),
    stored: Type.Integer({ minimum: 0 }),
    origins: Type.Integer({ minimum: 0 }),
    heads: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    published: Type.Integer({ minimum: 0 }),
    received: Type.Integer({ minimum: 0 }),
    duplicates: Type.Integer({ minimum: 0 }),
    repaired: Type.Integer({ minimum: 0 }),
    gapsSkipped: Type.Integer({ minimum: 0 }),
    rejected: Type.Record(Type.String(), Type.Integer({ minimum: 0 }))
  }, { additionalProperties: false }),
  handler: (_params, ctx) => ctx.node.events.stats()
})

/** Catch-up pauses while this much is queued on the socket, so a reader sets the pace... */
const SUBSCRIBER_HIGH_WATER_BYTES = 1024 * 1024
/** ...and a reader that takes nothing for this long is dropped with an error instead of held forever. */
const SUBSCRIBER_STALL_MS = 30_000

const subscription = subscriptionsFor<RpcContext>()

export const eventsSubscribe = subscription({
  name: 'events.subscribe',
  description: 'WebSocket only. Sends every event delivered after `since` (an LSN cursor; default: only new events), then each new one as it is delivered, in delivery order (per origin in seq order). Resume after a disconnect with the last `lsn` you received: nothing after it is missed, and LSNs only grow (with gaps). Events gossiped from other nodes come as soon as their LSN is set, a moment before `events.list` has them; after a crash of this node, those it had not yet written may come again under new LSNs, so identify events by (origin, seq). A cursor older than retention ends the subscription with `compacted` (-32010); a reader too slow for 30 s is dropped.',
  params: Type.Object({ topic: Type.Optional(TOPIC), since: Type.Optional(CURSOR) }, { additionalProperties: false }),
  notification: EVENT,
  errors: [{ code: COMPACTED_CODE, message: 'compacted: the cursor is older than the retention window' }],
  subscribe: async (params, ctx, sink, { signal }) => {
    const since = params.since ?? ctx.node.events.stats().lastLsn
    for await (const delivered of ctx.node.events.follow({ topic: params.topic, since }, signal)) {
      const stalledSince = Date.now()
      while (sink.bufferedBytes > SUBSCRIBER_HIGH_WATER_BYTES && !signal.aborted) {
        if (Date.now() - stalledSince > SUBSCRIBER_STALL_MS) throw new RpcError(SLOW_CONSUMER_CODE, `slow consumer: took nothing for ${SUBSCRIBER_STALL_MS / 1000} s`)
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      if (!sink.send(toWire(delivered))) return
    }
  }
})
