/**
 * The membership wire codec: every SWIM message from a peer is checked field by field before it reaches the
 * state machine. A rejection names the exact path so the log says what a misbehaving peer sent.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_ADDRS_PER_MEMBER, MAX_CAPABILITIES, MAX_MEMBERS_PER_SYNC } from '../src/constants.js'
import { InvalidInputError } from '../src/errors.js'
import { validateMemberUpdate, validateSwimMessage, validateUpdates } from '../src/membership/codec.js'
import type { MemberUpdate } from '../src/membership/types.js'
import { seededRng } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const alive: MemberUpdate = { kind: 'alive', id: 'peer-a', incarnation: 3, addrs: ['/ip4/127.0.0.1/tcp/7700'], version: '0.1.0', capabilities: ['kv', 'tasks'] }
const suspect: MemberUpdate = { kind: 'suspect', id: 'peer-b', incarnation: 0, from: 'peer-a' }
const dead: MemberUpdate = { kind: 'dead', id: 'peer-c', incarnation: Number.MAX_SAFE_INTEGER, from: 'peer-a' }
const left: MemberUpdate = { kind: 'left', id: 'peer-d', incarnation: 9 }
const updates = [alive, suspect, dead, left]

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** Expects InvalidInputError whose data.field is `path` and whose message starts with it. */
function expectInvalid (fn: () => unknown, path: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError at ${path}, got ${String(caught)}`)
  const err = caught as InvalidInputError
  assert.is(err.code, 'ERR_INVALID_INPUT')
  assert.is(err.data?.field, path, err.message)
  assert.ok(err.message.startsWith(`${path}: expected `), err.message)
}

// ---------------------------------------------------------------------------------------------------------
const valid = suite('membership codec: valid messages')

valid('each update kind passes unchanged', () => {
  for (const u of updates) assert.equal(validateMemberUpdate(clone(u)), u)
})

valid('each message type passes unchanged', () => {
  const messages = [
    { v: 1, type: 'ping', seq: 0, updates },
    { v: 1, type: 'ping', seq: 1, updates: [] },
    { v: 1, type: 'ping-req', seq: 5, target: 'peer-z', updates },
    { v: 1, type: 'ack', seq: 5, ok: true, updates },
    { v: 1, type: 'ack', seq: 6, ok: false, updates: [] },
    { v: 1, type: 'sync', updates }
  ]
  for (const m of messages) assert.equal(validateSwimMessage(clone(m)), m)
})

valid('limits are inclusive: exactly the maximum counts and lengths pass', () => {
  const big = { ...alive, id: 'i'.repeat(128), version: 'v'.repeat(64), addrs: Array.from({ length: MAX_ADDRS_PER_MEMBER }, () => '/' + 'a'.repeat(255)), capabilities: Array.from({ length: MAX_CAPABILITIES }, () => 'c'.repeat(64)) }
  assert.equal(validateMemberUpdate(clone(big)), big)
  const many = Array.from({ length: MAX_MEMBERS_PER_SYNC }, (_, i): MemberUpdate => ({ kind: 'left', id: `p${i}`, incarnation: i }))
  assert.is(validateSwimMessage({ v: 1, type: 'sync', updates: many }).updates.length, MAX_MEMBERS_PER_SYNC)
})

valid('the result is a fresh object: no fields beyond the schema can ride along', () => {
  const out = validateMemberUpdate(clone(alive))
  assert.equal(Object.keys(out).sort(), ['addrs', 'capabilities', 'id', 'incarnation', 'kind', 'version'])
})

valid.run()

// ---------------------------------------------------------------------------------------------------------
const invalid = suite('membership codec: each invalid field is named')

const msg = (over: Record<string, unknown>): Record<string, unknown> => ({ v: 1, type: 'ping', seq: 1, updates: [], ...over })
const withUpdate = (u: Record<string, unknown>): Record<string, unknown> => msg({ updates: [clone(alive), u] })

invalid('message envelope fields', () => {
  expectInvalid(() => validateSwimMessage(null), 'message')
  expectInvalid(() => validateSwimMessage([]), 'message')
  expectInvalid(() => validateSwimMessage('ping'), 'message')
  expectInvalid(() => validateSwimMessage(msg({ v: 2 })), 'message.v')
  expectInvalid(() => validateSwimMessage(msg({ v: '1' })), 'message.v')
  expectInvalid(() => validateSwimMessage(msg({ type: 'pong' })), 'message.type')
  expectInvalid(() => validateSwimMessage(msg({ type: 'constructor' })), 'message.type')
  expectInvalid(() => validateSwimMessage(msg({ updates: undefined })), 'message.updates')
  expectInvalid(() => validateSwimMessage(msg({ updates: {} })), 'message.updates')
})

invalid('per-type fields', () => {
  for (const seq of [-1, 1.5, '1', null, 2 ** 53]) expectInvalid(() => validateSwimMessage(msg({ seq })), 'message.seq')
  expectInvalid(() => validateSwimMessage({ v: 1, type: 'ping', updates: [] }), 'message.seq')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ping-req', target: '' })), 'message.target')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ping-req', target: 'x'.repeat(129) })), 'message.target')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ping-req' })), 'message.target')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ack', ok: 'yes' })), 'message.ok')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ack' })), 'message.ok')
  // Fields of another message type are extra fields here.
  expectInvalid(() => validateSwimMessage(msg({ target: 'peer-z' })), 'message.target')
  expectInvalid(() => validateSwimMessage(msg({ type: 'ack', ok: true, target: 'z' })), 'message.target')
  expectInvalid(() => validateSwimMessage({ v: 1, type: 'sync', seq: 1, updates: [] }), 'message.seq')
  expectInvalid(() => validateSwimMessage(JSON.parse('{"v":1,"type":"sync","updates":[],"__proto__":{}}')), 'message.__proto__')
})

invalid('update fields, with the index of the bad update in the path', () => {
  const p = 'message.updates[1]'
  expectInvalid(() => validateSwimMessage(withUpdate(null as unknown as Record<string, unknown>)), p)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, kind: 'zombie' })), `${p}.kind`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, kind: undefined })), `${p}.kind`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, id: '' })), `${p}.id`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, id: 'x'.repeat(129) })), `${p}.id`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, id: 5 })), `${p}.id`)
  for (const incarnation of [-1, 0.5, '3', null, 2 ** 53, Number.NaN]) {
    expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, incarnation })), `${p}.incarnation`)
  }
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, addrs: '/ip4/1.2.3.4/tcp/1' })), `${p}.addrs`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, addrs: ['/ok', 7] })), `${p}.addrs[1]`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, addrs: ['/' + 'a'.repeat(256)] })), `${p}.addrs[0]`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, version: '' })), `${p}.version`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, version: 'v'.repeat(65) })), `${p}.version`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, capabilities: ['kv', {}] })), `${p}.capabilities[1]`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, capabilities: undefined })), `${p}.capabilities`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...suspect, from: undefined })), `${p}.from`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...dead, from: '' })), `${p}.from`)
})

invalid('fields of another update kind are refused as extra', () => {
  const p = 'message.updates[1]'
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, from: 'peer-x' })), `${p}.from`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...suspect, addrs: [] })), `${p}.addrs`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...left, from: 'peer-x' })), `${p}.from`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...dead, state: 'dead' })), `${p}.state`)
})

invalid('too many updates, addrs or capabilities', () => {
  const many = Array.from({ length: MAX_MEMBERS_PER_SYNC + 1 }, (_, i) => ({ kind: 'left', id: `p${i}`, incarnation: i }))
  expectInvalid(() => validateSwimMessage({ v: 1, type: 'sync', updates: many }), 'message.updates')
  expectInvalid(() => validateUpdates(many, 'payload.updates'), 'payload.updates')
  const addrs = Array.from({ length: MAX_ADDRS_PER_MEMBER + 1 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, addrs })), 'message.updates[1].addrs')
  const capabilities = Array.from({ length: MAX_CAPABILITIES + 1 }, (_, i) => `c${i}`)
  expectInvalid(() => validateSwimMessage(withUpdate({ ...alive, capabilities })), 'message.updates[1].capabilities')
})

invalid('validateMemberUpdate uses the caller\'s path', () => {
  expectInvalid(() => validateMemberUpdate({ ...left, incarnation: -1 }, 'payload.updates[3]'), 'payload.updates[3].incarnation')
  expectInvalid(() => validateMemberUpdate({ ...left, incarnation: -1 }), 'update.incarnation')
})

invalid.run()

// ---------------------------------------------------------------------------------------------------------
const fuzz = suite('membership codec: fuzz (seeded)')

function randomValue (rng: Rng, depth = 0): unknown {
  const r = rng()
  if (depth > 3 || r < 0.5) {
    const leaves: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, 7, '', 'x', 'peer-a', 'alive', 'dead', 'ping', 'x'.repeat(300), '__proto__']
    return leaves[Math.floor(rng() * leaves.length)]
  }
  if (r < 0.75) return Array.from({ length: Math.floor(rng() * 4) }, () => randomValue(rng, depth + 1))
  const keys = ['v', 'type', 'seq', 'target', 'ok', 'updates', 'kind', 'id', 'incarnation', 'addrs', 'version', 'capabilities', 'from', 'zz']
  const o: Record<string, unknown> = {}
  for (let i = Math.floor(rng() * 5); i > 0; i--) o[keys[Math.floor(rng() * keys.length)]!] = randomValue(rng, depth + 1)
  return o
}

/** Replaces one randomly chosen node of a JSON tree (or deletes it from its parent). */
function mutate (v: unknown, rng: Rng): unknown {
  if (v === null || typeof v !== 'object' || rng() < 0.2) return randomValue(rng)
  const entries = Object.keys(v)
  if (entries.length === 0) return randomValue(rng)
  const key = entries[Math.floor(rng() * entries.length)]!
  const copy = (Array.isArray(v) ? [...v] : { ...v }) as Record<string, unknown>
  if (rng() < 0.15) delete copy[key]
  else copy[key] = mutate(copy[key], rng)
  return copy
}

function check (input: unknown, counts: { ok: number, invalid: number }): void {
  try {
    const out = validateSwimMessage(input)
    // Anything accepted must validate again to itself (the codec is a projection).
    assert.equal(validateSwimMessage(clone(out)), out)
    counts.ok++
  } catch (err) {
    if (!(err instanceof InvalidInputError)) assert.unreachable(`threw ${String(err)} for ${JSON.stringify(input)}`)
    counts.invalid++
  }
}

fuzz('random JSON values only ever fail with InvalidInputError', () => {
  const rng = seededRng(1234)
  const counts = { ok: 0, invalid: 0 }
  for (let i = 0; i < 10_000; i++) check(randomValue(rng), counts)
  assert.ok(counts.invalid > 0)
})

fuzz('random mutations of valid messages only ever fail with InvalidInputError', () => {
  const rng = seededRng(99)
  const bases = [
    { v: 1, type: 'ping', seq: 1, updates },
    { v: 1, type: 'ping-req', seq: 2, target: 'peer-z', updates },
    { v: 1, type: 'ack', seq: 3, ok: true, updates },
    { v: 1, type: 'sync', updates }
  ]
  const counts = { ok: 0, invalid: 0 }
  for (let i = 0; i < 20_000; i++) {
    let m: unknown = clone(bases[i % bases.length])
    for (let e = 1 + Math.floor(rng() * 3); e > 0; e--) m = mutate(m, rng)
    check(m, counts)
  }
  // Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
  assert.ok(counts.ok > 100 && counts.invalid > 100, JSON.stringify(counts))
})

fuzz.run()
