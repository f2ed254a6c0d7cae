/**
 * The gossip envelope: every byte string a peer can send decodes to an envelope or to one counted reject
 * reason, and decode never throws (a throw would escape the gossip validator and crash the node).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ENVELOPE_VERSION, EnvelopeCodec, REJECT_REASONS } from '../src/envelope.js'
import type { DecodeResult, RejectReason } from '../src/envelope.js'
import { InvalidInputError } from '../src/errors.js'
import { seededRng } from '../src/rng.js'
import type { Rng } from '../src/rng.js'
import { checked, Type } from '../src/schema/index.js'

interface Ping { n: number }

const MAX = 256

/** A strict validator: exactly { n: integer }. */
const PING = Type.Object({ n: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })
function ping (payload: unknown): Ping {
  return { n: checked(PING, payload, 'payload').n }
}

function codec (maxBytes = MAX): EnvelopeCodec<Ping> {
  return new EnvelopeCodec<Ping>({ maxBytes, validators: { 'test.ping': ping } })
}

const enc = new TextEncoder()
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v))
const valid = { v: ENVELOPE_VERSION, type: 'test.ping', sentAt: 1_700_000_000_000, payload: { n: 7 } }

function expectReject (result: DecodeResult<unknown>, reason: RejectReason, detail?: RegExp): void {
  assert.is(result.ok, false, `expected reject '${reason}', got ${JSON.stringify(result)}`)
  if (result.ok) return
  assert.is(result.reason, reason, result.detail)
  assert.type(result.detail, 'string')
  if (detail !== undefined) assert.match(result.detail, detail)
}

// ---------------------------------------------------------------------------------------------------------
const roundTrip = suite('envelope: round trip')

roundTrip('encode then decode gives back type, sentAt and payload', () => {
  const c = codec()
  const result = c.decode(c.encode('test.ping', { n: 42 }, 123))
  assert.equal(result, { ok: true, envelope: { v: 1, type: 'test.ping', sentAt: 123, payload: { n: 42 } } })
})

roundTrip('the payload is what the validator returns, not the raw JSON', () => {
  const c = new EnvelopeCodec<string>({ maxBytes: MAX, validators: { 'test.upper': p => String(p).toUpperCase() } })
  const result = c.decode(json({ v: 1, type: 'test.upper', sentAt: 0, payload: 'abc' }))
  assert.ok(result.ok)
  if (result.ok) assert.is(result.envelope.payload, 'ABC')
})

roundTrip('an envelope of exactly maxBytes is accepted; one byte more is not', () => {
  const bytes = json(valid)
  const c = codec(bytes.byteLength)
  assert.ok(c.decode(bytes).ok)
  assert.ok(codec(bytes.byteLength - 1).decode(bytes).ok === false)
})

roundTrip('field order and whitespace do not matter', () => {
  const text = ' { "payload" : { "n" : 1 } , "sentAt" : 5 , "type" : "test.ping" , "v" : 1 } '
  assert.ok(codec().decode(enc.encode(text)).ok)
})

roundTrip.run()

// ---------------------------------------------------------------------------------------------------------
const rejects = suite('envelope: reject reasons')

rejects('oversized is decided by byte length, before parsing', () => {
  // Multi-byte characters: 100 characters but 300 bytes.
  const c = codec(MAX)
  expectReject(c.decode(json({ ...valid, payload: { n: 1, pad: '€'.repeat(100) } })), 'oversized', /> 256/)
  // Even garbage that would be malformed is first refused for its size.
  expectReject(c.decode(new Uint8Array(MAX + 1)), 'oversized')
})

rejects('bytes that are not UTF-8 are malformed', () => {
  const c = codec()
  expectReject(c.decode(new Uint8Array([0xff, 0xfe, 0xfd])), 'malformed')
  // An invalid sequence hidden inside an otherwise valid JSON string (the decoder is fatal, not lossy).
  const prefix = enc.encode('{"v":1,"type":"test.ping","sentAt":1,"payload":{"n":1},"x":"')
  const bytes = new Uint8Array([...prefix, 0xc3, 0x28, ...enc.encode('"}')])
  expectReject(c.decode(bytes), 'malformed', /UTF-8/)
  // A lone surrogate half encoded as bytes (CESU style) is not UTF-8 either.
  expectReject(c.decode(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22])), 'malformed')
})

rejects('text that is not JSON is malformed', () => {
  const c = codec()
  for (const text of ['', 'hello', '{', '{"v":1,}', 'undefined', 'NaN', '{\'v\':1}']) {
    expectReject(c.decode(enc.encode(text)), 'malformed')
  }
})

rejects('JSON that is not an object is malformed', () => {
  const c = codec()
  for (const v of [[valid], null, 1, 'envelope', true]) {
    expectReject(c.decode(json(v)), 'malformed', /not a JSON object/)
  }
})

