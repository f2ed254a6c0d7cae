/**
 * JSON-RPC error codes and the one mapping from application error codes to them. These numbers are part of
 * the wire contract (docs/rpc.md): never renumber, only add.
 */

export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  // Server-defined range -32000..-32099. Loosely follows HTTP status numbers where one fits.
  TIMEOUT: -32001,
  UNAVAILABLE: -32003,
  NOT_FOUND: -32004,
  FORBIDDEN: -32005,
  UNAUTHORIZED: -32006,
  CONFLICT: -32009,
  /** WebSocket only: the client read too slowly, so its subscriptions ended and the socket is being closed. */
  SLOW_CONSUMER: -32011,
  /** A per-connection limit (e.g. subscriptions per WebSocket) is reached; 429 is the HTTP analogue. */
  LIMIT_EXCEEDED: -32029
} as const

export type RpcErrorCodeName = keyof typeof RpcErrorCode

/** One line per code for docs/rpc.md and OpenRPC. */
export const RPC_ERROR_DOCS: ReadonlyArray<{ code: number, name: RpcErrorCodeName, meaning: string }> = [
  { code: RpcErrorCode.PARSE_ERROR, name: 'PARSE_ERROR', meaning: 'The body is not valid JSON.' },
  { code: RpcErrorCode.INVALID_REQUEST, name: 'INVALID_REQUEST', meaning: 'Not a JSON-RPC 2.0 request, an empty or oversized batch, or a body over the size limit.' },
  { code: RpcErrorCode.METHOD_NOT_FOUND, name: 'METHOD_NOT_FOUND', meaning: 'No method with that name.' },
  { code: RpcErrorCode.INVALID_PARAMS, name: 'INVALID_PARAMS', meaning: 'Params failed validation; `data` is { field, value, expected }.' },
  { code: RpcErrorCode.INTERNAL_ERROR, name: 'INTERNAL_ERROR', meaning: 'Unexpected failure; details are only in the daemon log.' },
  { code: RpcErrorCode.TIMEOUT, name: 'TIMEOUT', meaning: 'The call did not finish within its deadline.' },
  { code: RpcErrorCode.UNAVAILABLE, name: 'UNAVAILABLE', meaning: 'The daemon is stopping or a dependency is not ready.' },
  { code: RpcErrorCode.NOT_FOUND, name: 'NOT_FOUND', meaning: 'The named thing does not exist.' },
  { code: RpcErrorCode.FORBIDDEN, name: 'FORBIDDEN', meaning: 'The caller may not do this.' },
  { code: RpcErrorCode.UNAUTHORIZED, name: 'UNAUTHORIZED', meaning: 'Missing or wrong bearer token (sent with HTTP 401).' },
  { code: RpcErrorCode.CONFLICT, name: 'CONFLICT', meaning: 'The change conflicts with current state.' }
]

/** Codes only the WebSocket endpoint sends; listed in the docs' subscription section, not in the HTTP table. */
export const WS_ERROR_DOCS: ReadonlyArray<{ code: number, name: RpcErrorCodeName, meaning: string }> = [
  { code: RpcErrorCode.SLOW_CONSUMER, name: 'SLOW_CONSUMER', meaning: 'The client read too slowly: its subscriptions end with this error and the socket closes with 1008.' },
  { code: RpcErrorCode.LIMIT_EXCEEDED, name: 'LIMIT_EXCEEDED', meaning: 'Too many subscriptions on this connection.' }
]

/** A JSON-RPC error object as an Error; thrown by the client, and by handlers that want an exact code. */
export class RpcError extends Error {
  readonly code: number
  readonly data: unknown

  constructor (code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    this.data = data
  }

  toJSON (): { code: number, message: string, data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }
}

/**
 * Application error code (the string `code` on a thrown error, e.g. 'ERR_NOT_FOUND') to JSON-RPC code.
 * The app owns the table. An error whose code is listed is public: its message and `data` go to the caller.
 * Give a fixed `message` to hide the thrown text.
 */
export type ErrorTable = Readonly<Record<string, number | { code: number, message?: string }>>

/**
 * Maps anything thrown by a handler to the RpcError sent on the wire. RpcErrors pass through; listed app codes
 * are mapped by code, never by message text; everything else becomes -32603 'Internal error' with nothing from
 * the original error, and is handed to `onInternalError` (the only place its message and stack go).
 */
export function toRpcError (err: unknown, table: ErrorTable, onInternalError?: (err: unknown) => void): RpcError {
  if (err instanceof RpcError) return err
  const appCode = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  const entry = typeof appCode === 'string' && Object.hasOwn(table, appCode) ? table[appCode] : undefined
  if (entry === undefined) {
    onInternalError?.(err)
    return new RpcError(RpcErrorCode.INTERNAL_ERROR, 'Internal error')
  }
  const code = typeof entry === 'number' ? entry : entry.code
  const fixed = typeof entry === 'number' ? undefined : entry.message
  const thrown = err as { message?: unknown, data?: unknown }
  const message = fixed ?? (typeof thrown.message === 'string' && thrown.message !== '' ? thrown.message : String(appCode))
  const extra = fixed === undefined && isPlainObject(thrown.data) ? thrown.data : {}
  return new RpcError(code, message, { ...extra, code: appCode })
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
