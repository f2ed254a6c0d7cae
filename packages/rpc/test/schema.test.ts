import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { s, ValidationError, type Infer } from '../src/index.js'

const test = suite('schema')

function fails (result: unknown): ValidationError {
  assert.instance(result, ValidationError, `expected a ValidationError, got ${JSON.stringify(result)}`)
  return result as ValidationError
}

// Compile-time checks: these lines fail the build if inference regresses.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_ok: T): void {}
const params = s.object({
  addr: s.string({ maxLength: 256 }),
  limit: s.optional(s.integer({ min: 1 })),
  mode: s.string({ enum: ['fast', 'safe'] }),
  tags: s.array(s.string()),
  note: s.nullable(s.string()),
  kind: s.oneOf([s.literal('a'), s.literal(1)]),
  extra: s.boolean()
}, { optional: ['extra'] })
expectType<Equal<Infer<typeof params>, {
  addr: string
  limit?: number
  mode: 'fast' | 'safe'
  tags: string[]
  note: string | null
  kind: 'a' | 1
  extra?: boolean
}>>(true)

test('string: type, length in code points, pattern, enum', () => {
  const name = s.string({ minLength: 2, maxLength: 4, pattern: /^[a-z😀]+$/u })
  assert.is(name.validate('abc'), 'abc')
  assert.is(name.validate('😀😀😀😀'), '😀😀😀😀', '4 code points is 4 characters even though .length is 8')
  const long = fails(name.validate('abcde', 'params.name'))
  assert.is(long.field, 'params.name')
  assert.is(long.expected, 'a string of 2 to 4 characters matching /^[a-z😀]+$/')
  assert.ok(long.message.includes('params.name: expected a string of 2 to 4 characters'), long.message)
  fails(name.validate('a'))
  fails(name.validate('ABC'))
  const notString = fails(name.validate(42, 'p'))
  assert.is(notString.value, 42)
  const mode = s.string({ enum: ['fast', 'safe'] })
  assert.is(mode.validate('safe'), 'safe')
  assert.is(fails(mode.validate('slow')).expected, 'a string one of "fast", "safe"')
  assert.is(s.string({ maxLength: 256 }).expected, 'a string of at most 256 characters')
})

test('bad values are truncated in errors', () => {
  const err = fails(s.integer().validate('x'.repeat(10_000), 'params.n'))
  assert.type(err.value, 'string')
  assert.ok((err.value as string).length < 100, 'value preview is short')
  assert.ok(err.message.length < 200, err.message)
})

test('integer and number', () => {
  const port = s.integer({ min: 1, max: 65535 })
  assert.is(port.validate(80), 80)
  assert.is(port.expected, 'an integer from 1 to 65535')
  for (const bad of [0, 65536, 1.5, '80', Number.NaN, null, 2 ** 60]) fails(port.validate(bad))
  const n = s.number({ max: 1 })
  assert.is(n.validate(0.5), 0.5)
  fails(n.validate(Infinity))
  fails(n.validate(1.01))
  assert.is(n.expected, 'a number of at most 1')
})

test('boolean, any, literal, null', () => {
  assert.is(s.boolean().validate(false), false)
  fails(s.boolean().validate('false'))
  assert.equal(s.any().validate({ x: [1] }), { x: [1] })
  assert.is(s.literal('v1').validate('v1'), 'v1')
  assert.is(fails(s.literal('v1').validate('v2')).expected, 'the value "v1"')
  assert.is(s.null().validate(null), null)
  fails(s.null().validate(undefined))
})

test('array: items, bounds, element path', () => {
  const list = s.array(s.integer(), { maxItems: 3 })
  assert.equal(list.validate([1, 2, 3]), [1, 2, 3])
  assert.is(fails(list.validate([1, 2, 3, 4], 'params.xs')).expected, 'an array of at most 3 items')
  assert.is(fails(list.validate([1, 'two'], 'params.xs')).field, 'params.xs[1]')
  fails(list.validate({ 0: 1 }))
})

