/**
 * The HTTP face of the RPC: `POST /rpc` with a bearer token, on loopback by default, and the WebSocket
 * endpoint `GET /rpc/ws` (methods and subscriptions, see ws-server.ts). Other features add pages through
 * `route()` and other upgrades through `onUpgrade()`. No input, however malformed, may
 * throw out of here: every callback is wrapped, and failures become an HTTP answer or a closed socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { DEFAULT_MAX_BODY_BYTES, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS, STOP_GRACE_MS } from './constants.js'
import { createDispatcher, encodeError } from './dispatch.js'
import type { CallReport, DispatcherInit } from './dispatch.js'
import type { OpenRpcInfo } from './openrpc.js'
import type { RpcLogger } from './rpc-logger.js'
import { RpcError, RpcErrorCode, type ErrorTable } from './errors.js'
import { isAuthorized, isLoopbackHost, NotLoopbackError } from './guards.js'
import type { MethodTable } from './method-table.js'
import { readBody } from './read-body.js'
import { WS_PATH, type SubscriptionTable } from './subscription.js'
import { createWsEndpoint, type WsEndpoint, type WsOptions, type WsStats } from './ws-server.js'

export const RPC_PATH = '/rpc'

export type { LogFn, RpcLogger } from './rpc-logger.js'

export interface RpcServerInit<Ctx> {
  methods: MethodTable<Ctx>
  /** Served on the WebSocket endpoint only; over HTTP their names get -32600 "use the WebSocket endpoint". */
  subscriptions?: SubscriptionTable<Ctx>
  /** Limits of the WebSocket endpoint `GET /rpc/ws`; `false` turns it off (upgrades there get 404). */
  websocket?: WsOptions | false
  context: Ctx
  /** Shared secret every caller sends as `Authorization: Bearer <token>`. */
  token: string
  host?: string
  /** 0 picks a free port; read it from `start()` or `address`. */
  port?: number
  /** Serve on a non-loopback address. Off: the token is the only protection and travels in clear text. */
  allowNonLoopback?: boolean
  maxBodyBytes?: number
  maxBatch?: number
  /** Deepest params nesting accepted on every method (-32602 beyond it); default DEFAULT_MAX_PARAMS_DEPTH (64). */
  maxParamsDepth?: number
  /** Per-call deadline (methods may override with their own `timeoutMs`). */
  timeoutMs?: number
  /** App error code -> JSON-RPC code; unlisted errors become -32603. */
  errorTable?: ErrorTable
  validateResults?: boolean
  /** Serve `rpc.discover` with an OpenRPC document of `methods`. */
  discover?: OpenRpcInfo
  /** Receives every unexpected error (handler bugs, hook failures); the caller only sees 'Internal error'. */
  onInternalError?: (err: unknown) => void
  /** Told of every JSON-RPC call, over HTTP and WebSocket: method, code (0 = success) and duration. */
  onCall?: (call: CallReport) => void
  /** Wraps every call, e.g. in a tracing span; HTTP calls pass their `traceparent` header as the parent. */
  traceCall?: DispatcherInit<Ctx>['traceCall']
  logger?: RpcLogger
}

export interface RouteOptions {
  /** Serve without the bearer token (e.g. a page a browser opens). Off by default. */
  public?: boolean
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, opts: { signal: AbortSignal }) => void | Promise<void>
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

export interface RpcAddress { host: string, port: number, url: string }

export interface RpcServer {
  /** Listens; idempotent. Resolves with the RPC endpoint, e.g. http://127.0.0.1:43121/rpc. */
  start: () => Promise<{ url: string }>
  /** Answers in-flight calls with UNAVAILABLE, closes every connection and stops listening; idempotent. */
  stop: () => Promise<void>
  readonly address: RpcAddress | undefined
  /** Adds a page or endpoint beside /rpc, e.g. route('GET', '/metrics', ...). Token required unless `public`. */
  route: (method: 'GET' | 'POST', path: string, handler: RouteHandler, opts?: RouteOptions) => void
  /** Takes over HTTP upgrades other than /rpc/ws. The handler owns the socket; check the token with `isAuthorized`. */
  onUpgrade: (handler: UpgradeHandler) => void
  /** The WebSocket endpoint's sockets now (all zero while stopped or with `websocket: false`). */
  wsStats: () => WsStats
}

interface Route { handler: RouteHandler, public: boolean }

/** Stateless without `stream: true`, so one decoder serves every request. */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

