/**
 * The WebSocket face of the RPC, `GET /rpc/ws` on the RPC's HTTP server: every method (through the same
 * dispatcher as HTTP) plus subscriptions. The token is checked before the upgrade.
 *
 * Memory per socket is bounded on both sides:
 * - out: at most `maxBufferedBytes` (plus the one message that crossed it) queued and not yet taken by the OS;
 * - in: at most WS_MAX_INFLIGHT requests and WS_MAX_INFLIGHT_BYTES of request text being handled; past either,
 *   the socket is not read until some finish.
 * A client that reads too slowly is a slow consumer and is dropped, whichever way it shows: its queue passes
 * `maxBufferedBytes`, it takes nothing for `stallMs` while data waits for it, or a subscriber ends its
 * subscription with -32011 (SLOW_CONSUMER) after waiting on it. Dropping ends every subscription of the socket
 * with -32011, queues nothing more, sends the close frame (1008 "slow consumer") and cuts the socket
 * WS_SLOW_CONSUMER_CLOSE_MS later if the client has not closed it, which frees everything it held.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import {
  DEFAULT_WS_MAX_BUFFERED_BYTES, DEFAULT_WS_MAX_SOCKETS, DEFAULT_WS_MAX_SUBSCRIPTIONS, WS_CLOSE_GRACE_MS, WS_HEARTBEAT_MS,
  WS_MAX_INFLIGHT, WS_MAX_INFLIGHT_BYTES, WS_SLOW_CONSUMER_CLOSE_MS, WS_STALL_MS
} from './constants.js'
import { encodeError, type Dispatcher, type SessionMethod, type SessionMethods } from './dispatch.js'
import { RpcError, RpcErrorCode, toRpcError, type ErrorTable } from './errors.js'
import { checkBearer, isAuthorized } from './guards.js'
import { Type, validate as validateSchema } from './schema.js'
import type { RpcLogger } from './rpc-logger.js'
import {
  listSubscriptions, UNSUBSCRIBE_METHOD, WS_SUBPROTOCOL, type SubscriptionDef, type SubscriptionSink, type SubscriptionTable
} from './subscription.js'
import { ValidationError } from './validation-error.js'

export interface WsOptions {
  /** Connections at once; more get HTTP 503. */
  maxSockets?: number
  /** Live subscriptions per connection; more get -32029. */
  maxSubscriptionsPerSocket?: number
  /** Queued bytes past which a client is a slow consumer and is dropped. */
  maxBufferedBytes?: number
  /** Milliseconds a client may take nothing while data waits for it before it is dropped as a slow consumer. */
  stallMs?: number
  heartbeatMs?: number
}

/** The endpoint's sockets as seen now, for metrics and tests. */
export interface WsStats {
  connections: number
  /** Bytes queued on all sockets and not yet taken by the OS. */
  queuedBytes: number
  /** The largest queue of any one socket. */
  maxQueuedBytes: number
  /** Sockets dropped as slow consumers since the server started. */
  slowConsumersDropped: number
}

export interface WsEndpointInit<Ctx> extends WsOptions {
  dispatcher: Dispatcher
  subscriptions?: SubscriptionTable<Ctx>
  context: Ctx
  token: string
  /** Largest message accepted; a larger one closes the socket with 1009. */
  maxMessageBytes: number
  errorTable?: ErrorTable
  /** Check each notification against its schema (as results are checked); on by default. */
  validateNotifications?: boolean
  onInternalError?: (err: unknown) => void
  logger?: RpcLogger
}

export interface WsEndpoint {
  /** For the HTTP server's 'upgrade' event on the WebSocket path; owns the socket from then on. */
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Ends every subscription and closes every socket with 1001; cuts those that do not close in time. */
  close: () => Promise<void>
  readonly connections: number
  stats: () => WsStats
}

type AnySub<Ctx> = SubscriptionDef<Ctx, string, any, any>

interface Sub<Ctx> { id: string, def: AnySub<Ctx>, params: unknown, controller: AbortController, ended: boolean }

interface Conn<Ctx> {
  ws: WebSocket
  /** Aborts when the socket closes or the server stops: pending calls on it answer at once. */
  controller: AbortController
  subs: Map<string, Sub<Ctx>>
  nextId: number
  alive: boolean
  inflight: number
  /** Bytes of request text being handled. */
  inflightBytes: number
  dropping: boolean
  killTimer?: NodeJS.Timeout
  /** Messages handed to the socket whose write has not completed: the OS has not taken them yet. */
  pendingWrites: number
  /** performance.now() when a write last completed, or when writes began to wait after none were pending. */
  progressAt: number
}

