/**
 * Wire form of membership messages, /shoal/<swarm>/membership/1.0.0 (docs/protocols/membership.md).
 * JSON in length-prefixed frames; every field is checked before it reaches the state machine.
 */
import { MAX_ADDRS_PER_MEMBER, MAX_CAPABILITIES, MAX_MEMBERS_PER_SYNC } from '../constants.js'
import { list, oneOf, onlyKeys, record, safeInt, string, stringList, fail } from '../validate.js'
import type { MemberUpdate } from './types.js'

export const MEMBERSHIP_WIRE_VERSION = 1

export type SwimMessage =
  | { v: 1, type: 'ping', seq: number, updates: MemberUpdate[] }
  | { v: 1, type: 'ping-req', seq: number, target: string, updates: MemberUpdate[] }
  | { v: 1, type: 'ack', seq: number, ok: boolean, updates: MemberUpdate[] }
  | { v: 1, type: 'sync', updates: MemberUpdate[] }

const MAX_ID = 128
const MAX_ADDR = 256

export function validateMemberUpdate (v: unknown, path = 'update'): MemberUpdate {
  const o = record(v, path)
  const kind = oneOf(o.kind, `${path}.kind`, ['alive', 'suspect', 'dead', 'left'] as const)
  const id = string(o.id, `${path}.id`, MAX_ID)
  const incarnation = safeInt(o.incarnation, `${path}.incarnation`)
  switch (kind) {
    case 'alive':
      onlyKeys(o, path, ['kind', 'id', 'incarnation', 'addrs', 'version', 'capabilities'])
      return {
        kind, id, incarnation,
        addrs: stringList(o.addrs, `${path}.addrs`, MAX_ADDRS_PER_MEMBER, MAX_ADDR),
        version: string(o.version, `${path}.version`, 64),
        capabilities: stringList(o.capabilities, `${path}.capabilities`, MAX_CAPABILITIES, 64)
      }
    case 'suspect':
    case 'dead':
      onlyKeys(o, path, ['kind', 'id', 'incarnation', 'from'])
      return { kind, id, incarnation, from: string(o.from, `${path}.from`, MAX_ID) }
    case 'left':
      onlyKeys(o, path, ['kind', 'id', 'incarnation'])
      return { kind, id, incarnation }
  }
}

export function validateUpdates (v: unknown, path: string): MemberUpdate[] {
  return list(v, path, MAX_MEMBERS_PER_SYNC).map((u, i) => validateMemberUpdate(u, `${path}[${i}]`))
}

export function validateSwimMessage (v: unknown): SwimMessage {
  const o = record(v, 'message')
  if (o.v !== MEMBERSHIP_WIRE_VERSION) fail('message.v', o.v, `version ${MEMBERSHIP_WIRE_VERSION}`)
  const type = oneOf(o.type, 'message.type', ['ping', 'ping-req', 'ack', 'sync'] as const)
  const updates = validateUpdates(o.updates, 'message.updates')
  switch (type) {
    case 'ping':
      onlyKeys(o, 'message', ['v', 'type', 'seq', 'updates'])
      return { v: 1, type, seq: safeInt(o.seq, 'message.seq'), updates }
    case 'ping-req':
      onlyKeys(o, 'message', ['v', 'type', 'seq', 'target', 'updates'])
      return { v: 1, type, seq: safeInt(o.seq, 'message.seq'), target: string(o.target, 'message.target', MAX_ID), updates }
    case 'ack':
      onlyKeys(o, 'message', ['v', 'type', 'seq', 'ok', 'updates'])
      if (typeof o.ok !== 'boolean') fail('message.ok', o.ok, 'true or false')
      return { v: 1, type, seq: safeInt(o.seq, 'message.seq'), ok: o.ok, updates }
    case 'sync':
      onlyKeys(o, 'message', ['v', 'type', 'updates'])
      return { v: 1, type, updates }
  }
}

