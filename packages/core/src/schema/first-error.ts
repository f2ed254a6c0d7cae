/**
 * Finds the first place a value breaks a schema and says it the way a person wants to read it: which field
 * (`params.items[3].key`, `membership.probeIntervalMs`), what it held, what was expected. Runs only after the
 * compiled check (checker.ts) has said no, so its cost never lands on a valid input.
 *
 * Covers the JSON Schema keywords our schemas use: type, const, enum, anyOf, allOf, string length (in code points, as
 * JSON Schema counts) and pattern, numeric bounds, array items and length, object properties / required /
 * additionalProperties / patternProperties / propertyNames / maxProperties. Fields are visited in schema order,
 * unknown fields first, so the first error is stable.
 */
import { expectedOf, nullableInner, type JsonSchema } from './expected.js'

export interface SchemaFailure {
  /** Path of the offending field, under the path the caller passed (e.g. `params.key`). */
  field: string
  /** The bad value (for a bad map key: the key). */
  value: unknown
  /** What would have been accepted. */
  expected: string
  /** Set when the plain "field: expected X, got Y" would mislead (a missing or an unknown field). */
  message?: string
  /** A `const` did not match: in a union, the sign that this alternative was not meant at all. */
  mismatchedConst?: true
  /** With mismatchedConst: how many tags (`const` fields) of the object matched before this one did not. */
  tagsMatched?: number
}

export interface FirstErrorOptions {
  /** How an unknown field is reported; default: `<path>: unknown field (known fields: a, b)`. */
  unknownField?: (field: string, value: unknown, known: readonly string[]) => SchemaFailure
  /** 'invalid': the caller has just seen the compiled check say no (Checker.failure skips checking again). */
  known?: 'invalid'
}

export function firstError (schema: JsonSchema, value: unknown, path: string, opts: FirstErrorOptions = {}): SchemaFailure | undefined {
  const fail = (): SchemaFailure => ({ field: path, value, expected: expectedOf(schema) })
  if (schema.allOf !== undefined) {
    // Every part must hold; the first that fails speaks (e.g. "a non-empty string" before a pattern's phrase).
    for (const part of schema.allOf as JsonSchema[]) {
      const e = firstError(part, value, path, opts)
      if (e !== undefined) return e
    }
    return undefined
  }
  if (schema.anyOf !== undefined) {
    const inner = nullableInner(schema)
    if (inner !== undefined) return value === null ? undefined : firstError(inner, value, path, opts)
    let deepest: SchemaFailure | undefined
    const tags: SchemaFailure[] = []
    for (const alt of schema.anyOf as JsonSchema[]) {
      const e = firstError(alt, value, path, opts)
      if (e === undefined) return undefined
      // A tag of this very object (not one deeper inside an alternative that did match its own tag).
      if (e.mismatchedConst === true && isOwnField(path, e.field)) tags.push(e)
      else if (e.field.length > path.length && (deepest === undefined || e.field.length > deepest.field.length)) deepest = e
    }
    // An error inside one alternative (the right shape and tag, one bad field) says more than "one of".
    if (deepest !== undefined) return deepest
    // Every alternative refused a tag (`type`, `kind`): the ones that matched the most tags before refusing one
    // speak (`{ type: 'error', code: 'nope' }` is about `code`, not `type`), if they refused the same field; name
    // that field and the tags it may hold.
    const most = Math.max(...tags.map(t => t.tagsMatched ?? 0))
    const top = tags.filter(t => (t.tagsMatched ?? 0) === most)
    const first = top[0]
    if (first !== undefined && tags.length === (schema.anyOf as unknown[]).length && top.every(t => t.field === first.field)) {
      const choices = [...new Set(top.map(t => t.expected.replace(/^the value /, '')))]
      return { field: first.field, value: first.value, expected: choices.length === 1 ? first.expected : `one of ${choices.join(', ')}`, mismatchedConst: true, tagsMatched: most }
    }
    return fail()
  }
  if ('const' in schema && value !== schema.const) return { ...fail(), mismatchedConst: true }
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string') return fail()
      const { minLength: min, maxLength: max } = schema as { minLength?: number, maxLength?: number }
      // Length before pattern, so a huge string never reaches the regex.
      if (max !== undefined && value.length > max && codePoints(value) > max) return fail()
      if (min !== undefined && codePoints(value) < min) return fail()
      break
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !(schema.type === 'integer' ? Number.isInteger(value) : Number.isFinite(value))) return fail()
      const { minimum: min, maximum: max } = schema as { minimum?: number, maximum?: number }
      if (schema.type === 'integer' && !Number.isSafeInteger(value) && (min === undefined || value >= min) && (max === undefined || value <= max || max === Number.MAX_SAFE_INTEGER)) {
        // Out only by the exact-double bound checker.ts adds, which the phrase leaves out: say it here.
        return { field: path, value, expected: `${expectedOf(schema)} (within ±${Number.MAX_SAFE_INTEGER})` }
      }
      if ((min !== undefined && value < min) || (max !== undefined && value > max)) return fail()
      break
    }
    case 'boolean': if (typeof value !== 'boolean') return fail(); break
    case 'null': if (value !== null) return fail(); break
    case 'array': return arrayError(schema, value, path, opts)
    case 'object': return objectError(schema, value, path, opts)
  }
  const choices = schema.enum as unknown[] | undefined
  if (choices !== undefined && !choices.includes(value)) return fail()
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !patternOf(schema.pattern).test(value)) return fail()
  return undefined
}