rejects('a version other than 1 is unsupported-version (checked before anything else in the object)', () => {
  const c = codec()
  for (const v of [0, 2, 99, '1', null, 1.5]) {
    expectReject(c.decode(json({ ...valid, v })), 'unsupported-version')
  }
  const { v: _v, ...noVersion } = valid
  expectReject(c.decode(json(noVersion)), 'unsupported-version')
  // A future version may add fields; we must not call that malformed (it is counted separately).
  expectReject(c.decode(json({ ...valid, v: 2, extra: true })), 'unsupported-version')
})

rejects('a type without a validator is unknown-type', () => {
  const c = codec()
  expectReject(c.decode(json({ ...valid, type: 'test.pong' })), 'unknown-type', /test\.pong/)
  expectReject(c.decode(json({ ...valid, type: 'TEST.PING' })), 'unknown-type')
})

rejects('prototype names are not validators', () => {
  // A plain-object lookup would find Object.prototype members and call them as validators.
  const c = codec()
  for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
    expectReject(c.decode(json({ ...valid, type })), 'unknown-type')
  }
})

rejects('missing or wrong-typed envelope fields are malformed', () => {
  const c = codec()
  const { type: _t, ...noType } = valid
  const { sentAt: _s, ...noSentAt } = valid
  const { payload: _p, ...noPayload } = valid
  expectReject(c.decode(json(noType)), 'malformed', /envelope\.type/)
  expectReject(c.decode(json(noSentAt)), 'malformed', /envelope\.sentAt/)
  // Without a payload there is no message, whatever the validator would make of `undefined`.
  expectReject(c.decode(json(noPayload)), 'malformed', /envelope\.payload/)
  expectReject(c.decode(json({ ...valid, type: '' })), 'malformed', /envelope\.type/)
  expectReject(c.decode(json({ ...valid, type: 'x'.repeat(65) })), 'malformed', /envelope\.type/)
  expectReject(c.decode(json({ ...valid, type: 7 })), 'malformed', /envelope\.type/)
  expectReject(c.decode(json({ ...valid, sentAt: -1 })), 'malformed', /envelope\.sentAt/)
  expectReject(c.decode(json({ ...valid, sentAt: 1.5 })), 'malformed', /envelope\.sentAt/)
  expectReject(c.decode(json({ ...valid, sentAt: '1' })), 'malformed', /envelope\.sentAt/)
  expectReject(c.decode(enc.encode('{"v":1,"type":"test.ping","sentAt":1e400,"payload":{"n":1}}')), 'malformed', /envelope\.sentAt/)
})

rejects('a missing payload is malformed even for a validator that accepts anything', () => {
  const c = new EnvelopeCodec<unknown>({ maxBytes: MAX, validators: { 'test.any': p => p } })
  expectReject(c.decode(json({ v: 1, type: 'test.any', sentAt: 0 })), 'malformed', /envelope\.payload/)
  // An explicit null payload is a payload; the validator decides.
  assert.ok(c.decode(json({ v: 1, type: 'test.any', sentAt: 0, payload: null })).ok)
})

rejects('extra envelope fields are malformed, including __proto__', () => {
  const c = codec()
  expectReject(c.decode(json({ ...valid, from: 'peer' })), 'malformed', /envelope\.from/)
  // JSON.parse makes "__proto__" an own key; it must be seen and refused, not swallowed.
  expectReject(c.decode(enc.encode('{"v":1,"type":"test.ping","sentAt":1,"payload":{"n":1},"__proto__":{"x":1}}')), 'malformed', /__proto__/)
})

rejects('a validator that throws makes invalid-payload with its message', () => {
  const c = codec()
  expectReject(c.decode(json({ ...valid, payload: { n: 'one' } })), 'invalid-payload', /payload\.n/)
  expectReject(c.decode(json({ ...valid, payload: { n: 1, more: 2 } })), 'invalid-payload', /payload\.more/)
  expectReject(c.decode(json({ ...valid, payload: [] })), 'invalid-payload', /payload/)
  // A validator bug (non-InvalidInputError, even a non-Error throw) is still contained.
  const buggy = new EnvelopeCodec<unknown>({
    maxBytes: MAX,
    validators: {
      'test.type-error': p => (p as { a: { b: number } }).a.b,
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      'test.throws-string': () => { throw 'nope' } // eslint-disable-line no-throw-literal
    }
  })
  expectReject(buggy.decode(json({ v: 1, type: 'test.type-error', sentAt: 0, payload: {} })), 'invalid-payload')
  expectReject(buggy.decode(json({ v: 1, type: 'test.throws-string', sentAt: 0, payload: {} })), 'invalid-payload', /nope/)
})

rejects.run()

// ---------------------------------------------------------------------------------------------------------
const encode = suite('envelope: encode')

encode('refuses a message over maxBytes with InvalidInputError carrying the sizes', () => {
  const c = codec()
  let caught: unknown
  try { c.encode('test.ping', { n: 1, pad: 'x'.repeat(MAX) } as Ping, 0) } catch (err) { caught = err }
  assert.ok(caught instanceof InvalidInputError)
  const err = caught as InvalidInputError
  assert.is(err.code, 'ERR_INVALID_INPUT')
  assert.is(err.data?.max, MAX)
  assert.ok((err.data?.size as number) > MAX)
})

