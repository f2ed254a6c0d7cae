/**
 * Request channels (docs/protocols/channels.md): many request/response exchanges of one Shoal protocol over one
 * long-lived libp2p stream per peer, instead of a new stream per request.
 *
 * Why: on these machines a new stream costs about 3.5 ms of CPU more per exchange than a frame on an open one
 * (yamux SYN, multistream-select, a peer-store merge on both sides, stream objects and timers); SWIM probes,
 * clock samples, digests and anti-entropy rounds paid it several times a second on every node, whatever it had to
 * say (decisions/0014).
 *
 * Wire (`CHANNEL_PROTOCOL`, every frame length-prefixed with an unsigned varint as in decisions/0004):
 * - the opener's first frame is the service's protocol id in UTF-8 (e.g. `/shoal/lab/membership/1.0.0`); the
 *   acceptor's first frame is one byte, 0 = served, 1 = not served (then it closes);
 * - then each request is `u32 id (big-endian) ‖ JSON` from the opener, and each reply `u32 id ‖ u8 status ‖ JSON`
 *   from the acceptor, in any order; status 0 = the handler's answer, 1 = `{ message }` of its failure.
 * The opener may send requests right behind its hello, so a new channel costs no extra round trip.
 *
 * A peer that does not speak CHANNEL_PROTOCOL (an earlier release) gets the one-shot framing of decisions/0004
 * on the service's own id, which every node still serves.
 */
import { encode } from 'it-length-prefixed'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import * as varint from 'uint8-varint'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { constants } from '@shoal/core'
import type { Logger } from '@shoal/core'
import type { ShoalLibp2p } from './libp2p.js'

/** The one protocol id every channel is opened with; the service is named inside (see above). */
export const CHANNEL_PROTOCOL = '/shoal/channel/1.0.0'
/** Channels one connection may open to us: one per service, with room for a reopen racing a close. */
const MAX_INBOUND_CHANNELS = 32
/** Largest frame any service exchanges: an event pull reply is MAX_FRAME_BYTES plus its envelope. */
const CHANNEL_MAX_FRAME_BYTES = constants.MAX_FRAME_BYTES + 128 * 1024
/** Unsent bytes a channel may queue before it is cut off (a peer that stops reading). */
const CHANNEL_MAX_WRITE_BUFFER_BYTES = 4 * CHANNEL_MAX_FRAME_BYTES
/** Longest hello: a protocol id. */
const MAX_HELLO_BYTES = 1024
/** Peers found not to speak CHANNEL_PROTOCOL, remembered so each request does not ask again. */
const MAX_REMEMBERED_LEGACY_PEERS = 1024

const SERVED = 0
const NOT_SERVED = 1
const STATUS_OK = 0
const STATUS_ERROR = 1

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A service's answer to one request, as handleRequests takes it. */
export type ChannelHandler = (message: unknown, from: PeerId, signal: AbortSignal) => Promise<unknown>

export interface ServiceOptions {
  logger: Logger
  /** Deadline for handling one request and writing its reply (ms). */
  timeoutMs: number
  /** Largest request frame of this service (bytes). */
  maxBytes: number
  /** Requests of one channel handled at once; more are answered with a failure (as maxInboundStreams refused streams). */
  maxInFlight: number
}

interface Service {
  protocol: string
  handler: ChannelHandler
  opts: ServiceOptions
}

/** The peer answered a request with a failure (status 1), or does not serve the protocol on its channels. */
export class ChannelRequestError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ChannelRequestError'
  }
}

interface Pending {
  resolve: (reply: unknown) => void
  reject: (err: Error) => void
  maxBytes: number
  onBytes: ByteCounter | undefined
}

/** Told the JSON body sizes of a request as they go out and come back (bytes; headers not counted). */
export type ByteCounter = (sent: number, received: number) => void

/** The opener's side of one channel: one stream to one peer for one service. */
class OutboundChannel {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly lp = new LengthPrefixedDecoder({ maxDataLength: CHANNEL_MAX_FRAME_BYTES, maxBufferSize: CHANNEL_MAX_FRAME_BYTES + 16 })
  private accepted = false
  private closedWith: Error | undefined

  constructor (readonly stream: Stream, protocol: string, private readonly onClosed: () => void) {
    stream.maxWriteBufferLength = CHANNEL_MAX_WRITE_BUFFER_BYTES
    stream.addEventListener('message', evt => { this.onData(evt.data) })
    stream.addEventListener('close', evt => { this.fail(evt.error ?? new Error('channel closed')) })
    stream.addEventListener('remoteCloseWrite', () => { this.fail(new Error('channel closed by peer')); void stream.close().catch(() => {}) })
    stream.send(encode.single(encoder.encode(protocol)))
  }

  get open (): boolean {
    return this.closedWith === undefined
  }

