/**
 * The schema kit (src/schema/): the compiled check (TypeBox) decides, first-error.ts explains. They must agree
 * on every value, or a message would blame the wrong field (or none). Seeded random values and mutations of
 * valid ones check that agreement for the wire and config schemas; the rest pins the phrases people read.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { checkerOf, expectedOf, firstError, Type, type JsonSchema, type TSchema } from '../src/schema/index.js'
import { MEMBER_UPDATE, SWIM_MESSAGE } from '../src/membership/codec.js'
import { SHOAL_EVENT } from '../src/events/event.js'
import { REPAIR_MESSAGE } from '../src/events/repair-codec.js'
import { KV_SYNC_REQUESTS, KV_SYNC_RESPONSES } from '../src/kv/sync-codec.js'
import { ENVELOPE } from '../src/envelope.js'
import { JOB_RECORD } from '../src/tasks/validate.js'
import { CONFIG_SCHEMA, defaultConfig } from '../src/config.js'
import { seededRng, type Rng } from '../src/rng.js'

const test = suite('schema kit')
const json = (s: TSchema): JsonSchema => s as unknown as JsonSchema

const LEAVES: unknown[] = [null, true, false, 0, -1, 1, 1.5, 2 ** 53, 7, 65536, '', 'x', 'peer-a', 'alive', 'dead', 'ping', 'info', 'x'.repeat(300), '__proto__', '/ip4/1.2.3.4/tcp/1', 'Upper']
const KEYS = ['v', 'type', 'seq', 'target', 'ok', 'updates', 'kind', 'id', 'incarnation', 'addrs', 'version', 'capabilities', 'from', 'swarm', 'rpc', 'port', 'listen', 'kv', 'maxKeyBytes', 'zz']

function randomValue (rng: Rng, depth = 0): unknown {
  const r = rng()
  if (depth > 3 || r < 0.5) return LEAVES[Math.floor(rng() * LEAVES.length)]
  if (r < 0.75) return Array.from({ length: Math.floor(rng() * 4) }, () => randomValue(rng, depth + 1))
  const o: Record<string, unknown> = {}
  for (let i = Math.floor(rng() * 5); i > 0; i--) o[KEYS[Math.floor(rng() * KEYS.length)]!] = randomValue(rng, depth + 1)
  return o
}

function mutate (v: unknown, rng: Rng): unknown {
  if (v === null || typeof v !== 'object' || rng() < 0.2) return randomValue(rng)
  const keys = Object.keys(v)
  if (keys.length === 0) return randomValue(rng)
  const key = keys[Math.floor(rng() * keys.length)]!
  const copy = (Array.isArray(v) ? [...v] : { ...v }) as Record<string, unknown>
  if (rng() < 0.15) delete copy[key]
  else copy[key] = mutate(copy[key], rng)
  return copy
}

function agree (schema: TSchema, value: unknown): void {
  const compiled = checkerOf(schema).check(value)
  const failure = firstError(json(schema), value, 'x')
  if (compiled !== (failure === undefined)) {
    assert.unreachable(`compiled check says ${String(compiled)}, first-error says ${JSON.stringify(failure)} for ${JSON.stringify(value)?.slice(0, 300)}`)
  }
}

test('compiled check and first-error agree: SWIM messages (random values and mutations)', () => {
  const rng = seededRng(7)
  const alive = { kind: 'alive', id: 'a', incarnation: 1, addrs: ['/x'], version: '1', capabilities: ['kv'] }
  const bases = [
    { v: 1, type: 'ping', seq: 1, updates: [alive, { kind: 'left', id: 'b', incarnation: 2 }] },
    { v: 1, type: 'ack', seq: 1, ok: true, updates: [{ kind: 'suspect', id: 'c', incarnation: 0, from: 'a' }] }
  ]
  let accepted = 0
  for (let i = 0; i < 5_000; i++) {
    agree(SWIM_MESSAGE, randomValue(rng))
    const m = mutate(bases[i % bases.length], rng)
    agree(SWIM_MESSAGE, m)
    agree(MEMBER_UPDATE, mutate(alive, rng))
    if (checkerOf(SWIM_MESSAGE).check(m)) accepted++
  }
  assert.ok(accepted > 0, 'some mutations stay valid (the test exercises both answers)')
})

test('compiled check and first-error agree: wire messages (events, repair, kv sync, envelope, job records)', () => {
  const rng = seededRng(13)
  const event = { v: 1, type: 'user', topic: 'a/b', origin: 'peer-a', seq: 1, hlc: { wall: 5, logical: 0 }, data: '1', sig: 'AA' }
  const version = { wall: 1, logical: 0, node: 'p' }
  const hash = 'a'.repeat(64)
  const cases: Array<[TSchema, unknown]> = [
    [SHOAL_EVENT, event], [SHOAL_EVENT, { ...event, trace: '00-' + '0'.repeat(32) + '-' + '0'.repeat(16) + '-01' }],
    [REPAIR_MESSAGE, { v: 1, type: 'digest', heads: { a: 1, constructor: 2 } }], [REPAIR_MESSAGE, { v: 1, type: 'pull', origin: 'a', from: 1, limit: 5 }],
    [REPAIR_MESSAGE, { v: 1, type: 'error', code: 'compacted', compactedBelow: 3, first: event }], [REPAIR_MESSAGE, { v: 1, type: 'events', events: [event], more: true }],
    [KV_SYNC_REQUESTS.leaves, { v: 1, type: 'leaves', ids: ['abcd'], after: 'k' }], [KV_SYNC_REQUESTS.store, { v: 1, type: 'store', event }],
    [KV_SYNC_RESPONSES.leaves, { v: 1, type: 'leaves', entries: [{ key: 'k', version }], more: false }],
    [KV_SYNC_RESPONSES.nodes, { v: 1, type: 'nodes', nodes: [{ id: 'a', hash }] }],
    [ENVELOPE, { v: 1, type: 'events.event', sentAt: 1, payload: event }],
    [JOB_RECORD, { v: 1, id: 'a'.repeat(32), handler: 'echo', inputs: [1], reduce: null, retries: 0, timeoutMs: 1000, priority: 0, submittedBy: 'p', submittedAt: 1 }]
  ]
  let accepted = 0
  for (let i = 0; i < 8_000; i++) {
    const [schema, base] = cases[i % cases.length]!
    agree(schema, randomValue(rng))
    const m = mutate(base, rng)
    agree(schema, m)
    if (checkerOf(schema).check(m)) accepted++
  }
  assert.ok(accepted > 0, 'some mutations stay valid')
})

test('compiled check and first-error agree: the config', () => {
  const rng = seededRng(11)
  const base = defaultConfig('/d')
  let refused = 0
  for (let i = 0; i < 3_000; i++) {
    const v = mutate(base, rng)
    agree(CONFIG_SCHEMA, v)
    if (!checkerOf(CONFIG_SCHEMA).check(v)) refused++
  }
  assert.ok(refused > 0)
})

test('a wrong tag names the tag field and the tags it may hold', () => {
  const f = checkerOf(SWIM_MESSAGE).failure({ v: 1, type: 'pong', seq: 1, updates: [] }, 'message')
  assert.equal(f, { field: 'message.type', value: 'pong', expected: 'one of "ping", "ping-req", "ack", "sync"', mismatchedConst: true, tagsMatched: 1 })
  const u = checkerOf(MEMBER_UPDATE).failure({ kind: 'zombie', id: 'a', incarnation: 1, addrs: [] }, 'u')
  assert.is(u?.field, 'u.kind')
  // Inside the alternative whose tag matched, the real error speaks.
  const deep = checkerOf(SWIM_MESSAGE).failure({ v: 1, type: 'ping', seq: 1, updates: [{ kind: 'left', id: '', incarnation: 1 }] }, 'message')
  assert.is(deep?.field, 'message.updates[0].id')
  // Two tag levels (type, then code): the alternatives that matched `type` speak about `code`.
  const code = checkerOf(REPAIR_MESSAGE).failure({ v: 1, type: 'error', code: 'nope' }, 'message')
  assert.equal(code, { field: 'message.code', value: 'nope', expected: 'one of "compacted", "bad-request"', mismatchedConst: true, tagsMatched: 2 })
  assert.is(checkerOf(REPAIR_MESSAGE).failure({ v: 1, type: 'push' }, 'message')?.field, 'message.type')
  assert.is(checkerOf(REPAIR_MESSAGE).failure({ v: 2, type: 'error', code: 'nope' }, 'message')?.field, 'message.v')
})

test('phrases: derived from keywords, or the schema\'s own `expected`', () => {
  assert.is(expectedOf(json(Type.Integer({ minimum: 0, maximum: 10 }))), 'an integer from 0 to 10')
  assert.is(expectedOf(json(Type.Boolean({ expected: 'true or false' }))), 'true or false')
  const both = Type.Intersect([Type.String({ minLength: 1, expected: 'a non-empty string' }), Type.String({ pattern: '^[a-z]+$', expected: 'lowercase letters' })])
  assert.is(checkerOf(both).failure(5, 'f')?.expected, 'a non-empty string')
  assert.is(checkerOf(both).failure('A', 'f')?.expected, 'lowercase letters')
  const names = Type.Record(Type.String(), Type.Integer(), { propertyNames: { type: 'string', pattern: '^[a-z]+$', expected: 'a lowercase name' } })
  assert.equal(checkerOf(names).failure({ ok: 1, Bad: 2 }, 'm'), { field: 'm.Bad', value: 'Bad', expected: 'a lowercase name' })
})

test.run()
