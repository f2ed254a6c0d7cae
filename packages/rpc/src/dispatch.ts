/**
 * JSON-RPC 2.0 processing, independent of the transport: raw body text in, response text out. The HTTP
 * server feeds it bodies; the WebSocket endpoint feeds it frames, plus its per-connection subscribe and
 * unsubscribe as session methods.
 * Params must be named (an object): positional params (an array) get -32602, so every field has a name that
 * validation errors and docs can point at.
 */
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_MAX_BATCH, DEFAULT_MAX_PARAMS_DEPTH } from './constants.js'
import { RpcError, RpcErrorCode, toRpcError, type ErrorTable } from './errors.js'
import { listMethods, type HandlerOptions, type MethodDef, type MethodTable } from './method-table.js'
import { validate, type ObjectSchema } from './schema.js'
import { listSubscriptions, UNSUBSCRIBE_METHOD, WS_PATH, type SubscriptionTable } from './subscription.js'
import { ValidationError } from './validation-error.js'
import { toOpenRpc, type OpenRpcInfo } from './openrpc.js'

/**
 * A request id. A numeric id that a double cannot hold exactly (above 2^53, or written like `1.0`) is kept as
 * its source text in a `JSON.rawJSON` value, so the answer echoes it byte for byte (JSON-RPC 2.0 section 4).
 */
export type RpcId = string | number | null | RawJsonId

/** `JSON.rawJSON(text)`: serialized by JSON.stringify as `text` itself. */
export interface RawJsonId { readonly rawJSON: string }

export interface DispatcherInit<Ctx> {
  methods: MethodTable<Ctx>
  context: Ctx
  errorTable?: ErrorTable
  maxBatch?: number
  /** Deepest params nesting accepted on every method (answered -32602 beyond it); default DEFAULT_MAX_PARAMS_DEPTH. */
  maxParamsDepth?: number
  /** Per-call deadline unless a method sets its own `timeoutMs`. */
  timeoutMs?: number
  /** Check handler results against the result schema, so docs never lie about the wire. On by default. */
  validateResults?: boolean
  onInternalError?: (err: unknown) => void
  /** Serve `rpc.discover` (the OpenRPC service-discovery method) describing `methods`. */
  discover?: OpenRpcInfo
  /** Only their names and docs matter here: without a session (plain HTTP) they answer "use the WebSocket". */
  subscriptions?: SubscriptionTable<Ctx>
  /** Told of every call with a method name once it is answered (notifications too), e.g. for metrics. */
  onCall?: (call: CallReport) => void
  /**
   * Opens a scope (e.g. a tracing span) around every call with a method name; `parent` is the W3C traceparent
   * the request came with. The scope's `trace` reaches the handler as `opts.trace`; `end` hears the outcome.
   */
  traceCall?: (call: { method: string, parent?: string }) => CallScope
}

/** What `traceCall` opened for one call. */
export interface CallScope { trace?: string, end: (code: number) => void }

/** Transport facts about a request body: the HTTP server passes the `traceparent` header. */
export interface RequestMeta { traceparent?: string }

/** One finished call: `code` is 0 for success, else the JSON-RPC error code sent back. */
export interface CallReport { method: string, code: number, durationMs: number }

/** A method that exists only on one connection (a WebSocket's subscribe and unsubscribe), bound to its state. */
export interface SessionMethod {
  params: ObjectSchema
  handler: (params: any, opts: HandlerOptions) => unknown
}

/** Looked up after the method table; a Map works. */
export interface SessionMethods { get: (method: string) => SessionMethod | undefined }

export interface Dispatcher {
  /**
   * Handles one request body. Resolves to the JSON text to send back, or undefined when the body held only
   * notifications. Never rejects. When `signal` aborts, pending calls answer at once with an error built from
   * the abort reason (an RpcError reason is used as is).
   */
  handle: (body: string, signal: AbortSignal, session?: SessionMethods, meta?: RequestMeta) => Promise<string | undefined>
}

type AnyMethod<Ctx> = MethodDef<Ctx, string, any, any>