  async request (message: unknown, signal: AbortSignal, maxBytes: number, onBytes?: ByteCounter): Promise<unknown> {
    if (this.closedWith !== undefined) throw this.closedWith
    signal.throwIfAborted()
    const id = this.nextId
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1
    const body = encoder.encode(JSON.stringify(message))
    const frame = new Uint8Array(4 + body.byteLength)
    new DataView(frame.buffer).setUint32(0, id)
    frame.set(body, 4)
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    promise.catch(() => {}) // rejected by a deadline or a close while the send still waits for drain: not unhandled
    const onAbort = (): void => { this.pending.delete(id); reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')) }
    this.pending.set(id, { resolve, reject, maxBytes, onBytes })
    onBytes?.(body.byteLength, 0)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (!this.stream.send(encode.single(frame))) await this.stream.onDrain({ signal })
      return await promise
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.pending.delete(id)
    }
  }

  private onData (data: Uint8Array | Uint8ArrayList): void {
    try {
      for (const frame of this.lp.decode(data)) this.onFrame(frame.subarray())
    } catch (err) {
      this.stream.abort(err as Error)
    }
  }

  private onFrame (bytes: Uint8Array): void {
    if (!this.accepted) {
      if (bytes.byteLength !== 1 || bytes[0] !== SERVED) throw new ChannelRequestError('the peer does not serve this protocol on its channels')
      this.accepted = true
      return
    }
    if (bytes.byteLength < 5) throw new Error('channel reply shorter than its header')
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const waiter = this.pending.get(view.getUint32(0))
    if (waiter === undefined) return // its requester gave up (deadline)
    if (bytes.byteLength - 5 > waiter.maxBytes) { waiter.reject(new Error(`reply of ${bytes.byteLength - 5} bytes exceeds ${waiter.maxBytes}`)); return }
    const status = view.getUint8(4)
    waiter.onBytes?.(0, bytes.byteLength - 5)
    let body: unknown
    try {
      body = JSON.parse(decoder.decode(bytes.subarray(5)))
    } catch (err) {
      waiter.reject(err as Error)
      return
    }
    if (status === STATUS_OK) waiter.resolve(body)
    else waiter.reject(new ChannelRequestError(`peer failed the request: ${String((body as { message?: unknown } | null)?.message)}`))
  }

  private fail (err: Error): void {
    if (this.closedWith !== undefined) return
    this.closedWith = err
    for (const waiter of this.pending.values()) waiter.reject(err)
    this.pending.clear()
    this.onClosed()
  }
}

/** Per libp2p node: its outbound channels, the services it answers, and peers that only speak one-shot. */
class Channels {
  private readonly outbound = new Map<string, Promise<OutboundChannel>>()
  private readonly services = new Map<string, Service>()
  private readonly legacyPeers = new Set<string>()
  private handling: Promise<void> | undefined

  constructor (private readonly libp2p: ShoalLibp2p) {
    // A peer that comes back may have been upgraded: ask it again on its next connection.
    libp2p.addEventListener('peer:disconnect', evt => { this.legacyPeers.delete(evt.detail.toString()) })
  }

  /** Whether `peer` is known not to speak CHANNEL_PROTOCOL (it then gets one-shot streams). */
  isLegacy (peer: PeerId): boolean {
    return this.legacyPeers.has(peer.toString())
  }

  /**
   * Sends one request over the peer's channel for `protocol`, opening it if needed. Resolves with the reply body,
   * or undefined when the peer turned out not to speak channels (the caller then uses one-shot framing).
   * Rejects on the signal, a closed channel or the peer's failure (ChannelRequestError).
   */
  async request (peer: PeerId, protocol: string, message: unknown, signal: AbortSignal, maxBytes: number, onBytes?: ByteCounter): Promise<{ reply: unknown } | undefined> {
    const channel = await this.channel(peer, protocol, signal)
    if (channel === undefined) return undefined
    return { reply: await channel.request(message, signal, maxBytes, onBytes) }
  }

  private async channel (peer: PeerId, protocol: string, signal: AbortSignal): Promise<OutboundChannel | undefined> {
    const key = `${peer.toString()} ${protocol}`
    let opening = this.outbound.get(key)
    if (opening === undefined) {
      opening = this.open(peer, protocol, key, signal)
      this.outbound.set(key, opening)
      opening.catch(() => { if (this.outbound.get(key) === opening) this.outbound.delete(key) })
    }
    try {
      const channel = await opening
      if (channel.open) return channel
      if (this.outbound.get(key) === opening) this.outbound.delete(key)
      return await this.channel(peer, protocol, signal)
    } catch (err) {
      if ((err as Error).name === 'UnsupportedProtocolError') {
        if (this.legacyPeers.size >= MAX_REMEMBERED_LEGACY_PEERS) this.legacyPeers.clear()
        this.legacyPeers.add(peer.toString())
        return undefined
      }
      throw err
    }
  }

