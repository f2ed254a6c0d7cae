/**
 * The one schema kit (docs/decisions/0008-schema-library.md): shapes are TypeBox schemas, i.e. JSON Schema
 * objects with static types. From one schema follow the TypeScript type (`Static`), the check (`checkerOf`), the
 * message (`SchemaFailure`: field, value, expected), defaults (`Value.Default`) and the published JSON Schema.
 */
export { Type } from 'typebox'
export type { Static, TSchema, TObject, TProperties } from 'typebox'
export { checkerOf, type Checker } from './checker.js'
export { checked, fail, failureText } from './checked.js'
export { expectedOf, type JsonSchema } from './expected.js'
export { childPath, firstError, type FirstErrorOptions, type SchemaFailure } from './first-error.js'
