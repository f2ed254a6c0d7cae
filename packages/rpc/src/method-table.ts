/**
 * The method table: one definition per method (name, doc, params schema, result schema, handler) from which
 * the server, the typed client and the docs are all derived.
 */
import type { Infer, ObjectSchema, Schema } from './schema.js'

export interface HandlerOptions {
  /** Aborts when the client disconnects, the call times out, or the server stops. Pass it on to all I/O. */
  signal: AbortSignal
  /** W3C traceparent of this call's span (or of the request, when calls are not traced): pass it to traced work. */
  trace?: string
}

/** An error a method may return, listed in OpenRPC and docs/rpc.md. */
export interface MethodErrorDoc {
  code: number
  message: string
}

export interface MethodDef<Ctx, N extends string = string, P extends ObjectSchema = ObjectSchema, R extends Schema = Schema> {
  name: N
  description: string
  /** Named params only: always an object schema. */
  params: P
  result: R
  errors?: readonly MethodErrorDoc[]
  /** Overrides the server's per-call deadline for this method (e.g. a long-running replication call). */
  timeoutMs?: number
  handler: (params: Infer<P>, ctx: Ctx, opts: HandlerOptions) => Promise<Infer<R>> | Infer<R>
}

/** Methods as a list or as a record; the record's keys are ignored, each definition's `name` counts. */
export type MethodTable<Ctx> = readonly MethodDef<Ctx, string, any, any>[] | Readonly<Record<string, MethodDef<Ctx, string, any, any>>>

/**
 * Identity function that fixes the types: params are inferred from the schema and checked in the handler.
 * Ctx is taken from the handler's annotation; use `methodsFor<Ctx>()` to fix it once for a whole table.
 */
export function defineMethod<const N extends string, P extends ObjectSchema, R extends Schema, Ctx = unknown> (
  def: MethodDef<Ctx, N, P, R>
): MethodDef<Ctx, N, P, R> {
  if (def.name.startsWith('rpc.')) throw new TypeError(`method names starting with "rpc." are reserved: ${def.name}`)
  return def
}

/** `const define = methodsFor<NodeContext>()` then `define({ ... })`: handlers see ctx typed without annotations. */
export function methodsFor<Ctx> () {
  return <const N extends string, P extends ObjectSchema, R extends Schema>(def: MethodDef<Ctx, N, P, R>): MethodDef<Ctx, N, P, R> =>
    defineMethod<N, P, R, Ctx>(def)
}

export function listMethods<Ctx> (table: MethodTable<Ctx>): Array<MethodDef<Ctx, string, any, any>> {
  return Array.isArray(table) ? [...table] : Object.values(table)
}

// Type helpers for typed clients: find a method's params and result types by name.
type DefsOf<T> = T extends readonly (infer M)[] ? M : T extends Record<string, infer M> ? M : never
export type MethodNames<T> = DefsOf<T> extends { name: infer N } ? N & string : never
export type MethodByName<T, N extends string> = Extract<DefsOf<T>, { name: N }>
export type ParamsOf<T, N extends string> = MethodByName<T, N> extends { params: infer P } ? Infer<P> : never
export type ResultOf<T, N extends string> = MethodByName<T, N> extends { result: infer R } ? Infer<R> : never
