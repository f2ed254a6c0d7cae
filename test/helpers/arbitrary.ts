/**
 * fast-check generators derived from a JSON Schema (the subset our TypeBox schemas use), for fuzzing each RPC
 * method with params of the right shape, and near misses of it. Sizes are kept small: the point is to reach every
 * branch of every handler, not to test the body limit (the raw-body fuzz does that).
 */
import fc from 'fast-check'

type JsonSchema = Record<string, unknown>

/** Values that satisfy `schema` (or come close where a pattern cannot be generated exactly). */
export function arbitraryOf (schema: JsonSchema, overrides: Record<string, fc.Arbitrary<unknown>> = {}, path = ''): fc.Arbitrary<unknown> {
  const own = overrides[path]
  if (own !== undefined) return own
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as JsonSchema[]).map(s => arbitraryOf(s, overrides, path)))
  if (Array.isArray(schema.allOf)) return arbitraryOf((schema.allOf as JsonSchema[]).at(-1) as JsonSchema, overrides, path)
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  switch (schema.type) {
    case 'string': {
      const minLength = (schema.minLength as number | undefined) ?? 0
      const maxLength = Math.min((schema.maxLength as number | undefined) ?? 24, 200)
      if (typeof schema.pattern === 'string') {
        const limit = (schema.maxLength as number | undefined) ?? Infinity
        return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter(s => s.length >= minLength && [...s].length <= limit)
      }
      const max = Math.max(minLength, maxLength)
      // Mostly ASCII (reaches the handlers' own checks), sometimes any code point (NUL, lone surrogates, emoji).
      return fc.oneof(fc.string({ minLength, maxLength: max, unit: 'grapheme-ascii' }), fc.string({ minLength, maxLength: max, unit: 'binary' }))
    }
    case 'integer': return fc.integer({
      min: Math.max((schema.minimum as number | undefined) ?? -1_000_000, Number.MIN_SAFE_INTEGER),
      max: Math.min((schema.maximum as number | undefined) ?? 1_000_000_000, Number.MAX_SAFE_INTEGER)
    })
    case 'number': return fc.double({ min: (schema.minimum as number | undefined) ?? -1e9, max: (schema.maximum as number | undefined) ?? 1e9, noNaN: true, noDefaultInfinity: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': return fc.array(arbitraryOf((schema.items ?? {}) as JsonSchema, overrides, `${path}[]`), {
      minLength: (schema.minItems as number | undefined) ?? 0,
      maxLength: Math.min((schema.maxItems as number | undefined) ?? 4, 4)
    })
    case 'object': {
      const properties = schema.properties as Record<string, JsonSchema> | undefined
      if (properties !== undefined) {
        const model: Record<string, fc.Arbitrary<unknown>> = {}
        for (const [k, v] of Object.entries(properties)) model[k] = arbitraryOf(v, overrides, path === '' ? k : `${path}.${k}`)
        return fc.record(model, { requiredKeys: (schema.required ?? []) as string[] }) as fc.Arbitrary<unknown>
      }
      const patterns = schema.patternProperties as Record<string, JsonSchema> | undefined
      const values = patterns !== undefined ? Object.values(patterns)[0] : undefined
      return fc.dictionary(fc.string({ maxLength: 8 }), values !== undefined ? arbitraryOf(values, overrides, `${path}{}`) : fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
    }
  }
  return fc.jsonValue({ maxDepth: 3 })
}

/** A valid-shaped object with one thing wrong: a field replaced by any JSON, removed, or an unknown one added. */
export function nearMiss (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('replace', 'delete', 'add')).map(([v, n, junk, how]) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return junk
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) }
    const keys = Object.keys(copy)
    if (how === 'add' || keys.length === 0) { copy[`x${n % 7}`] = junk; return copy }
    const key = keys[n % keys.length] as string
    if (how === 'delete') delete copy[key]
    else copy[key] = junk
    return copy
  })
}

/** Request bodies of every kind: valid requests, broken JSON, wrong envelopes, batches, deep nesting, odd ids. */
export function rawBody (methods: readonly string[]): fc.Arbitrary<string> {
  const id = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.double(), fc.constantFrom('9007199254740993', '1e400', '-0'))
  const request = fc.record({
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue({ maxDepth: 1 })),
    id,
    method: fc.oneof(fc.constantFrom(...methods, 'rpc.discover'), fc.string({ maxLength: 20 })),
    params: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 }))
  }, { requiredKeys: [] })
  const encoded = request.map(r => JSON.stringify(r).replace(/"id":"(9007199254740993|1e400|-0)"/, '"id":$1'))
  return fc.oneof(
    encoded,
    fc.array(encoded, { maxLength: 5 }).map(xs => `[${xs.join(',')}]`),
    fc.tuple(encoded, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 4 }).map(v => JSON.stringify(v) ?? 'null'),
    fc.tuple(fc.constantFrom(...methods), fc.integer({ min: 60, max: 20_000 }), fc.constantFrom('[', '{"a":'))
      .map(([m, depth, open]) => `{"jsonrpc":"2.0","id":1,"method":"${m}","params":{"data":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}}`)
  )
}
