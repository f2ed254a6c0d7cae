/**
 * Subscriptions and helpers for the WebSocket tests. Producers report on an EventEmitter so tests wait on
 * events with a deadline, never on sleeps.
 */
import { EventEmitter, once } from 'node:events'
import { setImmediate as tick } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { createRpcServer, RpcError, Type, subscriptionsFor, type RpcServer, type RpcServerInit, type SubscriptionSink } from '../src/index.js'
import { errorTable, methods, newContext, TOKEN, type TestContext } from './fixtures.js'

export interface WsTestContext extends TestContext {
  bus: EventEmitter
  /** Largest `sink.bufferedBytes` the firehose saw right after a send. */
  maxBuffered: number
  firehoseSent: number
}

export interface Started { name: string, signal: AbortSignal, sink: SubscriptionSink<any> }

class AppError extends Error {
  constructor (readonly code: string, message: string, readonly data?: Record<string, unknown>) { super(message) }
}

const subscription = subscriptionsFor<WsTestContext>()

function report (ctx: WsTestContext, name: string, signal: AbortSignal, sink: SubscriptionSink<any>): void {
  ctx.bus.emit('started', { name, signal, sink } satisfies Started)
  signal.addEventListener('abort', () => { ctx.bus.emit('aborted', { name, reason: signal.reason }) }, { once: true })
}

export const ticker = subscription({
  name: 'ticker',
  description: 'Sends n = 1..count at once, then stays open until ended.',
  params: Type.Object({ count: Type.Integer({ minimum: 0, maximum: 1000 }) }, { additionalProperties: false }),
  notification: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
  subscribe: (p, ctx, sink, { signal }) => {
    report(ctx, 'ticker', signal, sink)
    for (let n = 1; n <= p.count; n++) sink.send({ n })
  }
})

export const compacted = subscription({
  name: 'compacted',
  description: 'Sends one notification, then ends with the app error ERR_COMPACTED.',
  params: Type.Object({ viaThrow: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  notification: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
  errors: [{ code: -32010, message: 'Cursor below the compacted part of the log' }],
  subscribe: async (p, ctx, sink, { signal }) => {
    report(ctx, 'compacted', signal, sink)
    sink.send({ n: 1 })
    const err = new AppError('ERR_COMPACTED', 'cursor 3 is below the compacted LSN 5', { compactedBelow: 5 })
    if (p.viaThrow === true) throw err
    sink.error(err)
  }
})

export const firehose = subscription({
  name: 'firehose',
  description: 'Pushes notifications of `size` bytes for as long as the sink takes them.',
  params: Type.Object({ size: Type.Integer({ minimum: 1, maximum: 1024 * 1024 }) }, { additionalProperties: false }),
  notification: Type.Object({ n: Type.Integer(), pad: Type.String() }, { additionalProperties: false }),
  subscribe: async (p, ctx, sink, { signal }) => {
    report(ctx, 'firehose', signal, sink)
    const pad = 'x'.repeat(p.size)
    for (let n = 1; !signal.aborted; n++) {
      const queued = sink.send({ n, pad })
      ctx.maxBuffered = Math.max(ctx.maxBuffered, sink.bufferedBytes) // including the send that tipped it over
      if (!queued) break
      ctx.firehoseSent++
      await tick() // let the socket write, as a real producer awaiting its source would
    }
  }
})

/**
 * Paces itself as events.subscribe does: sends only while the socket's queue is under `highWater`, so it never
 * fills the queue to the cap. With `giveUpMs` it ends the subscription with -32011 after waiting that long.
 */
export const paced = subscription({
  name: 'paced',
  description: 'Pushes notifications of `size` bytes while bufferedBytes < highWater.',
  params: Type.Object({ size: Type.Integer({ minimum: 1, maximum: 1024 * 1024 }), highWater: Type.Integer({ minimum: 0 }), giveUpMs: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
  notification: Type.Object({ n: Type.Integer(), pad: Type.String() }, { additionalProperties: false }),
  subscribe: async (p, ctx, sink, { signal }) => {
    report(ctx, 'paced', signal, sink)
    const pad = 'x'.repeat(p.size)
    for (let n = 1; !signal.aborted; n++) {
      const waitingSince = Date.now()
      while (sink.bufferedBytes > p.highWater && !signal.aborted) {
        if (p.giveUpMs !== undefined && Date.now() - waitingSince > p.giveUpMs) throw new RpcError(-32011, 'slow consumer: gave up waiting')
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      if (!sink.send({ n, pad })) break
      ctx.maxBuffered = Math.max(ctx.maxBuffered, sink.bufferedBytes)
      ctx.firehoseSent++
      await tick()
    }
  }
})

export const subscriptions = [ticker, compacted, firehose, paced]

export const wsErrorTable = { ...errorTable, ERR_COMPACTED: -32010 }

export interface WsHarness {
  server: RpcServer
  url: string
  wsUrl: string
  port: number
  ctx: WsTestContext
  internal: unknown[]
}

export async function startWsServer (overrides: Partial<RpcServerInit<WsTestContext>> = {}): Promise<WsHarness> {
  const ctx: WsTestContext = { ...newContext(), bus: new EventEmitter(), maxBuffered: 0, firehoseSent: 0 }
  const internal: unknown[] = []
  const server = createRpcServer<WsTestContext>({
    methods,
    subscriptions,
    context: ctx,
    token: TOKEN,
    errorTable: wsErrorTable,
    onInternalError: err => { internal.push(err) },
    ...overrides
  })
  const { url } = await server.start()
  const port = server.address?.port ?? 0
  return { server, url, wsUrl: `ws://127.0.0.1:${port}/rpc/ws`, port, ctx, internal }
}

/** Waits for one event, failing the test after `ms` instead of hanging it. */
export async function next<T = unknown> (emitter: EventEmitter, event: string, ms = 5_000): Promise<T> {
  const [value] = await once(emitter, event, { signal: AbortSignal.timeout(ms) })
  return value as T
}

/** Resolves once `check()` holds; a bounded wait on a condition another event loop turn will make true. */
export async function until (check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** A raw `ws` client: resolves when open, or with the HTTP status the upgrade was refused with. */
export async function rawConnect (url: string, opts: { headers?: Record<string, string>, protocols?: string[] } = {}): Promise<{ ws: WebSocket, status?: number }> {
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} })
  ws.on('error', () => {})
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { resolve({ ws }) })
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      ws.terminate()
      resolve({ ws, status: res.statusCode })
    })
    ws.once('close', () => { reject(new Error('closed before open')) })
  })
}

/** Collects parsed messages from a raw socket. */
export function collect (ws: WebSocket): any[] {
  const out: any[] = []
  ws.on('message', data => { out.push(JSON.parse(data.toString())) })
  return out
}

export async function closed (ws: WebSocket, ms = 5_000): Promise<{ code: number, reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed')
  const [code, reason] = await once(ws, 'close', { signal: AbortSignal.timeout(ms) }) as [number, Buffer]
  return { code, reason: reason.toString() }
}
