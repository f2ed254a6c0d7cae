/**
 * One compiled check per schema. The yes/no answer comes from TypeBox's compiled validator (generated code, no
 * walk over the schema per call); only a "no" pays for first-error.ts to say where and why.
 */
import { Compile } from 'typebox/compile'
import type { Static, TSchema } from 'typebox'
import { expectedOf, type JsonSchema } from './expected.js'
import { firstError, type FirstErrorOptions, type SchemaFailure } from './first-error.js'

export interface Checker<T> {
  readonly schema: TSchema
  /** True when `value` matches. Fast: the compiled validator. */
  check: (value: unknown) => value is T
  /** undefined when `value` matches, else the first failure under `path`. */
  failure: (value: unknown, path: string, opts?: FirstErrorOptions) => SchemaFailure | undefined
}

const cache = new WeakMap<TSchema, Checker<unknown>>()

/** The checker for `schema`, compiled on first use and kept as long as the schema object lives. */
export function checkerOf<S extends TSchema> (schema: S): Checker<Static<S>> {
  let c = cache.get(schema) as Checker<Static<S>> | undefined
  if (c === undefined) {
    c = compile(schema)
    cache.set(schema, c as Checker<unknown>)
  }
  return c
}

function compile<S extends TSchema> (schema: S): Checker<Static<S>> {
  const json = exactIntegers(schema as unknown as JsonSchema)
  const compiled = Compile(json as unknown as S)
  const check = (value: unknown): value is Static<S> => compiled.Check(value)
  return {
    schema,
    check,
    failure: (value, path, opts) => {
      if (opts?.known !== 'invalid' && check(value)) return undefined
      // The walker mirrors the compiled check; should they ever disagree, the value is still refused.
      return firstError(json, value, path, opts) ?? { field: path, value, expected: expectedOf(json) }
    }
  }
}

/**
 * The schema as checked: every `integer` bounded to what a double holds exactly (±(2^53 - 1)) unless it gives
 * narrower bounds. JSON Schema's `integer` is any whole number, so 1e308 passes it, and such a cursor or count
 * reached a handler as an inexact number (the fuzz run found events.list { since: 1.8e308 } answering -32603).
 * The published schema stays as written; the phrase leaves these bounds out (expected.ts).
 */
function exactIntegers (schema: JsonSchema): JsonSchema {
  const seen = new Map<object, unknown>()
  const walk = (node: unknown): unknown => {
    if (typeof node !== 'object' || node === null) return node
    const done = seen.get(node)
    if (done !== undefined) return done
    if (Array.isArray(node)) {
      const out: unknown[] = []
      seen.set(node, out)
      for (const item of node) out.push(walk(item))
      return out
    }
    const out: Record<string, unknown> = {}
    seen.set(node, out)
    for (const [k, v] of Object.entries(node)) out[k] = walk(v)
    if (out.type === 'integer') {
      out.minimum = Math.max(typeof out.minimum === 'number' ? out.minimum : -Infinity, Number.MIN_SAFE_INTEGER)
      out.maximum = Math.min(typeof out.maximum === 'number' ? out.maximum : Infinity, Number.MAX_SAFE_INTEGER)
    }
    return out
  }
  return walk(schema) as JsonSchema
}
