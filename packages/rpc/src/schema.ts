/**
 * The RPC side of the one schema kit (@shoal/core `schema/`, docs/decisions/0008-schema-library.md). Params,
 * results and notifications are TypeBox schemas: JSON Schema objects with static types. From each follow the
 * handler's types (`Infer`), the check with its -32602 data { field, value, expected } (`validate`), and the
 * JSON Schema published in OpenRPC and docs/rpc.md (`toJSONSchema`).
 */
import { checkerOf, Type, type JsonSchema, type Static, type TObject, type TSchema } from '@shoal/core'
import { ValidationError } from './validation-error.js'

export { Type, type JsonSchema }
export type Schema = TSchema
export type ObjectSchema = TObject
export type Infer<S> = S extends TSchema ? Static<S> : never

/** The value itself when it matches, else a ValidationError naming the first offending field under `path`. */
export function validate<S extends TSchema> (schema: S, value: unknown, path = 'value'): Static<S> | ValidationError {
  const failure = checkerOf(schema).failure(value, path)
  if (failure === undefined) return value as Static<S>
  return new ValidationError(failure.field, failure.value, failure.expected, failure.message)
}

/**
 * A plain JSON copy for documents (TypeBox's own markers are not enumerable and stay behind). The `expected`
 * keyword (the phrase Shoal's errors and docs use for a schema; always a string) is left out too: JSON Schema
 * readers do not know it, and the Markdown shows it as the type.
 */
export function toJSONSchema (schema: TSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema, (key, value: unknown) => key === 'expected' && typeof value === 'string' ? undefined : value)) as JsonSchema
}

/** Whether an object schema requires `field`. */
export function isRequired (schema: TObject, field: string): boolean {
  return ((schema as unknown as { required?: string[] }).required ?? []).includes(field)
}