encode('what encode accepts, decode accepts (same limit on both sides)', () => {
  const c = codec()
  // Grow the payload byte by byte up to the limit: every encodable size must decode.
  for (let pad = 0; ; pad++) {
    let bytes: Uint8Array
    try {
      bytes = c.encode('test.any', { n: 1, pad: 'x'.repeat(pad) } as Ping, 0)
    } catch {
      assert.ok(pad > 0)
      break
    }
    assert.ok(bytes.byteLength <= MAX)
    const result = c.decode(bytes)
    // Unknown type here: the size check passed, which is what this case is about.
    expectReject(result, 'unknown-type')
  }
})

encode.run()

// ---------------------------------------------------------------------------------------------------------
const fuzz = suite('envelope: fuzz (seeded)')

function randomBytes (rng: Rng, max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(rng() * max))
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng() * 256)
  return out
}

/** One random edit: flip, insert, delete, truncate or splice in a JSON-significant character. */
function mutate (bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = [...bytes]
  const at = Math.floor(rng() * (out.length + 1))
  const specials = enc.encode('{}[]":,\\0123456789-.eEtrufalsn \u00e9')
  switch (Math.floor(rng() * 5)) {
    case 0: if (out.length > 0) out[Math.min(at, out.length - 1)] = Math.floor(rng() * 256); break
    case 1: out.splice(at, 0, specials[Math.floor(rng() * specials.length)]!); break
    case 2: out.splice(at, 1 + Math.floor(rng() * 4)); break
    case 3: out.length = at; break
    case 4: out.splice(at, 0, ...out.slice(Math.floor(rng() * out.length), Math.floor(rng() * out.length))); break
  }
  return new Uint8Array(out)
}

function checkResult (c: EnvelopeCodec<Ping>, bytes: Uint8Array, counts: Map<string, number>): void {
  let result: DecodeResult<Ping>
  try {
    result = c.decode(bytes)
  } catch (err) {
    assert.unreachable(`decode threw ${String(err)} for ${JSON.stringify([...bytes])}`)
    return
  }
  if (result.ok) {
    // Anything accepted is a well-formed envelope whose payload passed the validator.
    assert.is(result.envelope.v, 1)
    assert.is(result.envelope.type, 'test.ping')
    assert.ok(Number.isSafeInteger(result.envelope.sentAt) && result.envelope.sentAt >= 0)
    assert.equal(ping(result.envelope.payload), result.envelope.payload)
    counts.set('ok', (counts.get('ok') ?? 0) + 1)
  } else {
    assert.ok(REJECT_REASONS.includes(result.reason), result.reason)
    assert.type(result.detail, 'string')
    counts.set(result.reason, (counts.get(result.reason) ?? 0) + 1)
  }
}

fuzz('random byte strings never make decode throw', () => {
  const c = codec()
  const rng = seededRng(0x5eed)
  const counts = new Map<string, number>()
  for (let i = 0; i < 5000; i++) checkResult(c, randomBytes(rng, MAX + 64), counts)
  assert.ok((counts.get('oversized') ?? 0) > 0 && (counts.get('malformed') ?? 0) > 0)
})

fuzz('random mutations of a valid envelope never make decode throw, and reach every reason', () => {
  const c = codec()
  const rng = seededRng(42)
  const counts = new Map<string, number>()
  const seeds = [
    json(valid),
    json({ ...valid, type: 'test.pong' }),
    json({ ...valid, payload: { n: 123456789 } }),
    enc.encode('{"v":1,"type":"test.ping","sentAt":0,"payload":{"n":0},"x":"\u00e9\u20ac"}')
  ]
  for (let i = 0; i < 20_000; i++) {
    let bytes = seeds[i % seeds.length]!
    const edits = 1 + Math.floor(rng() * 4)
    for (let e = 0; e < edits; e++) bytes = mutate(bytes, rng)
    checkResult(c, bytes, counts)
  }
  // The fuzzer is only useful if it explores: every outcome must have been hit at least once.
  for (const reason of ['ok', ...REJECT_REASONS]) {
    if (reason === 'oversized') continue
    assert.ok((counts.get(reason) ?? 0) > 0, `no case reached ${reason}: ${JSON.stringify([...counts])}`)
  }
})

fuzz('random JSON values in each envelope field never make decode throw', () => {
  const c = codec()
  const rng = seededRng(7)
  const pool: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, 1e308, '', 'test.ping', '__proto__', [], [1], {}, { n: 1 }, { n: -1 }, { __proto__: null }]
  const pick = (): unknown => pool[Math.floor(rng() * pool.length)]
  const counts = new Map<string, number>()
  for (let i = 0; i < 5000; i++) {
    const o: Record<string, unknown> = { ...valid }
    for (const k of ['v', 'type', 'sentAt', 'payload', 'extra']) {
      const r = rng()
      if (r < 0.15) delete o[k]
      else if (r < 0.4) o[k] = k === 'v' && rng() < 0.5 ? 1 : pick()
      else if (k === 'extra') delete o[k]
    }
    checkResult(c, json(o), counts)
  }
  assert.ok((counts.get('ok') ?? 0) > 0)
})

fuzz.run()