test('object: nested field paths, required, optional', () => {
  const schema = s.object({
    peer: s.object({ addr: s.string({ maxLength: 8 }), port: s.optional(s.integer()) }),
    items: s.array(s.object({ key: s.string() }))
  })
  assert.equal(schema.validate({ peer: { addr: 'a' }, items: [] }), { peer: { addr: 'a' }, items: [] })
  const deep = fails(schema.validate({ peer: { addr: 'way too long' }, items: [] }, 'params'))
  assert.is(deep.field, 'params.peer.addr')
  assert.is(deep.expected, 'a string of at most 8 characters')
  assert.is(fails(schema.validate({ peer: { addr: 'a' }, items: [{ key: 1 }] }, 'params')).field, 'params.items[0].key')
  const missing = fails(schema.validate({ items: [] }, 'params'))
  assert.is(missing.field, 'params.peer')
  assert.ok(missing.message.includes('params.peer is required'), missing.message)
  fails(schema.validate(null))
  fails(schema.validate([]))
})

test('object: unknown fields rejected by default, naming the field', () => {
  const schema = s.object({ addr: s.string() })
  const err = fails(schema.validate({ addr: 'x', adr: 'y' }, 'params'))
  assert.is(err.field, 'params.adr')
  assert.ok(err.message.includes('unknown field'), err.message)
  assert.ok(err.message.includes('addr'), 'lists known fields')
  const odd = fails(schema.validate({ addr: 'x', 'a b': 1 }, 'params'))
  assert.is(odd.field, 'params["a b"]')
  const open = s.object({ addr: s.string() }, { additionalProperties: true })
  const value = open.validate(JSON.parse('{"addr":"x","__proto__":{"polluted":true}}')) as Record<string, unknown>
  assert.is(value.addr, 'x')
  assert.is(Object.getPrototypeOf(value), Object.prototype, '__proto__ stays a plain field')
  assert.is(({} as Record<string, unknown>).polluted, undefined)
})

test('record, nullable, oneOf', () => {
  const labels = s.record(s.string({ maxLength: 3 }), { maxProperties: 2 })
  assert.equal(labels.validate({ a: 'x' }), { a: 'x' })
  assert.is(fails(labels.validate({ a: 'long' }, 'p')).field, 'p.a')
  fails(labels.validate({ a: '1', b: '2', c: '3' }))
  const maybe = s.nullable(s.integer())
  assert.is(maybe.validate(null), null)
  assert.is(maybe.expected, 'an integer or null')
  const shape = s.oneOf([
    s.object({ type: s.literal('circle'), r: s.number() }),
    s.object({ type: s.literal('square'), side: s.number() })
  ])
  assert.equal(shape.validate({ type: 'square', side: 2 }), { type: 'square', side: 2 })
  const inner = fails(shape.validate({ type: 'circle', r: 'big' }, 'params.shape'))
  assert.is(inner.field, 'params.shape.r', 'reports the error inside the closest alternative')
  assert.ok(fails(s.oneOf([s.string(), s.integer()]).validate(true)).expected.startsWith('one of: a string | an integer'))
})

test('toJSONSchema', () => {
  assert.equal(params.toJSONSchema(), {
    type: 'object',
    properties: {
      addr: { type: 'string', maxLength: 256 },
      limit: { type: 'integer', minimum: 1 },
      mode: { type: 'string', enum: ['fast', 'safe'] },
      tags: { type: 'array', items: { type: 'string' } },
      note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      kind: { anyOf: [{ const: 'a' }, { const: 1 }] },
      extra: { type: 'boolean' }
    },
    required: ['addr', 'mode', 'tags', 'note', 'kind'],
    additionalProperties: false
  })
  assert.equal(s.string({ pattern: '^a+$', description: 'as' }).toJSONSchema(), { type: 'string', pattern: '^a+$', description: 'as' })
  assert.equal(s.record(s.integer(), { maxProperties: 5 }).toJSONSchema(), { type: 'object', additionalProperties: { type: 'integer' }, maxProperties: 5 })
  assert.equal(s.any().toJSONSchema(), {})
  const json = s.object({}).toJSONSchema()
  json.type = 'mutated'
  assert.is(s.object({}).toJSONSchema().type, 'object')
})

test('previews survive values JSON cannot print', () => {
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  const err = fails(s.string().validate(deep, 'params.x'))
  assert.type(err.value, 'string')
})

test.run()
