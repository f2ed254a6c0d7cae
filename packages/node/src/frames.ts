/**
 * Request/response over our own stream protocols: one length-prefixed JSON frame each way, with a hard cap
 * on frame size (a peer that sends more is cut off) and a deadline on every step.
 */
import { lpStream } from '@libp2p/utils'
import type { PeerId, Stream, Connection } from '@libp2p/interface'
import { constants } from '@shoal/core'
import type { Logger } from '@shoal/core'
import type { ShoalLibp2p } from './libp2p.js'

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
}

export async function request (libp2p: ShoalLibp2p, peer: PeerId, protocol: string, message: unknown, opts: RequestOptions): Promise<unknown> {
  const stream = await libp2p.dialProtocol(peer, protocol, { signal: opts.signal })
  try {
    const lp = capped(stream, opts.maxBytes)
    await lp.write(encodeFrame(message), { signal: opts.signal })
    const reply = await lp.read({ signal: opts.signal })
    await stream.close({ signal: opts.signal })
    return decodeFrame(reply.subarray())
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

export type RequestHandler = (message: unknown, from: PeerId, signal: AbortSignal) => Promise<unknown>

export interface HandleOptions {
  logger: Logger
  /** Deadline for reading the request, handling it and writing the reply. */
  timeoutMs: number
  maxBytes?: number
  maxInboundStreams?: number
}

export async function handleRequests (libp2p: ShoalLibp2p, protocol: string, handler: RequestHandler, opts: HandleOptions): Promise<void> {
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
  }, { maxInboundStreams: opts.maxInboundStreams ?? 64 })
}

/** A peer cannot make us buffer more than one frame: larger frames or unread excess reset the stream. */
function capped (stream: Stream, maxBytes = constants.MAX_FRAME_BYTES): ReturnType<typeof lpStream<Stream>> {
  stream.maxReadBufferLength = maxBytes + 16
  stream.maxWriteBufferLength = maxBytes + 16
  return lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 16 })
}
