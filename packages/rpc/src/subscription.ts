/**
 * Subscriptions: the push half of the RPC. A client calls a subscription method over the WebSocket endpoint,
 * gets `{ subscription: id }`, then notifications until it unsubscribes, the socket closes, the server stops
 * or the subscriber ends it. Defined like methods (name, doc, params schema, notification schema), so the
 * server's validation and the docs come from one place.
 */
import type { HandlerOptions, MethodErrorDoc } from './method-table.js'
import type { Infer, ObjectSchema, Schema } from './schema.js'

/** The WebSocket endpoint, beside `POST /rpc` on the same HTTP server. */
export const WS_PATH = '/rpc/ws'

/** Subprotocol a browser offers (with `bearer.<token>`) because it cannot set an Authorization header. */
export const WS_SUBPROTOCOL = 'shoal-rpc'

/** Ends a subscription: `rpc.unsubscribe { subscription }` answers true, or false for an unknown id. */
export const UNSUBSCRIBE_METHOD = 'rpc.unsubscribe'

export interface SubscriptionSink<T> {
  /**
   * Queues one notification. False when it was not sent and never will be: the subscription ended, the socket
   * is gone, or the client is being dropped as a slow consumer. Stop producing then (the signal aborts too).
   */
  send: (notification: T) => boolean
  /** Ends the subscription with an error notification; app codes are mapped through the server's error table. */
  error: (err: unknown) => void
  /** Bytes queued on this socket and not yet handed to the OS: a subscriber may coalesce or skip when high. */
  readonly bufferedBytes: number
}

export interface SubscriptionSpec<Ctx, N extends string = string, P extends ObjectSchema = ObjectSchema, T extends Schema = Schema> {
  name: N
  description: string
  /** Named params only: always an object schema. */
  params: P
  /** The schema of each notification's `result`. */
  notification: T
  errors?: readonly MethodErrorDoc[]
  /**
   * Starts producing, after the client has its subscription id. May return at once (after registering
   * listeners that stop on `signal`) or run a loop until `signal` aborts. A throw or rejection ends the
   * subscription like `sink.error`.
   */
  subscribe: (params: Infer<P>, ctx: Ctx, sink: SubscriptionSink<Infer<T>>, opts: HandlerOptions) => Promise<void> | void
}

export interface SubscriptionDef<Ctx, N extends string = string, P extends ObjectSchema = ObjectSchema, T extends Schema = Schema>
  extends SubscriptionSpec<Ctx, N, P, T> {
  readonly kind: 'subscription'
}

/** Subscriptions as a list or a record (keys ignored), passed to the server as `subscriptions`. */
export type SubscriptionTable<Ctx> = readonly SubscriptionDef<Ctx, string, any, any>[] |
Readonly<Record<string, SubscriptionDef<Ctx, string, any, any>>>

/** Identity function that fixes the types: params and notifications are inferred from their schemas. */
export function defineSubscription<const N extends string, P extends ObjectSchema, T extends Schema, Ctx = unknown> (
  spec: SubscriptionSpec<Ctx, N, P, T>
): SubscriptionDef<Ctx, N, P, T> {
  if (spec.name.startsWith('rpc.')) throw new TypeError(`subscription names starting with "rpc." are reserved: ${spec.name}`)
  return { ...spec, kind: 'subscription' }
}

/** `const subscription = subscriptionsFor<NodeContext>()`: ctx typed once for a whole table. */
export function subscriptionsFor<Ctx> () {
  return <const N extends string, P extends ObjectSchema, T extends Schema>(spec: SubscriptionSpec<Ctx, N, P, T>): SubscriptionDef<Ctx, N, P, T> =>
    defineSubscription<N, P, T, Ctx>(spec)
}

export function listSubscriptions<Ctx> (table: SubscriptionTable<Ctx> | undefined): Array<SubscriptionDef<Ctx, string, any, any>> {
  if (table === undefined) return []
  return Array.isArray(table) ? [...table] : Object.values(table)
}
