/**
 * A tiny schema DSL. One definition gives three things that must never drift apart: runtime validation of
 * untrusted params, the JSON Schema published in OpenRPC and docs/rpc.md, and the static type of the handler's
 * params (`Infer<typeof schema>`). Only the JSON subset is covered, so it needs no dependency.
 *
 * Validators never transform: the value returned is the input (objects and arrays rebuilt from known fields).
 */
import { ValidationError } from './validation-error.js'

export type JsonSchema = Record<string, unknown>

export type SchemaKind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'record' | 'any' |
  'literal' | 'oneOf' | 'optional' | 'nullable'

export interface Schema<T> {
  readonly kind: SchemaKind
  /** Human phrase used in errors and the docs' type column, e.g. "an integer from 1 to 65535". */
  readonly expected: string
  readonly description: string | undefined
  /** True only for `s.optional(...)`: an object may omit this field. */
  readonly isOptional: boolean
  /** Returns the typed value, or a ValidationError naming the first offending field under `path`. */
  validate (value: unknown, path?: string): T | ValidationError
  toJSONSchema (): JsonSchema
}

export type Infer<S> = S extends Schema<infer T> ? T : never

export type Shape = Record<string, Schema<unknown>>

/** A schema for an object with named fields; method params are always one of these. */
export interface ObjectSchema<T = unknown> extends Schema<T> {
  readonly kind: 'object'
  readonly fields: Readonly<Record<string, Schema<unknown>>>
  isRequired (field: string): boolean
}

export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly kind: 'optional'
  readonly isOptional: true
}

interface Doc { description?: string }

export interface StringOptions<E extends readonly string[]> extends Doc {
  minLength?: number
  maxLength?: number
  pattern?: RegExp | string
  enum?: E
}

export interface NumberOptions extends Doc { min?: number, max?: number }

export interface ArrayOptions extends Doc { minItems?: number, maxItems?: number }

export interface ObjectOptions<O extends string> extends Doc {
  /** Fields that may be omitted (the same as wrapping them in `s.optional`). */
  optional?: readonly O[]
  /** Keep unknown fields instead of rejecting them. Off by default: a typo'd field name is an error. */
  additionalProperties?: boolean
}

export interface RecordOptions extends Doc { maxProperties?: number }

type Flatten<T> = { [K in keyof T]: T[K] } & {}
type OptionalKeys<F extends Shape, O extends PropertyKey> = {
  [K in keyof F]: F[K] extends { readonly isOptional: true } ? K : K extends O ? K : never
}[keyof F]
export type ObjectOf<F extends Shape, O extends PropertyKey = never> = Flatten<
{ -readonly [K in Exclude<keyof F, OptionalKeys<F, O>>]: Infer<F[K]> } &
{ -readonly [K in OptionalKeys<F, O>]?: Exclude<Infer<F[K]>, undefined> }
>

type Check<T> = (value: unknown, path: string) => T | ValidationError

function make<T> (kind: SchemaKind, expected: string, description: string | undefined, json: JsonSchema,
  check: Check<T>): Schema<T> {
  const withDoc = description === undefined ? json : { ...json, description }
  return {
    kind,
    expected,
    description,
    isOptional: false,
    validate: (value, path = 'value') => check(value, path),
    toJSONSchema: () => structuredClone(withDoc)
  }
}

function string<const E extends readonly string[] = readonly string[]> (opts: StringOptions<E> = {}): Schema<E[number]> {
  const { minLength, maxLength, enum: choices } = opts
  const pattern = typeof opts.pattern === 'string' ? new RegExp(opts.pattern, 'u') : opts.pattern
  const parts: string[] = []
  if (choices !== undefined) parts.push(`one of ${choices.map(c => JSON.stringify(c)).join(', ')}`)
  if (minLength !== undefined && maxLength !== undefined) parts.push(`of ${minLength} to ${maxLength} characters`)
  else if (maxLength !== undefined) parts.push(`of at most ${maxLength} characters`)
  else if (minLength !== undefined) parts.push(`of at least ${minLength} characters`)
  if (pattern !== undefined) parts.push(`matching /${pattern.source}/`)
  const expected = ['a string', ...parts].join(' ')
  const json = clean({ type: 'string', minLength, maxLength, pattern: pattern?.source, enum: choices })
  return make('string', expected, opts.description, json, (value, path) => {
    if (typeof value !== 'string') return new ValidationError(path, value, expected)
    // Length bounds come first so a huge string never reaches the regex.
    if (maxLength !== undefined && value.length > maxLength && codePoints(value) > maxLength) return new ValidationError(path, value, expected)
    if (minLength !== undefined && codePoints(value) < minLength) return new ValidationError(path, value, expected)
    if (choices !== undefined && !choices.includes(value)) return new ValidationError(path, value, expected)
    if (pattern !== undefined && !pattern.test(value)) return new ValidationError(path, value, expected)
    return value as E[number]
  })
}