  /** Concurrent first requests share this open; it runs under the first one's signal. */
  private async open (peer: PeerId, protocol: string, key: string, signal: AbortSignal): Promise<OutboundChannel> {
    const stream = await this.libp2p.dialProtocol(peer, CHANNEL_PROTOCOL, { signal })
    const channel: OutboundChannel = new OutboundChannel(stream, protocol, () => {
      void this.outbound.get(key)?.then(c => { if (c === channel) this.outbound.delete(key) }, () => {})
    })
    return channel
  }

  /** Answers `protocol` on channels (and registers CHANNEL_PROTOCOL itself on first use). */
  async serve (protocol: string, handler: ChannelHandler, opts: ServiceOptions): Promise<void> {
    this.services.set(protocol, { protocol, handler, opts })
    this.handling ??= this.libp2p.handle(CHANNEL_PROTOCOL, (stream, connection) => { this.accept(stream, connection) }, { maxInboundStreams: MAX_INBOUND_CHANNELS })
    await this.handling
  }

  unserve (protocol: string): void {
    this.services.delete(protocol)
  }

  /** The acceptor's side: the hello names the service, then every request is handled concurrently. */
  private accept (stream: Stream, connection: Connection): void {
    const from = connection.remotePeer
    let service: Service | undefined
    let refused = false
    // One decoder for the channel's life; the cap on the next frame's length is the hello's, then the service's
    // own, checked as each length prefix is read (before its bytes are buffered beyond one chunk).
    let cap = MAX_HELLO_BYTES
    const lp = new LengthPrefixedDecoder({
      maxDataLength: CHANNEL_MAX_FRAME_BYTES,
      maxBufferSize: CHANNEL_MAX_FRAME_BYTES + 16,
      lengthDecoder: buf => {
        const length = varint.decode(buf)
        if (length > cap) throw new Error(`channel frame of ${length} bytes exceeds ${cap}`)
        return length
      }
    })
    let inFlight = 0
    let peerDone = false
    const closeWhenIdle = (): void => {
      if (peerDone && inFlight === 0) void stream.close().catch(err => { stream.abort(err as Error) })
    }
    stream.maxWriteBufferLength = CHANNEL_MAX_WRITE_BUFFER_BYTES
    const reply = (id: number, status: number, body: unknown): void => {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') return
      const json = encoder.encode(JSON.stringify(body))
      const frame = new Uint8Array(5 + json.byteLength)
      const view = new DataView(frame.buffer)
      view.setUint32(0, id)
      view.setUint8(4, status)
      frame.set(json, 5)
      stream.send(encode.single(frame))
    }
    const handle = async (id: number, body: Uint8Array): Promise<void> => {
      const { protocol, handler, opts } = service!
      const signal = AbortSignal.timeout(opts.timeoutMs)
      try {
        const message = JSON.parse(decoder.decode(body))
        reply(id, STATUS_OK, await handler(message, from, signal))
      } catch (err) {
        opts.logger.debug({ protocol, peer: from.toString(), err: (err as Error).message }, 'request failed')
        reply(id, STATUS_ERROR, { message: (err as Error).message })
      } finally {
        inFlight--
        closeWhenIdle()
      }
    }
    const onFrame = (bytes: Uint8Array): void => {
      if (refused) return
      if (service === undefined) {
        const protocol = decoder.decode(bytes)
        service = this.services.get(protocol)
        if (service === undefined) {
          refused = true
          stream.send(encode.single(Uint8Array.of(NOT_SERVED)))
          void stream.close().catch(err => { stream.abort(err as Error) })
          return
        }
        stream.send(encode.single(Uint8Array.of(SERVED)))
        cap = service.opts.maxBytes + 4
        return
      }
      if (bytes.byteLength < 4) throw new Error('channel request shorter than its header')
      const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
      if (this.services.get(service.protocol) !== service) { reply(id, STATUS_ERROR, { message: `${service.protocol} is no longer served` }); return }
      if (inFlight >= service.opts.maxInFlight) { reply(id, STATUS_ERROR, { message: `more than ${service.opts.maxInFlight} requests in flight` }); return }
      inFlight++
      void handle(id, bytes.subarray(4))
    }
    stream.addEventListener('message', evt => {
      try {
        for (const frame of lp.decode(evt.data)) onFrame(frame.subarray())
      } catch (err) {
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => { peerDone = true; closeWhenIdle() })
  }
}

const perNode = new WeakMap<ShoalLibp2p, Channels>()

/** The channels of one libp2p node (created on first use). */
export function channelsOf (libp2p: ShoalLibp2p): Channels {
  let channels = perNode.get(libp2p)
  if (channels === undefined) {
    channels = new Channels(libp2p)
    perNode.set(libp2p, channels)
  }
  return channels
}