function arrayError (schema: JsonSchema, value: unknown, path: string, opts: FirstErrorOptions): SchemaFailure | undefined {
  const own = typeof schema.expected === 'string' ? schema.expected : undefined
  if (!Array.isArray(value)) return { field: path, value, expected: expectedOf(schema) }
  const { minItems, maxItems } = schema as { minItems?: number, maxItems?: number }
  if (maxItems !== undefined && value.length > maxItems) return { field: path, value, expected: own ?? `an array of at most ${maxItems} items` }
  if (minItems !== undefined && value.length < minItems) return { field: path, value, expected: own ?? `an array of at least ${minItems} items` }
  const items = schema.items as JsonSchema | undefined
  if (items === undefined) return undefined
  for (let i = 0; i < value.length; i++) {
    // Holes are skipped, as the compiled check's Array.every does (JSON never has them).
    if (!(i in value)) continue
    const e = firstError(items, value[i], `${path}[${i}]`, opts)
    if (e !== undefined) return e
  }
  return undefined
}

function objectError (schema: JsonSchema, value: unknown, path: string, opts: FirstErrorOptions): SchemaFailure | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { field: path, value, expected: expectedOf(schema) }
  const input = value as Record<string, unknown>
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>
  const patterns = schema.patternProperties as Record<string, JsonSchema> | undefined
  const extra = schema.additionalProperties
  const names = schema.propertyNames as JsonSchema | undefined
  const keys = Object.keys(input)
  const max = schema.maxProperties as number | undefined
  if (max !== undefined && keys.length > max) return { field: path, value, expected: expectedOf(schema) }
  // Tags first: in a union of objects, a wrong `type` or `kind` means "not this shape", whatever else is wrong.
  let tagsMatched = 0
  for (const [name, field] of Object.entries(properties)) {
    if (!('const' in field) || !Object.hasOwn(input, name)) continue
    if (input[name] === field.const) { tagsMatched++; continue }
    return { field: childPath(path, name), value: input[name], expected: expectedOf(field), mismatchedConst: true, tagsMatched }
  }
  for (const key of keys) {
    const at = childPath(path, key)
    if (names !== undefined && firstError(names, key, at) !== undefined) return { field: at, value: key, expected: expectedOf(names) }
    if (Object.hasOwn(properties, key)) continue
    const pattern = patterns === undefined ? undefined : Object.keys(patterns).find(p => patternOf(p).test(key))
    if (pattern !== undefined) {
      const e = firstError((patterns as Record<string, JsonSchema>)[pattern] as JsonSchema, input[key], at, opts)
      if (e !== undefined) return e
      continue
    }
    if (extra === false) {
      const known = Object.keys(properties)
      if (opts.unknownField !== undefined) return opts.unknownField(at, input[key], known)
      return {
        field: at,
        value: input[key],
        expected: `no field named ${JSON.stringify(key)}`,
        message: `${at}: unknown field${known.length > 0 ? ` (known fields: ${known.join(', ')})` : ''}`
      }
    }
    if (typeof extra === 'object' && extra !== null) {
      const e = firstError(extra as JsonSchema, input[key], at, opts)
      if (e !== undefined) return e
    }
  }
  const required = new Set((schema.required ?? []) as string[])
  for (const [name, field] of Object.entries(properties)) {
    const at = childPath(path, name)
    if (!Object.hasOwn(input, name) || input[name] === undefined) {
      if (!required.has(name)) continue
      const expected = expectedOf(field)
      return { field: at, value: undefined, expected, message: `${at} is required: expected ${expected}` }
    }
    const e = firstError(field, input[name], at, opts)
    if (e !== undefined) return e
  }
  return undefined
}

function isOwnField (path: string, field: string): boolean {
  if (!field.startsWith(path) || field.length === path.length) return false
  const rest = field.slice(path.length)
  return /^\.?[A-Za-z_$][\w$]*$/.test(rest) || /^\["(?:[^"\\]|\\.)*"\]$/.test(rest)
}

/** `a.b` for identifier keys, `a["odd key"]` otherwise. */
export function childPath (path: string, key: string): string {
  if (path === '') return /^[A-Za-z_$][\w$]*$/.test(key) ? key : `[${JSON.stringify(key)}]`
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

/** JSON Schema counts characters as code points; JS `.length` counts UTF-16 units. */
function codePoints (text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

const patterns = new Map<string, RegExp>()
function patternOf (source: string): RegExp {
  let re = patterns.get(source)
  if (re === undefined) {
    re = new RegExp(source, 'u')
    patterns.set(source, re)
  }
  return re
}
