/**
 * KV records: the last-writer-wins laws as property tests over seeded random writes (many equal walls and
 * logicals, so the node decides), and parsing a record out of a kv.put / kv.del event.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidInputError } from '../src/errors.js'
import type { ShoalEvent } from '../src/events/event.js'
import { compareVersions, kvEventData, KV_EVENT_TYPES, KV_TOPIC, mergeRecords, recordFromEvent, validateKey, validateValue, versionString } from '../src/kv/record.js'
import type { KvRecord, KvVersion } from '../src/kv/record.js'
import { seededRng, shuffled } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const limits = { maxKeyBytes: 16, maxValueBytes: 64 }

function expectInvalid (fn: () => unknown, path: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError at ${path}, got ${String(caught)}`)
  const err = caught as InvalidInputError
  assert.is(err.data?.field, path, err.message)
  assert.ok(err.message.startsWith(`${path}: expected `), err.message)
}

function eventOf (type: string, data: string, version: KvVersion = { wall: 5, logical: 1, node: 'peer-a' }, topic = KV_TOPIC): ShoalEvent {
  return { v: 1, type, topic, origin: version.node, seq: 1, hlc: { wall: version.wall, logical: version.logical }, data, sig: 'AA' }
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n)

/** A random write (or tombstone) with a small version space, so walls and logicals collide often. */
function randomRecord (rng: Rng, key = 'k'): KvRecord {
  const version = { wall: int(rng, 4), logical: int(rng, 3), node: ['peer-a', 'peer-b', 'peer-c'][int(rng, 3)]! }
  const tombstone = rng() < 0.3
  const value = tombstone ? undefined : int(rng, 1000)
  const event = eventOf(tombstone ? KV_EVENT_TYPES.del : KV_EVENT_TYPES.put, kvEventData(key, value), version)
  return recordFromEvent(event, limits)
}

