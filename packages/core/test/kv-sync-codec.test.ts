/**
 * The KV anti-entropy wire codec: every frame from a peer is checked field by field; a rejection names the path.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { KV_SYNC_BATCH, KV_SYNC_MAX_LEAF_ENTRIES } from '../src/constants.js'
import { InvalidInputError } from '../src/errors.js'
import { HLC_MAX_LOGICAL, HLC_MAX_WALL } from '../src/hlc.js'
import { ZERO_HASH } from '../src/kv/merkle.js'
import { validateKvSyncMessage, validateKvSyncRequest, validateKvSyncResponse, validateKvVersion } from '../src/kv/sync-codec.js'
import type { KvSyncMessage } from '../src/kv/sync-codec.js'
import { seededRng } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const HASH = 'ab'.repeat(32)
const version = { wall: 1_700_000_000_000, logical: 2, node: 'peer-a' }
const event = { v: 1, type: 'kv.put', topic: 'kv', origin: 'peer-a', seq: 1, hlc: { wall: 1, logical: 0 }, data: '{"key":"k","value":1}', sig: 'AA' }

const requests: KvSyncMessage[] = [
  { v: 1, type: 'root' },
  { v: 1, type: 'nodes', ids: ['', 'a', 'a3', 'a3f'] },
  { v: 1, type: 'leaves', ids: ['a3f0', '0000', 'ffff'] },
  { v: 1, type: 'leaves', ids: ['a3f0'], after: 'user/9' },
  { v: 1, type: 'get', keys: ['user/1', 'ünï', '😀'] },
  { v: 1, type: 'store', event },
  { v: 1, type: 'pull' }
]
const responses: KvSyncMessage[] = [
  { v: 1, type: 'root', hash: HASH, count: 0 },
  { v: 1, type: 'root', hash: ZERO_HASH, count: 10_000 },
  { v: 1, type: 'nodes', nodes: [{ id: 'a', hash: HASH }, { id: 'a3f0', hash: ZERO_HASH }] },
  { v: 1, type: 'nodes', nodes: [] },
  { v: 1, type: 'leaves', entries: [{ key: 'user/1', version }], more: false },
  { v: 1, type: 'leaves', entries: [], more: true },
  { v: 1, type: 'records', records: [event, 'anything; the node checks each'], more: true },
  { v: 1, type: 'stored', ok: true },
  { v: 1, type: 'stored', ok: false, reason: 'disk full' }
]

function expectInvalid (fn: () => unknown, path: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError at ${path}, got ${String(caught)}`)
  const err = caught as InvalidInputError
  assert.is(err.code, 'ERR_INVALID_INPUT')
  assert.is(err.data?.field, path, err.message)
  assert.ok(err.message.startsWith(`${path}: expected `), err.message)
}

const hexId = (n: number, i: number): string => i.toString(16).padStart(n, '0').slice(-n)

// ---------------------------------------------------------------------------------------------------------
const valid = suite('kv sync codec: valid frames')

valid('every request and reply passes unchanged, in the right direction', () => {
  for (const m of requests) {
    assert.equal(validateKvSyncMessage(clone(m)), m)
    assert.equal(validateKvSyncRequest(clone(m)), m)
  }
  for (const m of responses) {
    assert.equal(validateKvSyncMessage(clone(m)), m)
    assert.equal(validateKvSyncResponse(clone(m)), m)
  }
})

valid('a reply is not a request, and a request is not a reply', () => {
  expectInvalid(() => validateKvSyncRequest({ v: 1, type: 'records', records: [], more: false }), 'message.type')
  expectInvalid(() => validateKvSyncRequest({ v: 1, type: 'root', hash: HASH, count: 1 }), 'message.hash')
  expectInvalid(() => validateKvSyncResponse({ v: 1, type: 'get', keys: [] }), 'message.type')
  expectInvalid(() => validateKvSyncResponse({ v: 1, type: 'nodes', ids: [] }), 'message.ids')
})

valid('lists at their bounds pass', () => {
  const ids = Array.from({ length: KV_SYNC_BATCH }, (_, i) => hexId(3, i))
  assert.is((validateKvSyncRequest({ v: 1, type: 'nodes', ids }) as { ids: string[] }).ids.length, KV_SYNC_BATCH)
  const leaves = Array.from({ length: KV_SYNC_BATCH }, (_, i) => hexId(4, i))
  assert.ok(validateKvSyncRequest({ v: 1, type: 'leaves', ids: leaves }))
  const keys = Array.from({ length: KV_SYNC_BATCH }, (_, i) => `k${i}`)
  assert.ok(validateKvSyncRequest({ v: 1, type: 'get', keys }))
  const nodes = Array.from({ length: 16 * KV_SYNC_BATCH }, (_, i) => ({ id: hexId(4, i), hash: HASH }))
  assert.ok(validateKvSyncResponse({ v: 1, type: 'nodes', nodes }))
  const entries = Array.from({ length: KV_SYNC_MAX_LEAF_ENTRIES }, (_, i) => ({ key: `k${i}`, version }))
  assert.ok(validateKvSyncResponse({ v: 1, type: 'leaves', entries, more: true }))
  assert.ok(validateKvSyncResponse({ v: 1, type: 'records', records: Array(KV_SYNC_BATCH).fill({}), more: false }))
  assert.equal(validateKvVersion({ wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL, node: 'p' }, 'v'), { wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL, node: 'p' })
})

// ---------------------------------------------------------------------------------------------------------
const invalid = suite('kv sync codec: invalid frames name the field')

invalid('envelope', () => {
  for (const v of [null, [], 'root', 5]) expectInvalid(() => validateKvSyncMessage(v), 'message')
  expectInvalid(() => validateKvSyncMessage({ v: 2, type: 'root' }), 'message.v')
  expectInvalid(() => validateKvSyncMessage({ type: 'root' }), 'message.v')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'digest' }), 'message.type')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'root', extra: 1 }), 'message.extra')
})

invalid('node ids: internal 0-3 hex digits, leaves exactly 4', () => {
  for (const id of ['abcd', 'A', 'g', ' a', 5, null]) expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', ids: ['a', id] }), 'message.ids[1]')
  for (const id of ['abc', '', 'abcde', 'ABCD', 'a3g0']) expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', ids: [id] }), 'message.ids[0]')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', ids: 'a' }), 'message.ids')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', ids: ['abcd'], after: '' }), 'message.after')
  for (const id of ['', 'abcde', 'G']) {
    expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', nodes: [{ id, hash: HASH }] }), 'message.nodes[0].id')
  }
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', nodes: [{ id: 'a', hash: HASH.toUpperCase() }] }), 'message.nodes[0].hash')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', nodes: [{ id: 'a', hash: HASH, x: 1 }] }), 'message.nodes[0].x')
})

invalid('list bounds', () => {
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', ids: Array(KV_SYNC_BATCH + 1).fill('a') }), 'message.ids')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', ids: Array(KV_SYNC_BATCH + 1).fill('abcd') }), 'message.ids')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'get', keys: Array(KV_SYNC_BATCH + 1).fill('k') }), 'message.keys')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'nodes', nodes: Array(16 * KV_SYNC_BATCH + 1).fill({ id: 'a', hash: HASH }) }), 'message.nodes')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', entries: Array(KV_SYNC_MAX_LEAF_ENTRIES + 1).fill({ key: 'k', version }), more: true }), 'message.entries')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'records', records: Array(KV_SYNC_BATCH + 1).fill({}), more: true }), 'message.records')
})

invalid('keys, versions, hashes, flags', () => {
  for (const k of ['', 'a\u0000', '\ud800', 'x'.repeat(513), 7]) expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'get', keys: [k] }), 'message.keys[0]')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'get', keys: ['x'.repeat(20)] }, { maxKeyBytes: 16 }), 'message.keys[0]')
  const entry = (e: unknown): unknown => ({ v: 1, type: 'leaves', entries: [e], more: false })
  expectInvalid(() => validateKvSyncMessage(entry({ key: '', version })), 'message.entries[0].key')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k' })), 'message.entries[0].version')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version, x: 1 })), 'message.entries[0].x')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version: { ...version, wall: -1 } })), 'message.entries[0].version.wall')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version: { ...version, wall: HLC_MAX_WALL + 1 } })), 'message.entries[0].version.wall')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version: { ...version, logical: 1.5 } })), 'message.entries[0].version.logical')
  expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version: { ...version, logical: HLC_MAX_LOGICAL + 1 } })), 'message.entries[0].version.logical')
  for (const node of ['', 'a/b', '__proto__', 5]) expectInvalid(() => validateKvSyncMessage(entry({ key: 'k', version: { ...version, node } })), 'message.entries[0].version.node')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', entries: [], more: 'no' }), 'message.more')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'leaves', entries: [] }), 'message.more')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'root', hash: 'ab', count: 1 }), 'message.hash')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'root', count: 1 }), 'message.hash')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'root', hash: HASH, count: -1 }), 'message.count')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'records', records: {}, more: false }), 'message.records')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'store' }), 'message.event')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'pull', keys: [] }), 'message.keys')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'store', event: 'e' }), 'message.event')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'stored', ok: 1 }), 'message.ok')
  expectInvalid(() => validateKvSyncMessage({ v: 1, type: 'stored', ok: false, reason: 'x'.repeat(257) }), 'message.reason')
})

// ---------------------------------------------------------------------------------------------------------
const fuzz = suite('kv sync codec: seeded fuzz')

function mutate (v: unknown, rng: Rng, depth = 0): unknown {
  const junk = [null, undefined, -1, 1.5, 2 ** 53, NaN, '', 'abcd', 'g', ZERO_HASH, [], {}, true, '__proto__', '\ud800', 'x'.repeat(600)]
  if (rng() < 0.15 || depth > 4) return junk[Math.floor(rng() * junk.length)]
  if (Array.isArray(v)) {
    const out = v.map(x => (rng() < 0.3 ? mutate(x, rng, depth + 1) : x))
    if (rng() < 0.2) out.push(mutate(v[0], rng, depth + 1))
    if (rng() < 0.05 && out.length > 1) delete out[0]
    return out
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) }
    for (const k of Object.keys(out)) {
      const r = rng()
      if (r < 0.1) Reflect.deleteProperty(out, k)
      else if (r < 0.4) out[k] = mutate(out[k], rng, depth + 1)
    }
    if (rng() < 0.1) out[['extra', 'ids', 'hash', 'after', 'more'][Math.floor(rng() * 5)]!] = 'x'
    return out
  }
  return mutate(undefined, rng, depth + 5)
}

fuzz('mutated frames pass or fail only with InvalidInputError', () => {
  const rng = seededRng(42)
  const all = [...requests, ...responses]
  let passed = 0
  for (let i = 0; i < 20_000; i++) {
    const m = mutate(clone(all[i % all.length]), rng)
    for (const f of [validateKvSyncMessage, validateKvSyncRequest, validateKvSyncResponse]) {
      try {
        f(m)
        passed++
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `${String(err)} for ${JSON.stringify(m)}`)
      }
    }
  }
  assert.ok(passed > 1000, `${passed} passed`)
})

valid.run()
invalid.run()
fuzz.run()
