/**
 * Wire form of the event repair protocol, /shoal/<swarm>/events/1.0.0 (docs/protocols/events.md): one
 * length-prefixed JSON frame each way per stream. Every field is checked here; the events inside an 'events'
 * reply are checked one by one by the node (classifyEvent, then signature and clock).
 */
import { EVENT_MAX_DIGEST_ORIGINS, EVENT_MAX_PULL_LIMIT } from '../constants.js'
import { checked, Type, type Static } from '../schema/index.js'
import { EVENT_ORIGIN, EVENT_SEQ } from './event.js'

export const REPAIR_WIRE_VERSION = 1

/** origin -> contiguous: every seq 1..contiguous is held (or was compacted). A null-prototype object. */
export type EventHeads = Record<string, number>

const strict = { additionalProperties: false } as const
const V = Type.Literal(REPAIR_WIRE_VERSION)
const MAX_ERROR_MESSAGE = 256

/**
 * origin -> contiguous: keys are origins (never '__proto__'), values counts >= 0, at most EVENT_MAX_DIGEST_ORIGINS
 * of them.
 */
export const EVENT_HEADS = Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), {
  propertyNames: EVENT_ORIGIN,
  maxProperties: EVENT_MAX_DIGEST_ORIGINS
})

export const REPAIR_MESSAGE = Type.Union([
  Type.Object({ v: V, type: Type.Literal('digest'), heads: EVENT_HEADS }, strict),
  Type.Object({ v: V, type: Type.Literal('pull'), origin: EVENT_ORIGIN, from: EVENT_SEQ, limit: Type.Integer({ minimum: 1, maximum: EVENT_MAX_PULL_LIMIT }) }, strict),
  Type.Object({ v: V, type: Type.Literal('events'), events: Type.Array(Type.Unknown(), { maxItems: EVENT_MAX_PULL_LIMIT }), more: Type.Boolean() }, strict),
  /**
   * Every seq below `compactedBelow` is compacted at the answering peer. `first` is the event it holds at
   * `compactedBelow`, signed by its origin: the only evidence a node accepts for skipping a gap (a peer's word
   * alone must not make a node skip an origin). Absent when the peer holds nothing from there.
   */
  Type.Object({ v: V, type: Type.Literal('error'), code: Type.Literal('compacted'), compactedBelow: EVENT_SEQ, first: Type.Optional(Type.Unknown()) }, strict),
  Type.Object({ v: V, type: Type.Literal('error'), code: Type.Literal('bad-request'), message: Type.String({ minLength: 1, maxLength: MAX_ERROR_MESSAGE }) }, strict)
])

/** The events inside an 'events' reply stay unknown here: the node checks each (classifyEvent, signature, clock). */
export type RepairMessage = Exclude<Static<typeof REPAIR_MESSAGE>, { type: 'digest' }> | { v: 1, type: 'digest', heads: EventHeads }

export type RepairMessageType = RepairMessage['type']

/** Checks an untrusted repair frame; throws InvalidInputError naming the path of the first wrong field. */
export function validateRepairMessage (v: unknown): RepairMessage {
  const m = checked(REPAIR_MESSAGE, v, 'message')
  switch (m.type) {
    case 'digest': return { v: 1, type: m.type, heads: copyHeads(m.heads) }
    case 'pull': return { v: 1, type: m.type, origin: m.origin, from: m.from, limit: m.limit }
    case 'events': return { v: 1, type: m.type, events: m.events.slice(), more: m.more }
    case 'error':
      if (m.code === 'compacted') return { v: 1, type: m.type, code: m.code, compactedBelow: m.compactedBelow, ...(m.first !== undefined ? { first: m.first } : {}) }
      return { v: 1, type: m.type, code: m.code, message: m.message }
  }
}

/** A heads map from a peer (EVENT_HEADS), copied into a null-prototype object. */
export function validateHeads (v: unknown, path: string): EventHeads {
  return copyHeads(checked(EVENT_HEADS, v, path))
}

function copyHeads (checkedHeads: Record<string, number>): EventHeads {
  const heads: EventHeads = Object.create(null) as EventHeads
  for (const k of Object.keys(checkedHeads)) heads[k] = checkedHeads[k]!
  return heads
}

/**
 * What to pull after a digest exchange: every origin where the peer holds more contiguous events than we do,
 * starting after ours. Sorted by origin so a schedule replays exactly.
 */
export function pullsFromDigest (local: Readonly<EventHeads>, remote: Readonly<EventHeads>): Array<{ origin: string, from: number, to: number }> {
  const out: Array<{ origin: string, from: number, to: number }> = []
  for (const origin of Object.keys(remote).sort()) {
    const theirs = remote[origin]!
    const ours = Object.hasOwn(local, origin) ? local[origin]! : 0
    if (theirs > ours) out.push({ origin, from: ours + 1, to: theirs })
  }
  return out
}
