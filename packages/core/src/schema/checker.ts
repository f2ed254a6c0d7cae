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
  const compiled = Compile(schema)
  const json = schema as unknown as JsonSchema
  const check = (value: unknown): value is Static<S> => compiled.Check(value)
  return {
    schema,
    check,
    failure: (value, path, opts) => {
      if (check(value)) return undefined
      // The walker mirrors the compiled check; should they ever disagree, the value is still refused.
      return firstError(json, value, path, opts) ?? { field: path, value, expected: expectedOf(json) }
    }
  }
}