/** Distinct writes: at most one record per version (two writes never share one). */
function distinctRecords (rng: Rng, n: number): KvRecord[] {
  const byVersion = new Map<string, KvRecord>()
  for (let i = 0; i < n; i++) {
    const r = randomRecord(rng)
    if (!byVersion.has(versionString(r.version))) byVersion.set(versionString(r.version), r)
  }
  return [...byVersion.values()]
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!

// ---------------------------------------------------------------------------------------------------------
const laws = suite('kv merge: last-writer-wins laws')

laws('the order is total on (wall, logical, node) and matches the version string order', () => {
  const rng = seededRng(1)
  for (let i = 0; i < 2000; i++) {
    const a = randomRecord(rng).version
    const b = randomRecord(rng).version
    const c = compareVersions(a, b)
    assert.is(c, -compareVersions(b, a) || 0)
    assert.is(c === 0, a.wall === b.wall && a.logical === b.logical && a.node === b.node)
    const s = versionString(a) < versionString(b) ? -1 : versionString(a) > versionString(b) ? 1 : 0
    assert.is(s, c)
  }
})

laws('commutative, associative and idempotent over distinct writes', () => {
  const rng = seededRng(2)
  for (let round = 0; round < 200; round++) {
    const rs = distinctRecords(rng, 8)
    for (let i = 0; i < 50; i++) {
      const a = pick(rng, rs)
      const b = pick(rng, rs)
      const c = pick(rng, rs)
      assert.is(mergeRecords(a, b), mergeRecords(b, a), 'commutative')
      assert.is(mergeRecords(mergeRecords(a, b), c), mergeRecords(a, mergeRecords(b, c)), 'associative')
      assert.is(mergeRecords(a, a), a, 'idempotent')
      assert.is(mergeRecords(mergeRecords(a, b), b), mergeRecords(a, b), 'merging again changes nothing')
      const w = mergeRecords(a, b)
      assert.ok(compareVersions(w.version, a.version) >= 0 && compareVersions(w.version, b.version) >= 0, 'the winner is the greater')
    }
  }
})

laws('undefined is the identity; an equal version (the same write, copied) keeps the first', () => {
  const rng = seededRng(3)
  for (let i = 0; i < 200; i++) {
    const a = randomRecord(rng)
    assert.is(mergeRecords(undefined, a), a)
    const copy = JSON.parse(JSON.stringify(a)) as KvRecord
    assert.is(mergeRecords(a, copy), a)
    assert.equal(mergeRecords(copy, a), a)
  }
})

laws('folding any permutation of a set of writes gives the greatest one', () => {
  const rng = seededRng(4)
  for (let round = 0; round < 200; round++) {
    const rs = distinctRecords(rng, 1 + int(rng, 12))
    const max = rs.reduce((m, r) => (compareVersions(r.version, m.version) > 0 ? r : m))
    for (let p = 0; p < 10; p++) {
      // Duplicates (re-delivery) included: they change nothing.
      const writes = shuffled([...rs, ...rs.filter(() => rng() < 0.3)], rng)
      assert.is(writes.reduce<KvRecord | undefined>((acc, r) => mergeRecords(acc, r), undefined), max)
    }
  }
})

laws('tombstones win and lose like any write', () => {
  const rng = seededRng(5)
  let tombstoneWins = 0
  let tombstoneLoses = 0
  for (let i = 0; i < 2000; i++) {
    const [a, b] = distinctRecords(rng, 2)
    if (a === undefined || b === undefined || a.tombstone === b.tombstone) continue
    const w = mergeRecords(a, b)
    const greater = compareVersions(a.version, b.version) > 0 ? a : b
    assert.is(w, greater)
    if (w.tombstone) tombstoneWins++
    else tombstoneLoses++
  }
  assert.ok(tombstoneWins > 50 && tombstoneLoses > 50, `${tombstoneWins} / ${tombstoneLoses}`)
})

// ---------------------------------------------------------------------------------------------------------
const parse = suite('kv recordFromEvent')

parse('a put: key, value, version from the HLC and origin; the event is kept', () => {
  const e = eventOf('kv.put', '{"key":"user/1","value":{"name":"ünï","n":[1,2]}}', { wall: 7, logical: 2, node: 'peer-x' })
  const r = recordFromEvent(e, limits)
  assert.equal(r, { key: 'user/1', value: { name: 'ünï', n: [1, 2] }, tombstone: false, version: { wall: 7, logical: 2, node: 'peer-x' }, event: e })
  assert.is(r.event, e)
})

parse('a null value is a put; a delete is a tombstone without a value', () => {
  const put = recordFromEvent(eventOf('kv.put', '{"key":"k","value":null}'), limits)
  assert.is(put.value, null)
  assert.is(put.tombstone, false)
  const del = recordFromEvent(eventOf('kv.del', '{"key":"k"}'), limits)
  assert.is(del.tombstone, true)
  assert.not.ok('value' in del)
})

parse('kvEventData builds the documented payloads and round-trips', () => {
  assert.is(kvEventData('a"b', { x: [1, 'y'] }), '{"key":"a\\"b","value":{"x":[1,"y"]}}')
  assert.is(kvEventData('k'), '{"key":"k"}')
  assert.is(kvEventData('k', null), '{"key":"k","value":null}')
  const r = recordFromEvent(eventOf('kv.put', kvEventData('k', { deep: [true, 1.5] })), limits)
  assert.equal(r.value, { deep: [true, 1.5] })
  expectInvalid(() => kvEventData('k', () => 1), 'value')
  expectInvalid(() => kvEventData('k', { f: undefined }), 'value.f')
  expectInvalid(() => kvEventData('', 1), 'key')
})

parse('wrong type or topic', () => {
  expectInvalid(() => recordFromEvent(eventOf('user', '{"key":"k","value":1}'), limits), 'event.type')
  expectInvalid(() => recordFromEvent(eventOf('kv.get', '{"key":"k"}'), limits), 'event.type')
  expectInvalid(() => recordFromEvent(eventOf('kv.put', '{"key":"k","value":1}', undefined, 'kv2'), limits), 'event.topic')
})

parse('data of the wrong shape', () => {
  for (const data of ['[]', '"k"', 'null', '5']) expectInvalid(() => recordFromEvent(eventOf('kv.put', data), limits), 'event.data')
  expectInvalid(() => recordFromEvent(eventOf('kv.put', 'not json'), limits), 'event.data')
  expectInvalid(() => recordFromEvent(eventOf('kv.put', '{"key":"k","value":1,"extra":2}'), limits), 'event.data.extra')
  expectInvalid(() => recordFromEvent(eventOf('kv.del', '{"key":"k","__proto__":2}'), limits), 'event.data.__proto__')
  expectInvalid(() => recordFromEvent(eventOf('kv.put', '{"key":"k"}'), limits), 'event.data.value')
  expectInvalid(() => recordFromEvent(eventOf('kv.del', '{"key":"k","value":1}'), limits), 'event.data.value')
})

parse('bad keys', () => {
  const bad = ['{"value":1}', '{"key":"","value":1}', '{"key":5,"value":1}', '{"key":"a\\u0000b","value":1}',
    '{"key":"\\ud800","value":1}', `{"key":"${'x'.repeat(17)}","value":1}`, `{"key":"${'é'.repeat(9)}","value":1}`]
  for (const data of bad) expectInvalid(() => recordFromEvent(eventOf('kv.put', data), limits), 'event.data.key')
  assert.is(recordFromEvent(eventOf('kv.put', `{"key":"${'é'.repeat(8)}","value":1}`), limits).key, 'é'.repeat(8))
})

parse('value size: the serialised JSON text, at most maxValueBytes', () => {
  const fits = 'x'.repeat(62) // "xxx…" is 64 bytes of JSON
  assert.is(recordFromEvent(eventOf('kv.put', kvEventData('k', fits)), limits).value, fits)
  expectInvalid(() => recordFromEvent(eventOf('kv.put', kvEventData('k', fits + 'x', { maxKeyBytes: 16, maxValueBytes: 100 })), limits), 'event.data.value')
  // Whitespace in the data text does not count: the canonical serialisation does.
  assert.ok(recordFromEvent(eventOf('kv.put', `{"key":"k","value":     "${fits}"   }`), limits))
  // Nesting too deep to serialise is refused as input, not a crash.
  const deep = '['.repeat(200_000) + ']'.repeat(200_000)
  expectInvalid(() => recordFromEvent(eventOf('kv.put', `{"key":"k","value":${deep}}`), { maxKeyBytes: 16, maxValueBytes: 1 << 20 }), 'event.data.value')
})

// ---------------------------------------------------------------------------------------------------------
const checks = suite('kv validateKey / validateValue')

checks('validateValue accepts plain JSON and returns its text', () => {
  assert.is(validateValue({ a: [1, null, true, 'ü'], b: {} }, 100, 'v'), '{"a":[1,null,true,"ü"],"b":{}}')
  const shared = { x: 1 }
  assert.is(validateValue([shared, shared], 100, 'v'), '[{"x":1},{"x":1}]')
  assert.is(validateValue(Object.assign(Object.create(null) as object, { a: 1 }), 100, 'v'), '{"a":1}')
})

checks('validateValue refuses what JSON would change or drop', () => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  expectInvalid(() => validateValue(undefined, 100, 'v'), 'v')
  expectInvalid(() => validateValue(() => 1, 100, 'v'), 'v')
  expectInvalid(() => validateValue(Symbol('s'), 100, 'v'), 'v')
  expectInvalid(() => validateValue(10n, 100, 'v'), 'v')
  expectInvalid(() => validateValue(cyclic, 100, 'v'), 'v')
  expectInvalid(() => validateValue(new Date(0), 100, 'v'), 'v')
  expectInvalid(() => validateValue({ a: [1, Number.NaN] }, 100, 'v'), 'v.a[1]')
  expectInvalid(() => validateValue({ a: { b: Infinity } }, 100, 'v'), 'v.a.b')
  expectInvalid(() => validateValue([1, , 2], 100, 'v'), 'v[1]')
  expectInvalid(() => validateValue('x'.repeat(99), 100, 'v'), 'v')
})

