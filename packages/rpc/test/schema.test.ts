/**
 * Params, results and notifications are TypeBox schemas checked by the one kit in @shoal/core (schema/): these
 * tests pin what a caller sees (-32602 data { field, value, expected }) and what OpenRPC publishes.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { expectedOf, type JsonSchema } from '@shoal/core'
import { toJSONSchema, Type, validate, ValidationError, type Infer, type Schema } from '../src/index.js'

const test = suite('schema')

function fails (result: unknown): ValidationError {
  assert.instance(result, ValidationError, `expected a ValidationError, got ${JSON.stringify(result)}`)
  return result as ValidationError
}
const expected = (schema: Schema): string => expectedOf(schema as unknown as JsonSchema)

// Compile-time checks: these lines fail the build if inference regresses.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_ok: T): void {}
const params = Type.Object({
  addr: Type.String({ maxLength: 256 }),
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
  mode: Type.Enum(['fast', 'safe']),
  tags: Type.Array(Type.String()),
  note: Type.Union([Type.String(), Type.Null()]),
  kind: Type.Union([Type.Literal('a'), Type.Literal(1)]),
  extra: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
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
  const name = Type.String({ minLength: 2, maxLength: 4, pattern: '^[a-z😀]+$' })
  assert.is(validate(name, 'abc'), 'abc')
  assert.is(validate(name, '😀😀😀😀'), '😀😀😀😀', '4 code points is 4 characters even though .length is 8')
  const long = fails(validate(name, 'abcde', 'params.name'))
  assert.is(long.field, 'params.name')
  assert.is(long.expected, 'a string of 2 to 4 characters matching /^[a-z😀]+$/')
  assert.ok(long.message.includes('params.name: expected a string of 2 to 4 characters'), long.message)
  fails(validate(name, 'a'))
  fails(validate(name, 'ABC'))
  const notString = fails(validate(name, 42, 'p'))
  assert.is(notString.value, 42)
  const mode = Type.Enum(['fast', 'safe'])
  assert.is(validate(mode, 'safe'), 'safe')
  assert.is(fails(validate(mode, 'slow')).expected, 'a string one of "fast", "safe"')
  assert.is(expected(Type.String({ maxLength: 256 })), 'a string of at most 256 characters')
})

test('bad values are truncated in errors', () => {
  const err = fails(validate(Type.Integer(), 'x'.repeat(10_000), 'params.n'))
  assert.type(err.value, 'string')
  assert.ok((err.value as string).length < 100, 'value preview is short')
  assert.ok(err.message.length < 200, err.message)
})

test('integer and number', () => {
  const port = Type.Integer({ minimum: 1, maximum: 65535 })
  assert.is(validate(port, 80), 80)
  assert.is(expected(port), 'an integer from 1 to 65535')
  for (const bad of [0, 65536, 1.5, '80', Number.NaN, null, 2 ** 60]) fails(validate(port, bad))
  // JSON Schema's integer is any whole number; ours are exact doubles (the fuzz run found events.list
  // { since: 1.8e308 } answering -32603 once the old kit's safe-integer rule was lost).
  const cursor = Type.Integer({ minimum: 0 })
  assert.is(expected(cursor), 'an integer of at least 0')
  for (const huge of [2 ** 53, 1.797693134862315e308, -(2 ** 60)]) fails(validate(cursor, huge))
  assert.is(fails(validate(cursor, 1.797693134862315e308, 'params.since')).expected, 'an integer of at least 0 (within ±9007199254740991)')
  assert.is(validate(cursor, Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
  const n = Type.Number({ maximum: 1 })
  assert.is(validate(n, 0.5), 0.5)
  fails(validate(n, Infinity))
  fails(validate(n, 1.01))
  assert.is(expected(n), 'a number of at most 1')
})

test('boolean, unknown, literal, null', () => {
  assert.is(validate(Type.Boolean(), false), false)
  fails(validate(Type.Boolean(), 'false'))
  assert.equal(validate(Type.Unknown(), { x: [1] }), { x: [1] })
  assert.is(validate(Type.Literal('v1'), 'v1'), 'v1')
  assert.is(fails(validate(Type.Literal('v1'), 'v2')).expected, 'the value "v1"')
  assert.is(validate(Type.Null(), null), null)
  fails(validate(Type.Null(), undefined))
})

test('array: items, bounds, element path', () => {
  const list = Type.Array(Type.Integer(), { maxItems: 3 })
  assert.equal(validate(list, [1, 2, 3]), [1, 2, 3])
  assert.is(fails(validate(list, [1, 2, 3, 4], 'params.xs')).expected, 'an array of at most 3 items')
  assert.is(fails(validate(list, [1, 'two'], 'params.xs')).field, 'params.xs[1]')
  fails(validate(list, { 0: 1 }))
})

test('object: nested field paths, required, optional', () => {
  const schema = Type.Object({
    peer: Type.Object({ addr: Type.String({ maxLength: 8 }), port: Type.Optional(Type.Integer()) }),
    items: Type.Array(Type.Object({ key: Type.String() }))
  })
  assert.equal(validate(schema, { peer: { addr: 'a' }, items: [] }), { peer: { addr: 'a' }, items: [] })
  const deep = fails(validate(schema, { peer: { addr: 'way too long' }, items: [] }, 'params'))
  assert.is(deep.field, 'params.peer.addr')
  assert.is(deep.expected, 'a string of at most 8 characters')
  assert.is(fails(validate(schema, { peer: { addr: 'a' }, items: [{ key: 1 }] }, 'params')).field, 'params.items[0].key')
  const missing = fails(validate(schema, { items: [] }, 'params'))
  assert.is(missing.field, 'params.peer')
  assert.ok(missing.message.includes('params.peer is required'), missing.message)
  fails(validate(schema, null))
  fails(validate(schema, []))
})

test('object: unknown fields rejected when closed, naming the field', () => {
  const schema = Type.Object({ addr: Type.String() }, { additionalProperties: false })
  const err = fails(validate(schema, { addr: 'x', adr: 'y' }, 'params'))
  assert.is(err.field, 'params.adr')
  assert.ok(err.message.includes('unknown field'), err.message)
  assert.ok(err.message.includes('addr'), 'lists known fields')
  const odd = fails(validate(schema, { addr: 'x', 'a b': 1 }, 'params'))
  assert.is(odd.field, 'params["a b"]')
  const open = Type.Object({ addr: Type.String() })
  const value = validate(open, JSON.parse('{"addr":"x","__proto__":{"polluted":true}}')) as Record<string, unknown>
  assert.is(value.addr, 'x')
  assert.is(({} as Record<string, unknown>).polluted, undefined, 'checking copies nothing onto a prototype')
})

test('record, nullable, union', () => {
  const labels = Type.Record(Type.String(), Type.String({ maxLength: 3 }), { maxProperties: 2 })
  assert.equal(validate(labels, { a: 'x' }), { a: 'x' })
  assert.is(fails(validate(labels, { a: 'long' }, 'p')).field, 'p.a')
  fails(validate(labels, { a: '1', b: '2', c: '3' }))
  assert.is(expected(labels), 'an object whose values are a string of at most 3 characters (at most 2 keys)')
  const maybe = Type.Union([Type.Integer(), Type.Null()])
  assert.is(validate(maybe, null), null)
  assert.is(expected(maybe), 'an integer or null')
  const shape = Type.Union([
    Type.Object({ type: Type.Literal('circle'), r: Type.Number() }),
    Type.Object({ type: Type.Literal('square'), side: Type.Number() })
  ])
  assert.equal(validate(shape, { type: 'square', side: 2 }), { type: 'square', side: 2 })
  const inner = fails(validate(shape, { type: 'circle', r: 'big' }, 'params.shape'))
  assert.is(inner.field, 'params.shape.r', 'reports the error inside the closest alternative')
  assert.ok(fails(validate(Type.Union([Type.String(), Type.Integer()]), true)).expected.startsWith('one of: a string | an integer'))
})

test('toJSONSchema: plain JSON Schema, a fresh copy each time', () => {
  assert.equal(toJSONSchema(params), {
    type: 'object',
    properties: {
      addr: { type: 'string', maxLength: 256 },
      limit: { type: 'integer', minimum: 1 },
      mode: { enum: ['fast', 'safe'] },
      tags: { type: 'array', items: { type: 'string' } },
      note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      kind: { anyOf: [{ type: 'string', const: 'a' }, { type: 'number', const: 1 }] },
      extra: { type: 'boolean' }
    },
    required: ['addr', 'mode', 'tags', 'note', 'kind'],
    additionalProperties: false
  })
  assert.equal(toJSONSchema(Type.String({ pattern: '^a+$', description: 'as' })), { type: 'string', pattern: '^a+$', description: 'as' })
  assert.equal(toJSONSchema(Type.Unknown()), {})
  const object = Type.Object({})
  const json = toJSONSchema(object)
  json.type = 'mutated'
  assert.is(toJSONSchema(object).type, 'object')
})

test('previews survive values JSON cannot print', () => {
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  const err = fails(validate(Type.String(), deep, 'params.x'))
  assert.type(err.value, 'string')
})

test.run()
