/**
 * The kit's face for untrusted input (peers, disk): a value either matches its schema and comes back typed, or
 * an InvalidInputError names the first bad field, what it held and what was expected (`field`, `value`,
 * `expected` in its data). Messages read `<field>: expected <phrase>, got <value>`, so a rejected message can be
 * counted by reason and logged precisely.
 */
import { InvalidInputError, describeValue, previewValue } from '../errors.js'
import type { Static, TSchema } from 'typebox'
import { checkerOf } from './checker.js'
import type { SchemaFailure } from './first-error.js'

/** Throws the InvalidInputError for `path`: for rules a schema cannot state (byte limits from config, JSON text). */
export function fail (path: string, value: unknown, expected: string): never {
  throw new InvalidInputError(failureText({ field: path, value, expected }), { field: path, value: previewValue(value), expected })
}

/** `<field>: expected <phrase>, got <value>`: the message of a failure, for a caller that counts rather than throws. */
export function failureText (f: SchemaFailure): string {
  return `${f.field}: expected ${f.expected}, got ${describeValue(f.value)}`
}

/**
 * `value` typed when it matches `schema`; else InvalidInputError naming the first bad field under `path`.
 * The yes/no is the compiled check (cached per schema), so a valid value costs no walk and no allocation.
 */
export function checked<S extends TSchema> (schema: S, value: unknown, path: string): Static<S> {
  const checker = checkerOf(schema)
  if (checker.check(value)) return value
  const failure = checker.failure(value, path, { known: 'invalid' })
  if (failure === undefined) return value as Static<S>
  return fail(failure.field, failure.value, failure.expected)
}
