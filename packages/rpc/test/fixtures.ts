/**
 * A small method table and helpers shared by the server and client tests.
 */
import { createRpcServer, defineMethod, Type, type RpcServer, type RpcServerInit } from '../src/index.js'

export const TOKEN = 'test-token-0123456789'

export interface TestContext {
  calls: string[]
  /** Resolves when the slow method has started (so tests wait on an event, not a sleep). */
  slowStarted: Deferred<AbortSignal>
  /** Resolves with the abort reason when the slow method's signal aborts. */
  slowAborted: Deferred<unknown>
}

export interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void }

export function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

export function newContext (): TestContext {
  return { calls: [], slowStarted: deferred(), slowAborted: deferred() }
}

class AppError extends Error {
  readonly code: string
  readonly data: Record<string, unknown> | undefined
  constructor (code: string, message: string, data?: Record<string, unknown>) {
    super(message)
    this.code = code
    this.data = data
  }
}

export const echo = defineMethod({
  name: 'echo',
  description: 'Returns its message.',
  params: Type.Object({ message: Type.String({ maxLength: 256, description: 'Text to echo' }) }, { additionalProperties: false }),
  result: Type.Object({ message: Type.String() }, { additionalProperties: false }),
  handler: (p, ctx: TestContext) => {
    ctx.calls.push('echo')
    return { message: p.message }
  }
})

export const add = defineMethod({
  name: 'add',
  description: 'Adds two integers.',
  params: Type.Object({ a: Type.Integer({ minimum: -1000, maximum: 1000 }), b: Type.Integer({ minimum: -1000, maximum: 1000 }) }, { additionalProperties: false }),
  result: Type.Integer(),
  handler: (p, ctx: TestContext) => {
    ctx.calls.push('add')
    return p.a + p.b
  }
})

export const missing = defineMethod({
  name: 'missing',
  description: 'Always fails with an app error that the table maps to NOT_FOUND.',
  params: Type.Object({ key: Type.Optional(Type.String()) }, { additionalProperties: false }),
  result: Type.Null(),
  errors: [{ code: -32004, message: 'Not found' }],
  handler: (p, ctx: TestContext) => {
    ctx.calls.push('missing')
    throw new AppError('ERR_NOT_FOUND', `no such key: ${p.key ?? '?'}`, { key: p.key ?? null })
  }
})

export const boom = defineMethod({
  name: 'boom',
  description: 'Throws a plain Error full of internals.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Null(),
  handler: (_p, ctx: TestContext) => {
    ctx.calls.push('boom')
    throw new Error('SECRET /var/lib/shoal/db exploded')
  }
})

export const badResult = defineMethod({
  name: 'badResult',
  description: 'Returns something its result schema does not allow.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Integer(),
  handler: () => 'not a number' as unknown as number
})

/** Honours its signal: waits until aborted, then rejects. */
export const slow = defineMethod({
  name: 'slow',
  description: 'Waits until its signal aborts.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Null(),
  handler: async (_p, ctx: TestContext, { signal }) => {
    ctx.calls.push('slow')
    ctx.slowStarted.resolve(signal)
    return await new Promise<null>((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        ctx.slowAborted.resolve(signal.reason)
        reject(signal.reason)
      }, { once: true })
    })
  }
})

/** Ignores its signal entirely and never settles; only the server's own deadline can answer it. */
export const stuck = defineMethod({
  name: 'stuck',
  description: 'Never settles.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Null(),
  timeoutMs: 50,
  handler: async (_p, ctx: TestContext) => {
    ctx.calls.push('stuck')
    return await new Promise<null>(() => {})
  }
})

export const methods = [echo, add, missing, boom, badResult, slow, stuck] as const

export const errorTable = { ERR_NOT_FOUND: -32004 }

export interface Harness {
  server: RpcServer
  url: string
  ctx: TestContext
  internal: unknown[]
}

export async function startServer (overrides: Partial<RpcServerInit<TestContext>> = {}): Promise<Harness> {
  const ctx = newContext()
  const internal: unknown[] = []
  const server = createRpcServer<TestContext>({
    methods,
    context: ctx,
    token: TOKEN,
    errorTable,
    onInternalError: err => { internal.push(err) },
    ...overrides
  })
  const { url } = await server.start()
  return { server, url, ctx, internal }
}

export interface RawResponse { status: number, headers: Headers, text: string, json: any }

/** POST a raw body with full control over headers (the client would refuse to send most of these). */
export async function post (url: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body
  })
  const text = await res.text()
  let json: unknown
  try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}

export async function rpc (url: string, payload: unknown): Promise<RawResponse> {
  return await post(url, JSON.stringify(payload))
}
