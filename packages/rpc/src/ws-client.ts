/**
 * A small JSON-RPC client over one WebSocket (the `ws` package): calls and subscriptions. Server errors become
 * RpcError; a lost or refused connection becomes RpcConnectionError, as with the HTTP client.
 */
import { WebSocket, type RawData } from 'ws'
import { findErrorCode, RpcConnectionError, toError, UNREACHABLE, type CallOptions } from './client.js'
import { DEFAULT_CLIENT_TIMEOUT_MS, WS_CLOSE_GRACE_MS } from './constants.js'
import { RpcError, RpcErrorCode } from './errors.js'
import { UNSUBSCRIBE_METHOD } from './subscription.js'

export interface WsClientInit {
  /** e.g. ws://127.0.0.1:7701/rpc/ws */
  url: string
  token: string
  /** Deadline for the handshake and, by default, for each call. */
  timeoutMs?: number
}

export interface WsSubscribeHandlers<T = unknown> {
  onNotification: (notification: T) => void
  /** The subscription ended: an RpcError sent by the server, or an RpcConnectionError when the socket closed. */
  onError?: (err: RpcError | RpcConnectionError) => void
}

export interface WsSubscription {
  readonly id: string
  /** Stops delivery at once, then tells the server; resolves when it has answered (or the socket is gone). */
  unsubscribe: () => Promise<void>
}

export interface WsClient {
  call: <R = unknown>(method: string, params?: Record<string, unknown>, opts?: CallOptions) => Promise<R>
  subscribe: <T = unknown>(name: string, params: Record<string, unknown>, handlers: WsSubscribeHandlers<T>, opts?: CallOptions) => Promise<WsSubscription>
  /** Closes with 1000 and ends every subscription (their onError gets an RpcConnectionError). */
  close: () => Promise<void>
}

interface Pending { resolve: (result: unknown) => void, reject: (err: Error) => void }

/** Connects, then resolves with the client. Rejects with RpcConnectionError, or RpcError -32006 for a bad token. */
export async function createWsClient (init: WsClientInit): Promise<WsClient> {
  const { url } = init
  const timeoutMs = init.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${init.token}` }, handshakeTimeout: timeoutMs })
  const pending = new Map<number, Pending>()
  const subs = new Map<string, WsSubscribeHandlers<any>>()
  let nextId = 1
  let closedError: RpcConnectionError | undefined
  ws.on('error', () => { /* reported through 'close' or the handshake below */ })

  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { resolve() })
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      reject(res.statusCode === 401
        ? new RpcError(RpcErrorCode.UNAUTHORIZED, 'Unauthorized: missing or wrong bearer token')
        : new RpcConnectionError('ERR_RPC_CONNECTION', url, `HTTP ${res.statusCode ?? 0} from ${url} instead of a WebSocket`, { status: res.statusCode }))
      ws.terminate()
    })
    ws.once('error', err => {
      const code = findErrorCode(err)
      reject(code !== undefined && UNREACHABLE.has(code)
        ? new RpcConnectionError('ERR_RPC_UNREACHABLE', url, `nothing is listening at ${url} (${code})`, { cause: err })
        : new RpcConnectionError('ERR_RPC_CONNECTION', url, `WebSocket to ${url} failed (${code ?? err.message})`, { cause: err }))
    })
  })

  ws.on('message', (data: RawData) => {
    let msg: unknown
    try { msg = JSON.parse(data.toString()) } catch { return }
    for (const m of Array.isArray(msg) ? msg : [msg]) onFrame(m)
  })
  ws.on('close', (code, reason) => {
    closedError = new RpcConnectionError('ERR_RPC_CONNECTION', url, `WebSocket closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`)
    for (const p of pending.values()) p.reject(closedError)
    pending.clear()
    const ended = [...subs.values()]
    subs.clear()
    for (const h of ended) h.onError?.(closedError)
  })

  function onFrame (m: unknown): void {
    if (typeof m !== 'object' || m === null) return
    const { id, method, params, result, error } = m as Record<string, any>
    if (typeof method === 'string') {
      const handlers = typeof params?.subscription === 'string' ? subs.get(params.subscription) : undefined
      if (handlers === undefined) return
      if ('error' in params) {
        subs.delete(params.subscription)
        handlers.onError?.(toError(params.error))
      } else {
        handlers.onNotification(params.result)
      }
      return
    }
    const p = pending.get(id)
    if (p === undefined) return
    pending.delete(id)
    if (error !== undefined) p.reject(toError(error))
    else p.resolve(result)
  }

  /** `onResult` runs synchronously on the answer, before any later message is looked at. */
  async function request (method: string, params: Record<string, unknown>, opts: CallOptions = {}, onResult?: (r: unknown) => void): Promise<unknown> {
    if (closedError !== undefined || ws.readyState !== WebSocket.OPEN) {
      throw closedError ?? new RpcConnectionError('ERR_RPC_CONNECTION', url, 'WebSocket is closing')
    }
    const id = nextId++
    const ms = opts.timeoutMs ?? timeoutMs
    return await new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
      }
      const fail = (err: Error): void => {
        pending.delete(id)
        done()
        reject(err)
      }
      const onAbort = (): void => { fail(opts.signal?.reason) }
      const timer = setTimeout(() => { fail(new RpcConnectionError('ERR_RPC_TIMEOUT', url, `no answer from ${url} within ${ms} ms`)) }, ms)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      pending.set(id, {
        resolve: r => {
          done()
          try { onResult?.(r) } catch (err) { reject(err); return }
          resolve(r)
        },
        reject: err => { done(); reject(err) }
      })
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
      if (opts.signal?.aborted === true) onAbort()
    })
  }

  async function subscribe<T> (name: string, params: Record<string, unknown>, handlers: WsSubscribeHandlers<T>, opts?: CallOptions): Promise<WsSubscription> {
    let id = ''
    await request(name, params, opts, r => {
      const sub = (r as { subscription?: unknown } | null)?.subscription
      if (typeof sub !== 'string') throw new RpcConnectionError('ERR_RPC_BAD_RESPONSE', url, `${name} did not answer with a subscription id`)
      id = sub
      subs.set(id, handlers) // registered before the first notification can be read
    })
    return {
      id,
      unsubscribe: async () => {
        if (!subs.delete(id) || closedError !== undefined) return
        await request(UNSUBSCRIBE_METHOD, { subscription: id }).catch(err => {
          if (!(err instanceof RpcConnectionError)) throw err
        })
      }
    }
  }

  async function close (): Promise<void> {
    if (ws.readyState === WebSocket.CLOSED) return
    const closed = new Promise(resolve => ws.once('close', resolve))
    ws.close(1000)
    const timer = setTimeout(() => { ws.terminate() }, WS_CLOSE_GRACE_MS)
    await closed
    clearTimeout(timer)
  }

  return {
    call: async <R>(method: string, params: Record<string, unknown> = {}, opts?: CallOptions) => await request(method, params, opts) as R,
    subscribe,
    close
  }
}
