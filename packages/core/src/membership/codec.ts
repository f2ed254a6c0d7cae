/**
 * Wire form of membership messages, /shoal/<swarm>/membership/1.0.0 (docs/protocols/membership.md).
 * JSON in length-prefixed frames; every field is checked before it reaches the state machine. The shapes are
 * schemas (schema/): the types, the check and the message naming the first bad field all follow from them.
 */
import { MAX_ADDRS_PER_MEMBER, MAX_CAPABILITIES, MAX_MEMBERS_PER_SYNC, MAX_PIGGYBACK_UPDATES } from '../constants.js'
import { checked, Type, type Static } from '../schema/index.js'
import type { MemberUpdate } from './types.js'

export const MEMBERSHIP_WIRE_VERSION = 1

/**
 * The capability (in a member's `alive` update) of a node that accepts `wall` in the acks it gets: its own
 * release's schema knows the field. A node adds `wall` only to acks for a pinger that announced it, so a node of an
 * earlier release, whose schema refuses unknown fields, never sees one (docs/protocols/membership.md, "Clock
 * samples in acks").
 */
export const ACK_WALL_CAPABILITY = 'swim:ack-wall'

const MAX_ID = 128
const MAX_ADDR = 256
const strict = { additionalProperties: false } as const

const ID = Type.String({ minLength: 1, maxLength: MAX_ID })
/** Incarnations and sequence numbers: exact in a double, never negative. */
const COUNTER = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const NAMES = (maxItems: number, maxLength: number) => Type.Array(Type.String({ minLength: 1, maxLength }), { maxItems })

export const MEMBER_UPDATE = Type.Union([
  Type.Object({
    kind: Type.Literal('alive'),
    id: ID,
    incarnation: COUNTER,
    addrs: NAMES(MAX_ADDRS_PER_MEMBER, MAX_ADDR),
    version: Type.String({ minLength: 1, maxLength: 64 }),
    capabilities: NAMES(MAX_CAPABILITIES, 64)
  }, strict),
  Type.Object({ kind: Type.Literal('suspect'), id: ID, incarnation: COUNTER, from: ID }, strict),
  Type.Object({ kind: Type.Literal('dead'), id: ID, incarnation: COUNTER, from: ID }, strict),
  Type.Object({ kind: Type.Literal('left'), id: ID, incarnation: COUNTER }, strict)
])

const UPDATES = Type.Array(MEMBER_UPDATE, { maxItems: MAX_MEMBERS_PER_SYNC })
const V = Type.Literal(MEMBERSHIP_WIRE_VERSION)

export const SWIM_MESSAGE = Type.Union([
  Type.Object({ v: V, type: Type.Literal('ping'), seq: COUNTER, updates: UPDATES }, strict),
  Type.Object({ v: V, type: Type.Literal('ping-req'), seq: COUNTER, target: ID, updates: UPDATES }, strict),
  Type.Object({
    v: V,
    type: Type.Literal('ack'),
    seq: COUNTER,
    ok: Type.Boolean(),
    updates: UPDATES,
    /** The responder's wall clock (ms since the epoch) as it answered a direct ping: a clock sample for the pinger. */
    wall: Type.Optional(Type.Number({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))
  }, strict),
  Type.Object({ v: V, type: Type.Literal('sync'), updates: UPDATES }, strict)
])

export type SwimMessage = Static<typeof SWIM_MESSAGE>

/** The payload of a 'membership.update' gossip message: updates piggybacked on the topic. */
export const MEMBERSHIP_GOSSIP = Type.Object({ updates: Type.Array(MEMBER_UPDATE, { maxItems: MAX_PIGGYBACK_UPDATES }) }, strict)

export function validateMembershipGossip (v: unknown, path = 'payload'): { updates: MemberUpdate[] } {
  const p = checked(MEMBERSHIP_GOSSIP, v, path)
  return { updates: p.updates }
}

export function validateMemberUpdate (v: unknown, path = 'update'): MemberUpdate {
  return checked(MEMBER_UPDATE, v, path)
}

export function validateUpdates (v: unknown, path: string): MemberUpdate[] {
  return checked(UPDATES, v, path)
}

export function validateSwimMessage (v: unknown): SwimMessage {
  return checked(SWIM_MESSAGE, v, 'message')
}