checks('validateValue names the deepest failing path, and walks no part JSON.stringify skipped', () => {
  expectInvalid(() => validateValue({ list: [{ ok: 1 }, { deep: [0, { n: -Infinity }] }] }, 1000, 'value'), 'value.list[1].deep[1].n')
  expectInvalid(() => validateValue({ a: { 'with space': [new Map()] } }, 1000, 'value'), 'value.a.with space[0]')
  expectInvalid(() => validateValue([[[[() => 1]]]], 1000, 'value'), 'value[0][0][0][0]')
  // A toJSON hides a shared structure of 2^40 paths from JSON.stringify; the walk must fail, not go down it.
  let dag: unknown = 1
  for (let i = 0; i < 40; i++) dag = [dag, dag]
  expectInvalid(() => validateValue({ x: { toJSON: () => 1, dag } }, 1000, 'value'), 'value.x.toJSON')
  expectInvalid(() => validateValue([Object.assign([dag], { toJSON: () => 1 })], 1000, 'value'), 'value[0].toJSON')
  expectInvalid(() => validateValue({ small: Object.assign([1, 2], { toJSON: () => 3 }) }, 1000, 'value'), 'value.small.toJSON')
  // A getter that answers JSON.stringify one thing and the walk another: the walk stops at the text's length.
  let reads = 0
  const sneaky = { get x () { return reads++ === 0 ? 1 : dag } }
  expectInvalid(() => validateValue(sneaky, 1000, 'value'), 'value')
  // Shared sub-objects that JSON.stringify writes out in full are fine, each occurrence checked.
  const cell = { v: [1, 2] }
  assert.is(validateValue({ a: cell, b: [cell, cell] }, 1000, 'v'), '{"a":{"v":[1,2]},"b":[{"v":[1,2]},{"v":[1,2]}]}')
})

checks('validateKey: bytes, not characters', () => {
  assert.is(validateKey('€'.repeat(5), 15, 'k'), '€'.repeat(5))
  expectInvalid(() => validateKey('€'.repeat(5), 14, 'k'), 'k')
  assert.is(validateKey('😀', 4, 'k'), '😀')
  expectInvalid(() => validateKey('\udc00x', 16, 'k'), 'k')
})

laws.run()
parse.run()
checks.run()