export function createDispatcher<Ctx> (init: DispatcherInit<Ctx>): Dispatcher {
  const methods = new Map<string, AnyMethod<Ctx>>()
  for (const def of listMethods(init.methods)) {
    if (methods.has(def.name)) throw new TypeError(`method defined twice: ${def.name}`)
    methods.set(def.name, def)
  }
  const wsOnly = new Set([UNSUBSCRIBE_METHOD])
  for (const def of listSubscriptions(init.subscriptions)) {
    if (methods.has(def.name) || wsOnly.has(def.name)) throw new TypeError(`method or subscription defined twice: ${def.name}`)
    wsOnly.add(def.name)
  }
  const table = init.errorTable ?? {}
  const discovery = init.discover === undefined ? undefined : toOpenRpc(init.methods, init.discover, init.subscriptions)
  const maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH
  const validateResults = init.validateResults ?? true
  const maxParamsDepth = init.maxParamsDepth ?? DEFAULT_MAX_PARAMS_DEPTH
  const reportInternal = (err: unknown): void => {
    try { init.onInternalError?.(err) } catch { /* a failing log hook must not fail the request */ }
  }

  async function handle (body: string, signal: AbortSignal, session?: SessionMethods, meta?: RequestMeta): Promise<string | undefined> {
    let payload: unknown
    try {
      payload = parseKeepingIds(body)
    } catch {
      return serialize(errorResponse(null, new RpcError(RpcErrorCode.PARSE_ERROR, 'Parse error: the body is not valid JSON')))
    }
    if (!Array.isArray(payload)) {
      const response = await handleOne(payload, signal, session, meta)
      return response === undefined ? undefined : serialize(response)
    }
    if (payload.length === 0) {
      return serialize(errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST, 'Invalid request: empty batch')))
    }
    if (payload.length > maxBatch) {
      return serialize(errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST,
        `Invalid request: batch of ${payload.length} calls, at most ${maxBatch} allowed`)))
    }
    // Calls in a batch run concurrently; answers keep the request order, notifications leave no entry.
    const responses = await Promise.all(payload.map(async item => await handleOne(item, signal, session, meta)))
    const parts = responses.filter(r => r !== undefined).map(serialize)
    return parts.length === 0 ? undefined : `[${parts.join(',')}]`
  }

  async function handleOne (raw: unknown, signal: AbortSignal, session?: SessionMethods, meta?: RequestMeta): Promise<object | undefined> {
    const request = checkRequest(raw)
    if (request instanceof RpcError) return errorResponse(null, request)
    let scope: CallScope | undefined
    try { scope = init.traceCall?.({ method: request.method, ...(meta?.traceparent !== undefined ? { parent: meta.traceparent } : {}) }) } catch (err) { reportInternal(err) }
    const trace = scope?.trace ?? meta?.traceparent
    if (init.onCall === undefined && scope === undefined) return await answer(request, signal, session, undefined, trace)
    const started = performance.now()
    let code = RpcErrorCode.INTERNAL_ERROR as number
    try {
      return await answer(request, signal, session, c => { code = c }, trace)
    } finally {
      try { init.onCall?.({ method: request.method, code, durationMs: performance.now() - started }) } catch (err) { reportInternal(err) }
      try { scope?.end(code) } catch (err) { reportInternal(err) }
    }
  }

  /** Runs one checked request; `outcome` hears 0 or the error code, also for notifications (which get no response). */
  async function answer (request: CheckedRequest, signal: AbortSignal, session?: SessionMethods, outcome?: (code: number) => void, trace?: string): Promise<object | undefined> {
    const { id, isNotification, method, params } = request
    const reply = (result: unknown): object | undefined => { outcome?.(0); return isNotification ? undefined : { jsonrpc: '2.0', id, result } }
    const fail = (error: RpcError): object | undefined => { outcome?.(error.code); return isNotification ? undefined : errorResponse(id, error) }

    if (method === 'rpc.discover' && discovery !== undefined) return reply(discovery)
    const def = methods.get(method)
    const local = def === undefined ? session?.get(method) : undefined
    if (def === undefined && local === undefined) {
      if (wsOnly.has(method)) {
        return fail(new RpcError(RpcErrorCode.INVALID_REQUEST,
          `Invalid request: ${method} is a subscription; use the WebSocket endpoint GET ${WS_PATH}`))
      }
      return fail(new RpcError(RpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${method}`))
    }
    if (Array.isArray(params)) {
      return fail(new RpcError(RpcErrorCode.INVALID_PARAMS, 'Invalid params: named params (an object) are required, not an array'))
    }
    const tooDeep = findTooDeep(params, maxParamsDepth)
    const valid = tooDeep ?? validate((def ?? local as SessionMethod).params, params ?? {}, 'params')
    if (valid instanceof ValidationError) {
      return fail(new RpcError(RpcErrorCode.INVALID_PARAMS, `Invalid params: ${valid.message}`, valid.toJSON()))
    }
    try {
      if (def === undefined) {
        const { handler } = local as SessionMethod
        return reply(await runCall({ handler: async (p, _ctx, opts) => await handler(p, opts) }, valid, signal, trace) ?? null)
      }
      const result = await runCall(def, valid, signal, trace)
      if (validateResults) {
        const checked = validate(def.result, result, 'result')
        if (checked instanceof ValidationError) {
          reportInternal(new TypeError(`${method} returned a result that does not match its schema: ${checked.message}`))
          return fail(new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error'))
        }
      }
      return reply(result ?? null)
    } catch (err) {
      return fail(underParams(toRpcError(err, table, reportInternal), (def ?? local as SessionMethod).params))
    }
  }

  /** Runs the handler, but answers as soon as the call's signal aborts even if the handler ignores it. */
  async function runCall (def: Pick<AnyMethod<Ctx>, 'handler' | 'timeoutMs'>, params: unknown, outer: AbortSignal, trace?: string): Promise<unknown> {
    const timeoutMs = def.timeoutMs ?? init.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    const controller = new AbortController()
    return await new Promise((resolve, reject) => {
      const abort = (reason: unknown): void => {
        cleanup() // a handler that never settles must not keep the timer (and the process) alive
        reject(abortToRpcError(reason))
        controller.abort(reason)
      }
      const onOuterAbort = (): void => { abort(outer.reason) }
      const timer = setTimeout(() => {
        abort(new RpcError(RpcErrorCode.TIMEOUT, `Request timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        outer.removeEventListener('abort', onOuterAbort)
      }
      if (outer.aborted) {
        cleanup()
        reject(abortToRpcError(outer.reason))
        return
      }
      outer.addEventListener('abort', onOuterAbort, { once: true })
      // We reject before aborting the handler's signal, so our error wins over whatever the handler throws.
      Promise.resolve()
        .then(async () => await def.handler(params, init.context, { signal: controller.signal, ...(trace !== undefined ? { trace } : {}) }))
        .then(resolve, reject)
        .finally(cleanup)
    })
  }

  function serialize (response: object): string {
    try {
      return JSON.stringify(response)
    } catch (err) {
      // A result that cannot be serialized (BigInt, cycle) is a server bug, not the caller's problem.
      reportInternal(err)
      const id = (response as { id?: RpcId }).id ?? null
      return JSON.stringify(errorResponse(id, new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error')))
    }
  }

  return { handle }
}

interface CheckedRequest { id: RpcId, isNotification: boolean, method: string, params: unknown }

function checkRequest (raw: unknown): CheckedRequest | RpcError {
  const invalid = (why: string): RpcError => new RpcError(RpcErrorCode.INVALID_REQUEST, `Invalid request: ${why}`)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid('expected a request object')
  const r = raw as Record<string, unknown>
  if (r.jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"')
  if (typeof r.method !== 'string') return invalid('"method" must be a string')
  const hasId = Object.hasOwn(r, 'id')
  if (hasId && !(typeof r.id === 'string' || r.id === null || (typeof r.id === 'number' && Number.isFinite(r.id)) || isRawJson(r.id))) {
    return invalid('"id" must be a string, a number or null')
  }
  if (Object.hasOwn(r, 'params') && (typeof r.params !== 'object' || r.params === null)) {
    return invalid('"params" must be an object or an array')
  }
  return { id: hasId ? r.id as RpcId : null, isNotification: !hasId, method: r.method, params: r.params }
}

/**
 * The first top-level field of `params` that nests deeper than `max` levels, as a ValidationError naming it
 * (e.g. `params.data`), or undefined. Iterative, so it is safe on any depth the JSON parser accepted.
 */
export function findTooDeep (params: unknown, max: number): ValidationError | undefined {
  const stack: Array<[unknown, number, string]> = [[params, 1, 'params']]
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop() as [unknown, number, string]
    if (typeof value !== 'object' || value === null) continue
    if (depth > max) {
      return new ValidationError(path, Array.isArray(value) ? '[...]' : '{...}', `JSON nested at most ${max} levels deep`)
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (typeof value[i] === 'object' && value[i] !== null) stack.push([value[i], depth + 1, depth === 1 ? `${path}[${i}]` : path])
      }
    } else {
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'object' || v === null) continue
        stack.push([v, depth + 1, depth > 1 ? path : /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`])
      }
    }
  }
  return undefined
}

type JsonWithSource = typeof JSON & {
  rawJSON?: (text: string) => RawJsonId
  isRawJSON?: (value: unknown) => boolean
}
const J = JSON as JsonWithSource

function isRawJson (value: unknown): value is RawJsonId {
  return J.isRawJSON?.(value) === true
}

/**
 * A numeric `"id"` whose text a double may not hold exactly: 16 or more digits, a fraction or an exponent.
 * Only bodies that match are parsed a second time, with a reviver, so ordinary calls pay nothing.
 */
const INEXACT_ID = /"id"\s*:\s*-?(?:\d{16,}|\d+[.eE])/

/**
 * JSON.parse, except that a request's numeric `id` which does not survive the trip through a double is kept
 * as its source text (JSON.rawJSON), e.g. `12345678901234567890` is not turned into `12345678901234567000`.
 * Throws SyntaxError like JSON.parse. The reviver only touches `id` keys of objects that also carry
 * `jsonrpc`, i.e. request envelopes, never ids inside params.
 */
export function parseKeepingIds (body: string): unknown {
  const plain: unknown = JSON.parse(body)
  if (J.rawJSON === undefined || !INEXACT_ID.test(body)) return plain
  const rawJSON = J.rawJSON
  try {
    return JSON.parse(body, function (this: Record<string, unknown>, key: string, value: unknown, context?: { source?: string }) {
      if (key === 'id' && typeof value === 'number' && context?.source !== undefined &&
          context.source !== String(value) && Object.hasOwn(this, 'jsonrpc')) {
        return rawJSON(context.source)
      }
      return value
    } as (this: unknown, key: string, value: unknown) => unknown)
  } catch {
    // The reviver walks recursively, so a body nested deep enough exhausts the stack: read the envelopes' ids
    // from the text with a flat scan instead.
    const sources = envelopeIdSources(body)
    const keep = (envelope: unknown, source: string | undefined): void => {
      if (source === undefined || envelope === null || typeof envelope !== 'object' || !Object.hasOwn(envelope, 'jsonrpc')) return
      const e = envelope as Record<string, unknown>
      if (typeof e.id === 'number' && source !== String(e.id)) e.id = rawJSON(source)
    }
    if (Array.isArray(plain)) plain.forEach((envelope, i) => { keep(envelope, sources.get(i)) })
    else keep(plain, sources.get(-1))
    return plain
  }
}

const NUMBER_AT = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/**
 * The source text of each numeric `"id"` member of the request envelope(s) in `body` (valid JSON), found by one
 * pass over the text with a depth counter, whatever the nesting: key -1 for a single envelope, the element index
 * for a batch. Strings are skipped whole, so an `"id"` inside a string or deeper in params never counts; when a key
 * repeats, the last one wins, as in JSON.parse (which also reads an escaped `"\u0069d"` as `id`).
 */
function envelopeIdSources (body: string): Map<number, string> {
  const out = new Map<number, string>()
  const batch = body.trimStart().startsWith('[')
  const envelopeDepth = batch ? 2 : 1
  let depth = 0
  let element = -1
  // In a batch, each element (an object or not) starts at depth 1 after the opening '[' or a ','.
  let elementStarts = false
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue
    if (batch && depth === 1 && elementStarts && c !== ']') { element++; elementStarts = false }
    if (c === '{' || c === '[') {
      depth++
      if (batch && depth === 1) elementStarts = true
    } else if (c === '}' || c === ']') {
      depth--
    } else if (c === ',') {
      if (batch && depth === 1) elementStarts = true
    } else if (c === '"') {
      const start = i
      for (i++; body[i] !== '"'; i++) if (body[i] === '\\') i++
      if (depth !== envelopeDepth || JSON.parse(body.slice(start, i + 1)) !== 'id') continue
      let j = i + 1
      while (body[j] === ' ' || body[j] === '\t' || body[j] === '\n' || body[j] === '\r') j++
      if (body[j] !== ':') continue
      for (j++; body[j] === ' ' || body[j] === '\t' || body[j] === '\n' || body[j] === '\r'; j++);
      NUMBER_AT.lastIndex = j
      const number = NUMBER_AT.exec(body)
      if (number !== null) out.set(batch ? element : -1, number[0])
      else out.delete(batch ? element : -1)
    }
  }
  return out
}

function errorResponse (id: RpcId, error: RpcError): object {
  return { jsonrpc: '2.0', id, error: error.toJSON() }
}

/** A complete JSON-RPC error response as text, for failures found before dispatch (size, auth, encoding). */
export function encodeError (id: RpcId, error: RpcError): string {
  return JSON.stringify(errorResponse(id, error))
}

function abortToRpcError (reason: unknown): RpcError {
  return reason instanceof RpcError ? reason : new RpcError(RpcErrorCode.UNAVAILABLE, 'Request aborted')
}

/**
 * A handler's invalid-input error names the field from the service's side (`key`, `value`: the node checks what
 * only it knows, e.g. kv.maxKeyBytes of the running config). When that field is one of the method's params, the
 * caller gets the same path a schema error gives: `params.key`.
 */
function underParams (err: RpcError, params: ObjectSchema): RpcError {
  const data = err.data as { field?: unknown } | undefined
  if (err.code !== RpcErrorCode.INVALID_PARAMS || typeof data !== 'object' || data === null || typeof data.field !== 'string') return err
  const top = /^[^.[]+/.exec(data.field)?.[0]
  if (top === undefined || !Object.hasOwn(params.properties, top)) return err
  return new RpcError(err.code, err.message, { ...data, field: `params.${data.field}` })
}
