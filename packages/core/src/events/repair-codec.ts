/**
 * Wire form of the event repair protocol, /shoal/<swarm>/events/1.0.0 (docs/protocols/events.md): one
 * length-prefixed JSON frame each way per stream. Every field is checked here; the events inside an 'events'
 * reply are checked one by one by the node (classifyEvent, then signature and clock).
 */
import { EVENT_MAX_DIGEST_ORIGINS, EVENT_MAX_PULL_LIMIT } from '../constants.js'
import { fail, list, oneOf, onlyKeys, record, safeInt, string } from '../validate.js'
import { validateOrigin } from './event.js'

export const REPAIR_WIRE_VERSION = 1

/** origin -> contiguous: every seq 1..contiguous is held (or was compacted). A null-prototype object. */
export type EventHeads = Record<string, number>

export type RepairMessage =
  | { v: 1, type: 'digest', heads: EventHeads }
  | { v: 1, type: 'pull', origin: string, from: number, limit: number }
  | { v: 1, type: 'events', events: unknown[], more: boolean }
  /**
   * Every seq below `compactedBelow` is compacted at the answering peer. `first` is the event it holds at
   * `compactedBelow`, signed by its origin: the only evidence a node accepts for skipping a gap (a peer's word
   * alone must not make a node skip an origin). Absent when the peer holds nothing from there.
   */
  | { v: 1, type: 'error', code: 'compacted', compactedBelow: number, first?: unknown }
  | { v: 1, type: 'error', code: 'bad-request', message: string }

export type RepairMessageType = RepairMessage['type']

const MAX_ERROR_MESSAGE = 256

/** Checks an untrusted repair frame; throws InvalidInputError naming the path of the first wrong field. */
export function validateRepairMessage (v: unknown): RepairMessage {
  const o = record(v, 'message')
  if (o.v !== REPAIR_WIRE_VERSION) fail('message.v', o.v, `version ${REPAIR_WIRE_VERSION}`)
  const type = oneOf(o.type, 'message.type', ['digest', 'pull', 'events', 'error'] as const)
  switch (type) {
    case 'digest':
      onlyKeys(o, 'message', ['v', 'type', 'heads'])
      return { v: 1, type, heads: validateHeads(o.heads, 'message.heads') }
    case 'pull':
      onlyKeys(o, 'message', ['v', 'type', 'origin', 'from', 'limit'])
      return {
        v: 1,
        type,
        origin: validateOrigin(o.origin, 'message.origin'),
        from: safeInt(o.from, 'message.from', 1),
        limit: safeInt(o.limit, 'message.limit', 1, EVENT_MAX_PULL_LIMIT)
      }
    case 'events':
      onlyKeys(o, 'message', ['v', 'type', 'events', 'more'])
      if (typeof o.more !== 'boolean') fail('message.more', o.more, 'true or false')
      return { v: 1, type, events: list(o.events, 'message.events', EVENT_MAX_PULL_LIMIT).slice(), more: o.more }
    case 'error': {
      const code = oneOf(o.code, 'message.code', ['compacted', 'bad-request'] as const)
      if (code === 'compacted') {
        onlyKeys(o, 'message', ['v', 'type', 'code', 'compactedBelow', 'first'])
        const compactedBelow = safeInt(o.compactedBelow, 'message.compactedBelow', 1)
        return { v: 1, type, code, compactedBelow, ...(o.first !== undefined ? { first: o.first } : {}) }
      }
      onlyKeys(o, 'message', ['v', 'type', 'code', 'message'])
      return { v: 1, type, code, message: string(o.message, 'message.message', MAX_ERROR_MESSAGE) }
    }
  }
}

/**
 * A heads map from a peer, copied into a null-prototype object: keys are checked origins (never '__proto__'),
 * values are safe integers >= 0, and there are at most EVENT_MAX_DIGEST_ORIGINS of them.
 */
export function validateHeads (v: unknown, path: string): EventHeads {
  const o = record(v, path)
  const keys = Object.keys(o)
  if (keys.length > EVENT_MAX_DIGEST_ORIGINS) fail(path, `${keys.length} origins`, `at most ${EVENT_MAX_DIGEST_ORIGINS} origins`)
  const heads: EventHeads = Object.create(null) as EventHeads
  for (const k of keys) {
    validateOrigin(k, `${path}.${k}`)
    heads[k] = safeInt(o[k], `${path}.${k}`)
  }
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