/** JSON Schema counts characters as code points; JS `.length` counts UTF-16 units. */
function codePoints (text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

function numeric (integer: boolean, opts: NumberOptions): Schema<number> {
  const { min, max } = opts
  const noun = integer ? 'an integer' : 'a number'
  const range = min !== undefined && max !== undefined
    ? ` from ${min} to ${max}`
    : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : ''
  const expected = noun + range
  const json = clean({ type: integer ? 'integer' : 'number', minimum: min, maximum: max })
  return make(integer ? 'integer' : 'number', expected, opts.description, json, (value, path) => {
    const ok = typeof value === 'number' && (integer ? Number.isSafeInteger(value) : Number.isFinite(value)) &&
      (min === undefined || value >= min) && (max === undefined || value <= max)
    return ok ? value : new ValidationError(path, value, expected)
  })
}

function boolean (opts: Doc = {}): Schema<boolean> {
  return make('boolean', 'a boolean', opts.description, { type: 'boolean' }, (value, path) =>
    typeof value === 'boolean' ? value : new ValidationError(path, value, 'a boolean'))
}

function any (opts: Doc = {}): Schema<unknown> {
  return make('any', 'any JSON value', opts.description, {}, value => value)
}

function literal<const V extends string | number | boolean | null> (constant: V, opts: Doc = {}): Schema<V> {
  const expected = `the value ${JSON.stringify(constant)}`
  return make('literal', expected, opts.description, { const: constant }, (value, path) =>
    value === constant ? constant : new ValidationError(path, value, expected))
}

function array<T> (item: Schema<T>, opts: ArrayOptions = {}): Schema<T[]> {
  const { minItems, maxItems } = opts
  const bound = maxItems !== undefined ? ` (at most ${maxItems})` : minItems !== undefined ? ` (at least ${minItems})` : ''
  const expected = `an array of ${item.expected}${bound}`
  const json = clean({ type: 'array', items: item.toJSONSchema(), minItems, maxItems })
  return make('array', expected, opts.description, json, (value, path) => {
    if (!Array.isArray(value)) return new ValidationError(path, value, expected)
    if (maxItems !== undefined && value.length > maxItems) return new ValidationError(path, value, `an array of at most ${maxItems} items`)
    if (minItems !== undefined && value.length < minItems) return new ValidationError(path, value, `an array of at least ${minItems} items`)
    const out: T[] = []
    for (let i = 0; i < value.length; i++) {
      const v = item.validate(value[i], `${path}[${i}]`)
      if (v instanceof ValidationError) return v
      out.push(v)
    }
    return out
  })
}

function object<F extends Shape, const O extends keyof F & string = never> (fields: F, opts: ObjectOptions<O> = {}): ObjectSchema<ObjectOf<F, O>> {
  const names = Object.keys(fields)
  const optional = new Set<string>(opts.optional ?? [])
  for (const name of names) if (fields[name]?.isOptional === true) optional.add(name)
  const extra = opts.additionalProperties === true
  const expected = names.length === 0 ? 'an object with no fields' : `an object with fields ${names.join(', ')}`
  const properties: Record<string, JsonSchema> = {}
  for (const name of names) properties[name] = fields[name]?.toJSONSchema() ?? {}
  const required = names.filter(n => !optional.has(n))
  const json = clean({ type: 'object', properties, required: required.length > 0 ? required : undefined, additionalProperties: extra })
  const base = make('object', expected, opts.description, json, (value, path) => {
    if (!isPlainObject(value)) return new ValidationError(path, value, expected)
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(fields, key)) continue
      if (!extra) {
        const known = names.length > 0 ? ` (known fields: ${names.join(', ')})` : ''
        return new ValidationError(childPath(path, key), value[key], `no field named ${JSON.stringify(key)}`,
          `${childPath(path, key)}: unknown field${known}`)
      }
      // defineProperty, not assignment: a "__proto__" key from JSON.parse must stay a plain field.
      Object.defineProperty(out, key, { value: value[key], enumerable: true, writable: true, configurable: true })
    }
    for (const name of names) {
      const field = fields[name] as Schema<unknown>
      const at = childPath(path, name)
      const present = Object.hasOwn(value, name) && value[name] !== undefined
      if (!present) {
        if (optional.has(name)) continue
        return new ValidationError(at, undefined, field.expected, `${at} is required: expected ${field.expected}`)
      }
      const v = field.validate(value[name], at)
      if (v instanceof ValidationError) return v
      out[name] = v
    }
    return out as ObjectOf<F, O>
  })
  return { ...base, kind: 'object', fields, isRequired: (field: string) => Object.hasOwn(fields, field) && !optional.has(field) }
}

