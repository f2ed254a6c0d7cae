/**
 * Events: the bytes a signature covers, structural validation of untrusted events (each failure names its
 * field), the reject reason each bad event is counted under, store keys, and the repair protocol's frames.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EVENT_MAX_DIGEST_ORIGINS, EVENT_MAX_PULL_LIMIT } from '../src/constants.js'
import { InvalidInputError } from '../src/errors.js'
import { checkEventClock, classifyEvent, eventKey, parseEventKey, signingBytes, utf8Length, validateEvent } from '../src/events/event.js'
import type { ShoalEvent } from '../src/events/event.js'
import { pullsFromDigest, validateRepairMessage } from '../src/events/repair-codec.js'
import { HLC_MAX_LOGICAL, HLC_MAX_WALL } from '../src/hlc.js'
import { seededRng } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const MAX = 1024
const limits = { maxPayloadBytes: MAX }
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const base: ShoalEvent = {
  v: 1, type: 'user', topic: 'app/orders:eu.v1', origin: '12D3KooWabc', seq: 7,
  hlc: { wall: 1_700_000_000_000, logical: 3 }, trace: TRACE, data: '{"id":1,"note":"ünï"}', sig: 'c2lnbmF0dXJl_-'
}
const noTrace: ShoalEvent = { v: 1, type: 'user', topic: 't', origin: 'peer-a', seq: 1, hlc: { wall: 0, logical: 0 }, data: 'null', sig: 'AA' }

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const withField = (k: string, value: unknown): Record<string, unknown> => ({ ...clone(base), [k]: value })

/** Expects InvalidInputError whose data.field is `path` and whose message starts with it. */
function expectInvalid (fn: () => unknown, path: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError at ${path}, got ${String(caught)}`)
  const err = caught as InvalidInputError
  assert.is(err.data?.field, path, err.message)
  assert.ok(err.message.startsWith(`${path}: expected `), err.message)
}

// ---------------------------------------------------------------------------------------------------------
const signing = suite('signingBytes')

signing('exactly the documented array, UTF-8 encoded; trace absent is null', () => {
  assert.is(text(signingBytes(base)), JSON.stringify(['shoal-event/1', 'user', 'app/orders:eu.v1', '12D3KooWabc', 7, 1_700_000_000_000, 3, TRACE, '{"id":1,"note":"ünï"}']))
  assert.is(text(signingBytes(noTrace)), '["shoal-event/1","user","t","peer-a",1,0,0,null,"null"]')
  assert.equal(signingBytes(base), signingBytes(clone(base)), 'stable across copies')
})

signing('changing any signed field changes the bytes; sig is not signed', () => {
  const variants: ShoalEvent[] = [
    { ...base, type: 'users' }, { ...base, topic: 'app/orders:eu.v2' }, { ...base, origin: '12D3KooWabd' },
    { ...base, seq: 8 }, { ...base, hlc: { ...base.hlc, wall: base.hlc.wall + 1 } }, { ...base, hlc: { ...base.hlc, logical: 4 } },
    { ...base, trace: TRACE.replace(/01$/, '00') }, noTraceOf(base), { ...base, data: '{"id":1,"note":"ünï"} ' },
    // Moving text between fields must not collide.
    { ...base, type: 'use', topic: 'rapp/orders:eu.v1' }
  ]
  const seen = new Set([text(signingBytes(base))])
  for (const v of variants) seen.add(text(signingBytes(v)))
  assert.is(seen.size, variants.length + 1)
  assert.equal(signingBytes({ ...base, sig: 'different' }), signingBytes(base))
})

function noTraceOf (e: ShoalEvent): ShoalEvent {
  const { trace: _trace, ...rest } = e
  return rest
}

// ---------------------------------------------------------------------------------------------------------
const validate = suite('validateEvent')

validate('valid events pass unchanged, as fresh objects', () => {
  for (const e of [base, noTrace]) {
    const out = validateEvent(clone(e), limits)
    assert.equal(out, e)
    assert.is(Object.hasOwn(out, 'trace'), e.trace !== undefined)
  }
})

validate('limits are inclusive', () => {
  const edge: ShoalEvent = {
    v: 1, type: 'a' + 'b'.repeat(63), topic: 'T'.repeat(128), origin: 'o'.repeat(128), seq: Number.MAX_SAFE_INTEGER,
    hlc: { wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL }, data: JSON.stringify('é'.repeat((MAX - 2) / 2)), sig: 'A'.repeat(200)
  }
  assert.is(utf8Length(edge.data), MAX)
  assert.equal(validateEvent(clone(edge), limits), edge)
})

validate('each wrong field is named by its path', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'event'], [[], 'event'], [withField('extra', 1), 'event.extra'],
    [withField('v', 2), 'event.v'],
    [withField('type', ''), 'event.type'], [withField('type', 'User'), 'event.type'], [withField('type', '.user'), 'event.type'],
    [withField('type', 'a'.repeat(65)), 'event.type'], [withField('type', 1), 'event.type'],
    [withField('topic', ''), 'event.topic'], [withField('topic', 'a b'), 'event.topic'], [withField('topic', 't'.repeat(129)), 'event.topic'],
    [withField('origin', ''), 'event.origin'], [withField('origin', 'o'.repeat(129)), 'event.origin'],
    [withField('origin', 'a/b'), 'event.origin'], [withField('origin', '__proto__'), 'event.origin'],
    [withField('seq', 0), 'event.seq'], [withField('seq', 1.5), 'event.seq'], [withField('seq', '1'), 'event.seq'],
    [withField('seq', Number.MAX_SAFE_INTEGER + 1), 'event.seq'],
    [withField('hlc', null), 'event.hlc'], [withField('hlc', { wall: 1, logical: 0, node: 'x' }), 'event.hlc.node'],
    [withField('hlc', { wall: -1, logical: 0 }), 'event.hlc.wall'], [withField('hlc', { wall: HLC_MAX_WALL + 1, logical: 0 }), 'event.hlc.wall'],
    [withField('hlc', { wall: 1, logical: 0.5 }), 'event.hlc.logical'], [withField('hlc', { wall: 1 }), 'event.hlc.logical'],
    [withField('hlc', { wall: 1, logical: HLC_MAX_LOGICAL + 1 }), 'event.hlc.logical'],
    [withField('trace', null), 'event.trace'], [withField('trace', TRACE.toUpperCase()), 'event.trace'], [withField('trace', '01' + TRACE.slice(2)), 'event.trace'],
    [withField('data', undefined), 'event.data'], [withField('data', { a: 1 }), 'event.data'], [withField('data', ''), 'event.data'],
    [withField('data', '{a:1}'), 'event.data'], [withField('data', '"\ud800"'), 'event.data'], [withField('data', '"' + 'x'.repeat(MAX - 1) + '"'), 'event.data'],
    [withField('sig', ''), 'event.sig'], [withField('sig', 'a+b/'), 'event.sig'], [withField('sig', 'a=='), 'event.sig'], [withField('sig', 'A'.repeat(201)), 'event.sig']
  ]
  for (const [input, path] of cases) expectInvalid(() => validateEvent(input, limits), path)
  expectInvalid(() => validateEvent(null, limits, 'message.events[3]'), 'message.events[3]')
})

// ---------------------------------------------------------------------------------------------------------
const classify = suite('classifyEvent, checkEventClock, keys')

classify('reasons: oversized, unsigned, malformed; ok returns the checked event', () => {
  assert.equal(classifyEvent(clone(base), limits), { ok: true, event: base })
  const reason = (raw: unknown): string => { const r = classifyEvent(raw, limits); return r.ok ? 'ok' : r.reason }
  assert.is(reason(withField('data', JSON.stringify('€'.repeat(MAX / 3)))), 'oversized')
  assert.is(reason({ ...withField('data', 'x'.repeat(MAX + 1)), sig: undefined, type: 'BAD' }), 'oversized')
  assert.is(reason(withField('sig', '')), 'unsigned')
  assert.is(reason(withField('sig', null)), 'unsigned')
  const { sig: _sig, ...unsigned } = clone(base)
  assert.is(reason(unsigned), 'unsigned')
  for (const raw of [null, 'event', 42, [], withField('sig', 5), withField('seq', -1), withField('data', 'nope'), withField('more', true)]) {
    assert.is(reason(raw), 'malformed', JSON.stringify(raw))
  }
  const r = classifyEvent(withField('topic', ''), limits)
  assert.ok(!r.ok && r.detail.startsWith('event.topic: expected'), JSON.stringify(r))
})

classify('checkEventClock: the drift limit is inclusive', () => {
  const now = base.hlc.wall
  assert.ok(checkEventClock(base, now - 30_000, 30_000))
  assert.not.ok(checkEventClock(base, now - 30_001, 30_000))
  assert.ok(checkEventClock(base, now + 1e6, 0))
})

classify('eventKey pads seq to 16 digits, sorts by seq within an origin, parses back', () => {
  assert.is(eventKey('peer-a', 7), 'peer-a/0000000000000007')
  assert.is(eventKey('p', Number.MAX_SAFE_INTEGER), 'p/9007199254740991')
  const seqs = [1, 2, 9, 10, 99, 100, 12345, 1e15]
  assert.equal(seqs.map(s => eventKey('p', s)).sort(), seqs.map(s => eventKey('p', s)))
  for (const s of seqs) assert.equal(parseEventKey(eventKey('peer-a', s)), { origin: 'peer-a', seq: s })
  expectInvalid(() => eventKey('peer-a', 0), 'seq')
  expectInvalid(() => eventKey('a/b', 1), 'origin')
  expectInvalid(() => parseEventKey('peer-a/7'), 'key')
})

classify('utf8Length agrees with TextEncoder, lone surrogates included (seeded)', () => {
  const rng = seededRng(99)
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0xd83d, 0xde00, 0xdc00, 0xd800]
  for (let i = 0; i < 2000; i++) {
    const s = String.fromCharCode(...Array.from({ length: Math.floor(rng() * 12) }, () => units[Math.floor(rng() * units.length)]!))
    assert.is(utf8Length(s), new TextEncoder().encode(s).byteLength, JSON.stringify(s))
  }
})

// ---------------------------------------------------------------------------------------------------------
const fuzz = suite('classifyEvent fuzz')

const junk = [null, undefined, true, 0, -1, 1.5, NaN, '', 'x', '__proto__', [], {}, { wall: 1 }, 'a'.repeat(300), 2 ** 60]
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!

function mutate (rng: Rng, e: Record<string, unknown>): unknown {
  const o: Record<string, unknown> = clone(e)
  const keys = [...Object.keys(o), 'extra']
  for (let n = 1 + Math.floor(rng() * 2); n > 0; n--) {
    const k = pick(rng, keys)
    const roll = rng()
    if (roll < 0.3) delete o[k]
    else if (roll < 0.8) o[k] = pick(rng, junk)
    else if (typeof o[k] === 'string') o[k] = (o[k] as string).slice(0, Math.floor(rng() * (o[k] as string).length))
  }
  return rng() < 0.05 ? pick(rng, junk) : o
}

fuzz('never throws; every ok event validates again unchanged (seeded)', () => {
  const rng = seededRng(2024)
  const counts: Record<string, number> = {}
  for (let i = 0; i < 5000; i++) {
    const raw = mutate(rng, pick(rng, [base, noTrace]) as unknown as Record<string, unknown>)
    const r = classifyEvent(raw, limits)
    const key = r.ok ? 'ok' : r.reason
    counts[key] = (counts[key] ?? 0) + 1
    if (r.ok) assert.equal(validateEvent(clone(r.event), limits), r.event)
  }
  assert.ok((counts.ok ?? 0) > 100 && (counts.malformed ?? 0) > 100 && (counts.unsigned ?? 0) > 100, JSON.stringify(counts))
})

// ---------------------------------------------------------------------------------------------------------
const repair = suite('repair codec')

repair('each message type passes unchanged', () => {
  const messages = [
    { v: 1, type: 'digest', heads: { 'peer-a': 0, 'peer-b': 12 } },
    { v: 1, type: 'digest', heads: {} },
    { v: 1, type: 'pull', origin: 'peer-a', from: 1, limit: EVENT_MAX_PULL_LIMIT },
    { v: 1, type: 'events', events: [base, 'anything'], more: true },
    { v: 1, type: 'events', events: [], more: false },
    { v: 1, type: 'error', code: 'compacted', compactedBelow: 40 },
    { v: 1, type: 'error', code: 'bad-request', message: 'limit too large' }
  ]
  for (const m of messages) assert.equal(clone(validateRepairMessage(clone(m))), m)
})

repair('heads come back in a null-prototype object; __proto__ keys are refused', () => {
  const m = validateRepairMessage({ v: 1, type: 'digest', heads: { constructor: 3 } })
  assert.ok(m.type === 'digest' && Object.getPrototypeOf(m.heads) === null)
  assert.equal(Object.entries(m.type === 'digest' ? m.heads : {}), [['constructor', 3]])
  const hostile = JSON.parse('{"v":1,"type":"digest","heads":{"__proto__":{"polluted":1}}}') as unknown
  expectInvalid(() => validateRepairMessage(hostile), 'message.heads.__proto__')
  expectInvalid(() => validateRepairMessage(JSON.parse('{"v":1,"type":"digest","heads":{"__proto__":5}}')), 'message.heads.__proto__')
  assert.is(({} as Record<string, unknown>).polluted, undefined)
})

repair('each wrong field is named by its path', () => {
  const heads = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]))
  assert.is(Object.keys((validateRepairMessage({ v: 1, type: 'digest', heads: heads(EVENT_MAX_DIGEST_ORIGINS) }) as { heads: object }).heads).length, EVENT_MAX_DIGEST_ORIGINS)
  const cases: Array<[unknown, string]> = [
    [null, 'message'], [{ v: 2, type: 'digest', heads: {} }, 'message.v'], [{ v: 1, type: 'push' }, 'message.type'],
    [{ v: 1, type: 'digest', heads: {}, x: 1 }, 'message.x'], [{ v: 1, type: 'digest', heads: [] }, 'message.heads'],
    [{ v: 1, type: 'digest', heads: heads(EVENT_MAX_DIGEST_ORIGINS + 1) }, 'message.heads'],
    [{ v: 1, type: 'digest', heads: { 'a/b': 1 } }, 'message.heads["a/b"]'], [{ v: 1, type: 'digest', heads: { a: -1 } }, 'message.heads.a'],
    [{ v: 1, type: 'digest', heads: { a: '1' } }, 'message.heads.a'],
    [{ v: 1, type: 'pull', origin: '', from: 1, limit: 1 }, 'message.origin'], [{ v: 1, type: 'pull', origin: 'a', from: 0, limit: 1 }, 'message.from'],
    [{ v: 1, type: 'pull', origin: 'a', from: 1, limit: 0 }, 'message.limit'], [{ v: 1, type: 'pull', origin: 'a', from: 1, limit: EVENT_MAX_PULL_LIMIT + 1 }, 'message.limit'],
    [{ v: 1, type: 'events', events: {}, more: false }, 'message.events'], [{ v: 1, type: 'events', events: [], more: 1 }, 'message.more'],
    [{ v: 1, type: 'events', events: new Array(EVENT_MAX_PULL_LIMIT + 1).fill(0), more: false }, 'message.events'],
    [{ v: 1, type: 'error', code: 'nope' }, 'message.code'], [{ v: 1, type: 'error', code: 'compacted', compactedBelow: 0 }, 'message.compactedBelow'],
    [{ v: 1, type: 'error', code: 'compacted', compactedBelow: 5, message: 'x' }, 'message.message'],
    [{ v: 1, type: 'error', code: 'bad-request', message: '' }, 'message.message']
  ]
  for (const [input, path] of cases) expectInvalid(() => validateRepairMessage(input), path)
})

repair('pullsFromDigest: every origin where the peer is ahead, from just after ours, in origin order', () => {
  const local = { a: 5, b: 9, c: 0 }
  const remote = { c: 2, b: 9, a: 7, d: 1, e: 0 }
  assert.equal(pullsFromDigest(local, remote), [{ origin: 'a', from: 6, to: 7 }, { origin: 'c', from: 1, to: 2 }, { origin: 'd', from: 1, to: 1 }])
  assert.equal(pullsFromDigest(remote, local), [])
})

signing.run()
validate.run()
classify.run()
fuzz.run()
repair.run()