export function createRpcServer<Ctx> (init: RpcServerInit<Ctx>): RpcServer {
  const host = init.host ?? '127.0.0.1'
  if (init.allowNonLoopback !== true && !isLoopbackHost(host)) throw new NotLoopbackError(host)
  if (typeof init.token !== 'string' || init.token === '') throw new TypeError('createRpcServer: token must be a non-empty string')
  const token = init.token
  const maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const log = init.logger ?? {}
  const reportInternal = (err: unknown): void => {
    try { init.onInternalError?.(err) } catch { /* the hook must not take the server down */ }
  }
  const dispatcher = createDispatcher({ ...init, onInternalError: reportInternal })
  const routes = new Map<string, Route>()
  let upgradeHandler: UpgradeHandler | undefined
  let wsEndpoint: WsEndpoint | undefined

  let server: Server | undefined
  let address: RpcAddress | undefined
  let starting: Promise<{ url: string }> | undefined
  let stopping: Promise<void> | undefined
  let lifetime = new AbortController()
  const inflight = new Set<Promise<void>>()
  const upgraded = new Set<Duplex>()

  async function onRpc (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    // Auth before reading a single body byte: an unauthenticated caller gets nothing parsed or run.
    if (!isAuthorized(req, token)) {
      send(res, 401, encodeError(null, new RpcError(RpcErrorCode.UNAUTHORIZED, 'Unauthorized: missing or wrong bearer token')),
        { 'www-authenticate': 'Bearer', connection: 'close' })
      return
    }
    const read = await readBody(req, maxBodyBytes)
    if (!read.ok) {
      if (read.reason === 'too-large') {
        send(res, 413, encodeError(null, new RpcError(RpcErrorCode.INVALID_REQUEST,
          `Invalid request: body larger than ${maxBodyBytes} bytes`)), { connection: 'close' })
      }
      return
    }
    let text: string
    try {
      text = UTF8.decode(read.body)
    } catch {
      send(res, 200, encodeError(null, new RpcError(RpcErrorCode.PARSE_ERROR, 'Parse error: the body is not valid UTF-8')))
      return
    }
    const header = req.headers.traceparent
    const out = await dispatcher.handle(text, signal, undefined, typeof header === 'string' ? { traceparent: header } : undefined)
    if (out === undefined) send(res, 204)
    else send(res, 200, out)
  }

  async function onRequest (req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', noop)
    res.on('error', noop)
    // One signal per request: aborts on server stop or when the client goes away before its answer.
    const controller = new AbortController()
    const onStop = (): void => { controller.abort(lifetime.signal.reason) }
    const stopSignal = lifetime.signal
    if (stopSignal.aborted) onStop()
    else stopSignal.addEventListener('abort', onStop, { once: true })
    res.on('close', () => {
      stopSignal.removeEventListener('abort', onStop)
      if (!res.writableFinished) controller.abort(new RpcError(RpcErrorCode.UNAVAILABLE, 'Client disconnected'))
    })

    let path: string
    try {
      // The common case without building a URL: a call to the RPC path with no query.
      path = req.url === RPC_PATH ? RPC_PATH : new URL(req.url ?? '/', 'http://localhost').pathname
    } catch {
      send(res, 400, JSON.stringify({ error: 'bad request target' }), { connection: 'close' })
      return
    }
    if (path === RPC_PATH) {
      if (req.method !== 'POST') {
        send(res, 405, JSON.stringify({ error: 'method not allowed; use POST' }), { allow: 'POST' })
        return
      }
      await onRpc(req, res, controller.signal)
      return
    }
    const route = routes.get(`${req.method ?? ''} ${path}`)
    if (route === undefined) {
      const allowed = ['GET', 'POST'].filter(m => routes.has(`${m} ${path}`))
      if (allowed.length > 0) send(res, 405, JSON.stringify({ error: 'method not allowed' }), { allow: allowed.join(', ') })
      else send(res, 404, JSON.stringify({ error: 'not found' }))
      return
    }
    if (!route.public && !isAuthorized(req, token)) {
      send(res, 401, JSON.stringify({ error: 'unauthorized' }), { 'www-authenticate': 'Bearer', connection: 'close' })
      return
    }
    await route.handler(req, res, { signal: controller.signal })
  }

  function track (req: IncomingMessage, res: ServerResponse): void {
    // Settles once the answer is handed to the OS (or the socket died), so stop() never cuts a reply short.
    const settled = new Promise<void>(resolve => { res.once('close', resolve); res.once('finish', resolve) })
    inflight.add(settled)
    void settled.then(() => inflight.delete(settled))
    onRequest(req, res).catch(err => {
      reportInternal(err)
      if (!res.headersSent) send(res, 500, encodeError(null, new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error')))
      else res.destroy()
    })
  }

  function onUpgradeEvent (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop)
    let path: string | undefined
    try { path = new URL(req.url ?? '/', 'http://localhost').pathname } catch { /* a 404 below */ }
    const handler: UpgradeHandler | undefined = path === WS_PATH ? wsEndpoint?.handleUpgrade : upgradeHandler
    if (handler === undefined || lifetime.signal.aborted) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    upgraded.add(socket)
    socket.once('close', () => upgraded.delete(socket))
    try {
      handler(req, socket, head)
    } catch (err) {
      reportInternal(err)
      socket.destroy()
    }
  }

  async function start (): Promise<{ url: string }> {
    if (stopping !== undefined) await stopping
    starting ??= listen().catch(err => {
      starting = undefined
      throw err
    })
    return await starting
  }

  async function listen (): Promise<{ url: string }> {
    lifetime = new AbortController()
    wsEndpoint = init.websocket === false
      ? undefined
      : createWsEndpoint({
        ...init.websocket,
        dispatcher,
        subscriptions: init.subscriptions,
        context: init.context,
        token,
        maxMessageBytes: maxBodyBytes,
        errorTable: init.errorTable,
        validateNotifications: init.validateResults,
        onInternalError: reportInternal,
        logger: log
      })
    const srv = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS })
    srv.on('request', track)
    srv.on('upgrade', onUpgradeEvent)
    srv.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      log.debug?.('rpc: client error', { code: err.code })
      if (socket.writable && err.code !== 'ECONNRESET') {
        const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      } else {
        socket.destroy()
      }
    })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        void wsEndpoint?.close()
        reject(err)
      }
      srv.once('error', onError)
      srv.listen(init.port ?? 0, host, () => {
        srv.off('error', onError)
        resolve()
      })
    })
    srv.on('error', err => { log.error?.('rpc: server error', { error: String(err) }) })
    const info = srv.address() as AddressInfo
    const urlHost = info.family === 'IPv6' ? `[${info.address}]` : info.address
    server = srv
    address = { host: info.address, port: info.port, url: `http://${urlHost}:${info.port}${RPC_PATH}` }
    log.info?.('rpc: listening', { url: address.url })
    return { url: address.url }
  }

  async function stop (): Promise<void> {
    if (starting !== undefined) await starting.catch(noop)
    const srv = server
    if (srv === undefined) return
    stopping ??= (async () => {
      lifetime.abort(new RpcError(RpcErrorCode.UNAVAILABLE, 'Server is stopping'))
      const closed = new Promise<void>(resolve => { srv.close(() => { resolve() }) })
      srv.closeIdleConnections()
      const wsClosed = wsEndpoint?.close()
      // In-flight calls answer at once (their signal just aborted); wait for those answers, then cut the rest.
      // The grace cap only matters for a route handler that ignores its signal.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise(resolve => { timer = setTimeout(resolve, STOP_GRACE_MS) })
      ])
      clearTimeout(timer)
      await wsClosed
      srv.closeAllConnections()
      for (const socket of upgraded) socket.destroy()
      await closed
      server = undefined
      address = undefined
      starting = undefined
      log.info?.('rpc: stopped')
    })().finally(() => { stopping = undefined })
    await stopping
  }

  return {
    start,
    stop,
    get address () { return address },
    wsStats: () => wsEndpoint?.stats() ?? { connections: 0, queuedBytes: 0, maxQueuedBytes: 0, slowConsumersDropped: 0 },
    route (method, path, handler, opts = {}) {
      if (path === RPC_PATH) throw new TypeError(`${RPC_PATH} is reserved for JSON-RPC`)
      const key = `${method} ${path}`
      if (routes.has(key)) throw new TypeError(`route already defined: ${key}`)
      routes.set(key, { handler, public: opts.public === true })
    },
    onUpgrade (handler) {
      upgradeHandler = handler
    }
  }
}

function send (res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers }
  if (body === undefined) {
    res.writeHead(status, common).end()
    return
  }
  res.writeHead(status, { ...common, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function noop (): void {}
