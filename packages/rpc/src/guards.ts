/**
 * The two gates in front of the RPC server: where it may listen, and who may call it.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'

/** Thrown by createRpcServer for a host outside loopback when `allowNonLoopback` is not set. */
export class NotLoopbackError extends Error {
  static readonly code = 'ERR_RPC_NOT_LOOPBACK'
  readonly code = NotLoopbackError.code
  readonly host: string

  constructor (host: string) {
    super(`refusing to serve RPC on non-loopback host ${JSON.stringify(host)}; set allowNonLoopback to expose it`)
    this.name = 'NotLoopbackError'
    this.host = host
  }
}

/** True for localhost, 127.0.0.0/8, ::1 (bracketed or not) and IPv4-mapped 127.x addresses. */
export function isLoopbackHost (host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (!isIPv6(h)) return false
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
  return mapped?.[1] !== undefined && mapped[1].startsWith('127.')
}

/**
 * Constant-time check of an `Authorization: Bearer <token>` header value. Both sides are hashed first so the
 * comparison has a fixed length and leaks neither the token nor its length.
 */
export function checkBearer (header: string | undefined, token: string): boolean {
  if (header === undefined || token === '') return false
  const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim())
  const given = match?.[1] ?? ''
  const a = createHash('sha256').update(given).digest()
  return timingSafeEqual(a, tokenDigest(token)) && given !== ''
}

/** The expected token's SHA-256, computed once per token (a server has one): one hash per request, not two. */
let lastToken: { token: string, digest: Buffer } | undefined
function tokenDigest (token: string): Buffer {
  if (lastToken?.token !== token) lastToken = { token, digest: createHash('sha256').update(token).digest() }
  return lastToken.digest
}

/** Token check for any request, including WebSocket upgrades handled through `onUpgrade`. */
export function isAuthorized (req: IncomingMessage, token: string): boolean {
  return checkBearer(req.headers.authorization, token)
}