const UNSUBSCRIBE_PARAMS = Type.Object({ subscription: Type.String({ maxLength: 64 }) }, { additionalProperties: false })

export function createWsEndpoint<Ctx> (init: WsEndpointInit<Ctx>): WsEndpoint {
  const maxSockets = init.maxSockets ?? DEFAULT_WS_MAX_SOCKETS
  const maxSubs = init.maxSubscriptionsPerSocket ?? DEFAULT_WS_MAX_SUBSCRIPTIONS
  const maxBuffered = init.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED_BYTES
  const stallMs = init.stallMs ?? WS_STALL_MS
  const validate = init.validateNotifications ?? true
  const table = init.errorTable ?? {}
  const log = init.logger ?? {}
  const defs = new Map(listSubscriptions(init.subscriptions).map(def => [def.name, def]))
  const reportInternal = (err: unknown): void => {
    try { init.onInternalError?.(err) } catch { /* a failing hook must not break the socket */ }
  }
  const conns = new Set<Conn<Ctx>>()
  let closing = false
  let slowConsumersDropped = 0
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: init.maxMessageBytes,
    perMessageDeflate: false,
    // Never echo the bearer.<token> entry back; select the plain protocol name when offered.
    handleProtocols: protocols => protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false
  })
  wss.on('error', err => { log.debug?.('rpc ws: server error', { error: String(err) }) })

  const heartbeat = setInterval(() => {
    for (const conn of conns) {
      if (!conn.alive) {
        log.debug?.('rpc ws: no pong, cutting the socket')
        conn.ws.terminate()
        continue
      }
      conn.alive = false
      try { conn.ws.ping() } catch { /* closing already */ }
    }
  }, init.heartbeatMs ?? WS_HEARTBEAT_MS)
  heartbeat.unref()

  // A client that takes nothing while data waits for it is dropped after stallMs, whether or not its queue
  // reached the cap: a producer that paces itself on `bufferedBytes` never fills the queue, and a socket the
  // client no longer reads must not be held open with its backlog until the heartbeat notices.
  const stallCheck = setInterval(() => {
    const now = performance.now()
    for (const conn of conns) {
      if (!conn.dropping && conn.pendingWrites > 0 && now - conn.progressAt > stallMs) dropSlowConsumer(conn, 'took nothing')
    }
  }, Math.max(10, Math.min(1_000, stallMs / 4)))
  stallCheck.unref()

  function handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (closing) return refuse(socket, '503 Service Unavailable')
    // Auth first: a caller without the token gets nothing upgraded, parsed or run.
    if (!authorized(req, init.token)) return refuse(socket, '401 Unauthorized', 'WWW-Authenticate: Bearer\r\n')
    if (conns.size >= maxSockets) return refuse(socket, '503 Service Unavailable')
    wss.handleUpgrade(req, socket, head, ws => {
      if (closing || conns.size >= maxSockets) {
        ws.close(1013, 'try again later')
        return
      }
      accept(ws)
    })
  }

  function accept (ws: WebSocket): void {
    const conn: Conn<Ctx> = {
      ws, controller: new AbortController(), subs: new Map(), nextId: 0, alive: true, inflight: 0, inflightBytes: 0, dropping: false,
      pendingWrites: 0, progressAt: performance.now()
    }
    conns.add(conn)
    ws.on('pong', () => { conn.alive = true })
    ws.on('error', err => { log.debug?.('rpc ws: socket error', { error: String(err) }) })
    ws.on('close', () => {
      conns.delete(conn)
      clearTimeout(conn.killTimer)
      conn.controller.abort(new RpcError(RpcErrorCode.UNAVAILABLE, 'Connection closed'))
      for (const sub of [...conn.subs.values()]) endSub(conn, sub, 'connection closed')
    })
    ws.on('message', (data, isBinary) => {
      conn.alive = true
      const size = rawSize(data)
      conn.inflight++
      conn.inflightBytes += size
      if (conn.inflight >= WS_MAX_INFLIGHT || conn.inflightBytes >= WS_MAX_INFLIGHT_BYTES) ws.pause()
      onMessage(conn, data, isBinary).catch(reportInternal).finally(() => {
        conn.inflight--
        conn.inflightBytes -= size
        if (ws.isPaused && conn.inflight < WS_MAX_INFLIGHT && conn.inflightBytes < WS_MAX_INFLIGHT_BYTES && !conn.dropping) ws.resume()
      })
    })
  }

  async function onMessage (conn: Conn<Ctx>, data: RawData, isBinary: boolean): Promise<void> {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    let text: string
    try {
      // Text frames were checked by ws already; a binary frame must hold UTF-8 JSON too.
      text = isBinary ? new TextDecoder('utf-8', { fatal: true }).decode(bytes) : bytes.toString('utf8')
    } catch {
      send(conn, encodeError(null, new RpcError(RpcErrorCode.PARSE_ERROR, 'Parse error: the message is not valid UTF-8')))
      return
    }
    const created: Array<Sub<Ctx>> = []
    const out = await init.dispatcher.handle(text, conn.controller.signal, session(conn, created))
    if (out !== undefined) send(conn, out)
    // Producers start only once the answer carrying their id is queued, so no notification precedes it.
    for (const sub of created) start(conn, sub)
  }

  /** Subscribe and unsubscribe bound to one connection; new subscriptions are collected in `created`. */
  function session (conn: Conn<Ctx>, created: Array<Sub<Ctx>>): SessionMethods {
    const unsubscribe: SessionMethod = {
      params: UNSUBSCRIBE_PARAMS,
      handler: ({ subscription }: { subscription: string }) => {
        const sub = conn.subs.get(subscription)
        if (sub === undefined) return false
        endSub(conn, sub, 'unsubscribed')
        return true
      }
    }
    return {
      get: method => {
        if (method === UNSUBSCRIBE_METHOD) return unsubscribe
        const def = defs.get(method)
        if (def === undefined) return undefined
        return {
          params: def.params,
          handler: (params: unknown) => {
            if (conn.dropping || conn.controller.signal.aborted) throw new RpcError(RpcErrorCode.UNAVAILABLE, 'Connection closing')
            if (conn.subs.size >= maxSubs) {
              throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `Too many subscriptions: at most ${maxSubs} per connection`)
            }
            const id = (++conn.nextId).toString(16)
            const sub: Sub<Ctx> = { id, def, params, controller: new AbortController(), ended: false }
            conn.subs.set(id, sub)
            created.push(sub)
            return { subscription: id }
          }
        }
      }
    }
  }

  function start (conn: Conn<Ctx>, sub: Sub<Ctx>): void {
    if (sub.ended) return
    const sink: SubscriptionSink<unknown> = {
      send: notification => notify(conn, sub, notification),
      error: err => { if (!sub.ended) endBySubscriber(conn, sub, 'ended by the server', toRpcError(err, table, reportInternal)) },
      get bufferedBytes () { return conn.ws.bufferedAmount }
    }
    Promise.resolve()
      .then(async () => { await sub.def.subscribe(sub.params, init.context, sink, { signal: sub.controller.signal }) })
      .catch(err => { if (!sub.ended) endBySubscriber(conn, sub, 'subscriber failed', toRpcError(err, table, reportInternal)) })
  }

  /** A subscriber that gives up on a client that does not read (-32011) drops the client, not only itself. */
  function endBySubscriber (conn: Conn<Ctx>, sub: Sub<Ctx>, reason: string, error: RpcError): void {
    if (error.code === RpcErrorCode.SLOW_CONSUMER) dropSlowConsumer(conn, error.message)
    else endSub(conn, sub, reason, error)
  }

  function notify (conn: Conn<Ctx>, sub: Sub<Ctx>, result: unknown): boolean {
    if (sub.ended) return false
    if (validate) {
      const checked = validateSchema(sub.def.notification, result, 'result')
      if (checked instanceof ValidationError) {
        reportInternal(new TypeError(`${sub.def.name} sent a notification that does not match its schema: ${checked.message}`))
        endSub(conn, sub, 'bad notification', new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error'))
        return false
      }
    }
    let text: string
    try {
      text = JSON.stringify({ jsonrpc: '2.0', method: sub.def.name, params: { subscription: sub.id, result } })
    } catch (err) {
      reportInternal(err) // BigInt, a cycle: a server bug
      endSub(conn, sub, 'bad notification', new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error'))
      return false
    }
    return send(conn, text) && !sub.ended
  }

  /** Queues a message unless the socket is gone or being dropped; drops the client once its queue is too long. */
  function send (conn: Conn<Ctx>, text: string): boolean {
    if (conn.dropping || conn.ws.readyState !== WebSocket.OPEN) return false
    if (conn.pendingWrites++ === 0) conn.progressAt = performance.now()
    conn.ws.send(text, () => {
      conn.pendingWrites--
      conn.progressAt = performance.now()
    })
    // Checked after queueing, so the queue never exceeds the cap by more than this one message.
    if (conn.ws.bufferedAmount > maxBuffered) {
      dropSlowConsumer(conn, `more than ${maxBuffered} bytes queued`)
      return false
    }
    return true
  }

  function dropSlowConsumer (conn: Conn<Ctx>, why: string): void {
    if (conn.dropping) return
    conn.dropping = true
    slowConsumersDropped++
    log.warn?.('rpc ws: dropping a slow consumer', { why, bufferedBytes: conn.ws.bufferedAmount, subscriptions: conn.subs.size })
    const error = new RpcError(RpcErrorCode.SLOW_CONSUMER, 'slow consumer')
    // The error notifications are small and go out only if the client ever reads its backlog.
    for (const sub of [...conn.subs.values()]) endSub(conn, sub, 'slow consumer', error, true)
    conn.controller.abort(error)
    conn.ws.close(1008, 'slow consumer')
    conn.killTimer = setTimeout(() => { conn.ws.terminate() }, WS_SLOW_CONSUMER_CLOSE_MS)
  }

  /** Ends a subscription once: sends its error notification (if any), then aborts its producer's signal. */
  function endSub (conn: Conn<Ctx>, sub: Sub<Ctx>, reason: string, error?: RpcError, force = false): void {
    if (sub.ended) return
    sub.ended = true
    conn.subs.delete(sub.id)
    if (error !== undefined) {
      const text = JSON.stringify({ jsonrpc: '2.0', method: sub.def.name, params: { subscription: sub.id, error: error.toJSON() } })
      if (force) {
        if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(text)
      } else {
        send(conn, text)
      }
    }
    sub.controller.abort(error ?? new RpcError(RpcErrorCode.UNAVAILABLE, `Subscription ended: ${reason}`))
  }

  async function close (): Promise<void> {
    closing = true
    clearInterval(heartbeat)
    clearInterval(stallCheck)
    const stopping = new RpcError(RpcErrorCode.UNAVAILABLE, 'Server is stopping')
    for (const conn of conns) conn.controller.abort(stopping)
    // Let calls that just aborted put their UNAVAILABLE answers on the wire before the close frame.
    await new Promise(resolve => setImmediate(resolve))
    const closed = [...conns].map(async conn => {
      for (const sub of [...conn.subs.values()]) endSub(conn, sub, 'server stopping')
      if (conn.ws.readyState === WebSocket.CLOSED) return
      const done = new Promise(resolve => conn.ws.once('close', resolve))
      conn.ws.close(1001, 'server stopping')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([done, new Promise(resolve => { timer = setTimeout(resolve, WS_CLOSE_GRACE_MS) })])
      clearTimeout(timer)
      conn.ws.terminate()
    })
    await Promise.all(closed)
    wss.close()
  }

  function stats (): WsStats {
    let queuedBytes = 0
    let maxQueuedBytes = 0
    for (const conn of conns) {
      const queued = conn.ws.bufferedAmount
      queuedBytes += queued
      maxQueuedBytes = Math.max(maxQueuedBytes, queued)
    }
    return { connections: conns.size, queuedBytes, maxQueuedBytes, slowConsumersDropped }
  }

  return { handleUpgrade, close, stats, get connections () { return conns.size } }
}

function rawSize (data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength
}

/** The Authorization header, or (browsers) the subprotocols `shoal-rpc, bearer.<token>`. */
function authorized (req: IncomingMessage, token: string): boolean {
  if (isAuthorized(req, token)) return true
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
  const bearer = offered.find(p => p.startsWith('bearer.'))
  return offered.includes(WS_SUBPROTOCOL) && bearer !== undefined && checkBearer(`Bearer ${bearer.slice('bearer.'.length)}`, token)
}

function refuse (socket: Duplex, status: string, headers = ''): void {
  socket.end(`HTTP/1.1 ${status}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`, () => { socket.destroy() })
}
