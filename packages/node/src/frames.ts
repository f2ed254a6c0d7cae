/**
 * Request/response over our own stream protocols: one length-prefixed JSON frame each way, with a hard cap
 * on frame size (a peer that sends more is cut off) and a deadline on every step.
 *
 * Requests travel over the peer's request channel for the protocol (channels.ts: one long-lived stream per peer
 * and protocol, decisions/0014). A peer of an earlier release, which does not speak channels, gets one stream
 * per request (decisions/0004); every node serves both.
 */
import { lpStream } from '@libp2p/utils'
import type { PeerId, Stream, Connection } from '@libp2p/interface'
import { constants } from '@shoal/core'
import type { Logger } from '@shoal/core'
import type { ShoalLibp2p } from './libp2p.js'
import { channelsOf } from './channels.js'
import type { ByteCounter } from './channels.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message))
}

export function decodeFrame (bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes))
}

export interface RequestOptions {
  signal: AbortSignal
  maxBytes?: number
  /** Told the request's and the reply's body sizes in bytes, as they are sent and received. */
  onBytes?: ByteCounter
}

/**
 * Sends `message` to `peer` on `protocol` and resolves with the reply's body (not yet validated). Rejects on
 * the signal, a dial or stream failure, a reply over `maxBytes` (default MAX_FRAME_BYTES), or the peer's failure
 * to handle it.
 */
export async function request (libp2p: ShoalLibp2p, peer: PeerId, protocol: string, message: unknown, opts: RequestOptions): Promise<unknown> {
  const channels = channelsOf(libp2p)
  if (!channels.isLegacy(peer)) {
    const sent = await channels.request(peer, protocol, message, opts.signal, opts.maxBytes ?? constants.MAX_FRAME_BYTES, opts.onBytes)
    if (sent !== undefined) return sent.reply
  }
  return await requestOneShot(libp2p, peer, protocol, message, opts)
}

/** One stream for one request (decisions/0004): what a peer without channels understands. */
export async function requestOneShot (libp2p: ShoalLibp2p, peer: PeerId, protocol: string, message: unknown, opts: RequestOptions): Promise<unknown> {
  const stream = await libp2p.dialProtocol(peer, protocol, { signal: opts.signal })
  try {
    const lp = capped(stream, opts.maxBytes)
    const frame = encodeFrame(message)
    await lp.write(frame, { signal: opts.signal })
    opts.onBytes?.(frame.byteLength, 0)
    const reply = await lp.read({ signal: opts.signal })
    await stream.close({ signal: opts.signal })
    opts.onBytes?.(0, reply.byteLength)
    return decodeFrame(reply.subarray())
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

export type RequestHandler = (message: unknown, from: PeerId, signal: AbortSignal) => Promise<unknown>

/** Requests a protocol handles at once from one peer by default: streams of one connection, or requests of one channel. */
const MAX_IN_FLIGHT = 64

export interface HandleOptions {
  logger: Logger
  /** Deadline for reading the request, handling it and writing the reply. */
  timeoutMs: number
  maxBytes?: number
  /** Requests handled at once from one peer (one-shot streams of one connection, or requests of one channel). */
  maxInboundStreams?: number
}

/** Answers `protocol` on request channels and on one-shot streams alike. */
export async function handleRequests (libp2p: ShoalLibp2p, protocol: string, handler: RequestHandler, opts: HandleOptions): Promise<void> {
  await channelsOf(libp2p).serve(protocol, handler, {
    logger: opts.logger,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes ?? constants.MAX_FRAME_BYTES,
    maxInFlight: opts.maxInboundStreams ?? MAX_IN_FLIGHT
  })
  await libp2p.handle(protocol, async (stream: Stream, connection: Connection) => {
    const signal = AbortSignal.timeout(opts.timeoutMs)
    try {
      const lp = capped(stream, opts.maxBytes)
      const req = decodeFrame((await lp.read({ signal })).subarray())
      const res = await handler(req, connection.remotePeer, signal)
      await lp.write(encodeFrame(res), { signal })
      await stream.close({ signal })
    } catch (err) {
      opts.logger.debug({ protocol, peer: connection.remotePeer.toString(), err: (err as Error).message }, 'request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }, { maxInboundStreams: opts.maxInboundStreams ?? MAX_IN_FLIGHT })
}

/** Stops answering `protocol` (new requests on open channels are then refused). */
export async function unhandleRequests (libp2p: ShoalLibp2p, protocol: string): Promise<void> {
  channelsOf(libp2p).unserve(protocol)
  await libp2p.unhandle(protocol).catch(() => {})
}

/** A peer cannot make us buffer more than one frame: larger frames or unread excess reset the stream. */
function capped (stream: Stream, maxBytes = constants.MAX_FRAME_BYTES): ReturnType<typeof lpStream<Stream>> {
  stream.maxReadBufferLength = maxBytes + 16
  stream.maxWriteBufferLength = maxBytes + 16
  return lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 16 })
}
