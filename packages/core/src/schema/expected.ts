/**
 * The phrase that tells a person what a schema accepts ("an integer from 1 to 65535", "a string of at most 512
 * characters"). Derived from the JSON Schema keywords themselves, so the message, the OpenRPC document and the
 * check cannot drift apart. A schema may carry its own phrase in the `expected` keyword (the config uses it for
 * wording operators already know, e.g. "true or false"); it then speaks for every failure at that level.
 */
export type JsonSchema = Record<string, unknown>

const cache = new WeakMap<object, string>()

/** What `schema` accepts, as a phrase for messages and the docs' type column. */
export function expectedOf (schema: JsonSchema): string {
  let phrase = cache.get(schema)
  if (phrase === undefined) {
    phrase = derive(schema)
    cache.set(schema, phrase)
  }
  return phrase
}

function derive (schema: JsonSchema): string {
  if (typeof schema.expected === 'string') return schema.expected
  const allOf = schema.allOf as JsonSchema[] | undefined
  if (allOf !== undefined) return allOf.map(expectedOf).join(', and ')
  const anyOf = schema.anyOf as JsonSchema[] | undefined
  if (anyOf !== undefined) {
    const nullable = nullableInner(schema)
    if (nullable !== undefined) return `${expectedOf(nullable)} or null`
    return `one of: ${anyOf.map(expectedOf).join(' | ')}`
  }
  if ('const' in schema) return `the value ${JSON.stringify(schema.const)}`
  const choices = schema.enum as unknown[] | undefined
  // TypeBox's Enum of strings leaves out `type`; it reads as a string all the same.
  const type = schema.type ?? (choices?.every(c => typeof c === 'string') === true ? 'string' : undefined)
  switch (type) {
    case 'string': {
      const parts = ['a string']
      if (choices !== undefined) parts.push(`one of ${choices.map(c => JSON.stringify(c)).join(', ')}`)
      const { minLength: min, maxLength: max } = schema as { minLength?: number, maxLength?: number }
      if (min !== undefined && max !== undefined) parts.push(`of ${min} to ${max} characters`)
      else if (max !== undefined) parts.push(`of at most ${max} characters`)
      else if (min !== undefined) parts.push(`of at least ${min} characters`)
      if (typeof schema.pattern === 'string') parts.push(`matching /${schema.pattern}/`)
      return parts.join(' ')
    }
    case 'integer':
    case 'number': {
      // The bounds of an exact double (Type.Integer's default) are no bound a person needs to read.
      const min = schema.minimum === Number.MIN_SAFE_INTEGER ? undefined : schema.minimum as number | undefined
      const max = schema.maximum === Number.MAX_SAFE_INTEGER ? undefined : schema.maximum as number | undefined
      const noun = schema.type === 'integer' ? 'an integer' : 'a number'
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`
      if (min !== undefined) return `${noun} of at least ${min}`
      if (max !== undefined) return `${noun} of at most ${max}`
      return noun
    }
    case 'boolean': return 'a boolean'
    case 'null': return 'the value null'
    case 'array': {
      const { minItems, maxItems } = schema as { minItems?: number, maxItems?: number }
      const bound = maxItems !== undefined ? ` (at most ${maxItems})` : minItems !== undefined ? ` (at least ${minItems})` : ''
      return `an array of ${expectedOf((schema.items ?? {}) as JsonSchema)}${bound}`
    }
    case 'object': {
      const values = recordValues(schema)
      if (values !== undefined) {
        const max = schema.maxProperties as number | undefined
        return `an object whose values are ${expectedOf(values)}${max !== undefined ? ` (at most ${max} keys)` : ''}`
      }
      const names = Object.keys((schema.properties ?? {}) as object)
      return names.length === 0 ? 'an object with no fields' : `an object with fields ${names.join(', ')}`
    }
  }
  if (choices !== undefined) return `one of ${choices.map(c => JSON.stringify(c)).join(', ')}`
  return 'any JSON value'
}

/** `anyOf: [X, { type: 'null' }]` (either order): X, else undefined. */
export function nullableInner (schema: JsonSchema): JsonSchema | undefined {
  const anyOf = schema.anyOf as JsonSchema[] | undefined
  if (anyOf?.length !== 2) return undefined
  const [a, b] = anyOf as [JsonSchema, JsonSchema]
  if (b.type === 'null' && Object.keys(b).length === 1) return a
  if (a.type === 'null' && Object.keys(a).length === 1) return b
  return undefined
}

/** The value schema of a map with free-form keys (TypeBox's Record: one catch-all pattern, or additionalProperties). */
export function recordValues (schema: JsonSchema): JsonSchema | undefined {
  const patterns = schema.patternProperties as Record<string, JsonSchema> | undefined
  if (patterns !== undefined) {
    const values = Object.values(patterns)
    return values.length === 1 ? values[0] : undefined
  }
  const extra = schema.additionalProperties
  return typeof extra === 'object' && extra !== null && schema.properties === undefined ? extra as JsonSchema : undefined
}