/** A map with free-form keys, e.g. labels: `s.record(s.string({ maxLength: 64 }))`. */
function record<T> (value: Schema<T>, opts: RecordOptions = {}): Schema<Record<string, T>> {
  const { maxProperties } = opts
  const expected = `an object whose values are ${value.expected}${maxProperties !== undefined ? ` (at most ${maxProperties} keys)` : ''}`
  const json = clean({ type: 'object', additionalProperties: value.toJSONSchema(), maxProperties })
  return make('record', expected, opts.description, json, (input, path) => {
    if (!isPlainObject(input)) return new ValidationError(path, input, expected)
    const keys = Object.keys(input)
    if (maxProperties !== undefined && keys.length > maxProperties) return new ValidationError(path, input, expected)
    const out: Record<string, T> = {}
    for (const key of keys) {
      const v = value.validate(input[key], childPath(path, key))
      if (v instanceof ValidationError) return v
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
    }
    return out
  })
}

function optional<T> (inner: Schema<T>): OptionalSchema<T> {
  return {
    kind: 'optional',
    expected: inner.expected,
    description: inner.description,
    isOptional: true,
    validate: (value, path = 'value') => value === undefined ? undefined : inner.validate(value, path),
    toJSONSchema: () => inner.toJSONSchema()
  }
}

function nullable<T> (inner: Schema<T>): Schema<T | null> {
  const expected = `${inner.expected} or null`
  return make('nullable', expected, inner.description, { anyOf: [inner.toJSONSchema(), { type: 'null' }] },
    (value, path) => value === null ? null : inner.validate(value, path))
}

/**
 * The first alternative that accepts the value wins (JSON Schema `anyOf` semantics; alternatives are meant to
 * be disjoint, e.g. objects told apart by a `s.literal` tag).
 */
function oneOf<const S extends readonly Schema<unknown>[]> (alternatives: S, opts: Doc = {}): Schema<Infer<S[number]>> {
  const expected = `one of: ${alternatives.map(a => a.expected).join(' | ')}`
  const json = { anyOf: alternatives.map(a => a.toJSONSchema()) }
  return make('oneOf', expected, opts.description, json, (value, path) => {
    let deepest: ValidationError | undefined
    for (const alt of alternatives) {
      const v = alt.validate(value, path)
      if (!(v instanceof ValidationError)) return v as Infer<S[number]>
      if (v.field.length > path.length && (deepest === undefined || v.field.length > deepest.field.length)) deepest = v
    }
    // An error inside one alternative (the value had the right shape but a bad field) says more than "one of".
    return deepest ?? new ValidationError(path, value, expected)
  })
}

function nul (opts: Doc = {}): Schema<null> {
  return literal(null, opts)
}

export const s = {
  string,
  integer: (opts: NumberOptions = {}) => numeric(true, opts),
  number: (opts: NumberOptions = {}) => numeric(false, opts),
  boolean,
  any,
  literal,
  null: nul,
  array,
  object,
  record,
  optional,
  nullable,
  oneOf
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function childPath (path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function clean (json: Record<string, unknown>): JsonSchema {
  return Object.fromEntries(Object.entries(json).filter(([, v]) => v !== undefined))
}
