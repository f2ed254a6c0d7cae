/**
 * Gossip topics with a validator each: every message is decoded through the versioned envelope codec before
 * gossipsub forwards it; a bad one is rejected (lowering the sender's score), counted by reason, and never
 * reaches a handler.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipsubMessage, Message } from '@libp2p/gossipsub'
import { EnvelopeCodec } from '@shoal/core'
import type { Clock, Envelope, Logger, PayloadValidator, RejectReason } from '@shoal/core'
import { gossipMismatch } from './compat.js'
import type { GossipMismatch } from './compat.js'
import type { EventBus } from './events.js'
import type { ShoalLibp2p } from './libp2p.js'

/**
 * Check verdicts that say nothing against the peer that forwarded the message: an event dated too far ahead
 * of OUR clock ('future') may be fine by the forwarder's. Gossipsub ignores these instead of rejecting them.
 */
export const NOT_THE_SENDERS_FAULT: ReadonlySet<string> = new Set(['future'])

/**
 * What a handler gets: the validated envelope and the peer that forwarded it to us. Gossip is unsigned at the
 * gossipsub layer (protocols.ts GOSSIP_WIRE), so no publisher is named: a payload that needs an author carries
 * its own signature (events), and a handler trusts nothing else about who wrote it.
 */
export type GossipHandler<T> = (envelope: Envelope<T>, via: string) => void

/**
 * A deeper check after decoding (signatures, clocks), given the forwarding peer; returns a reject reason, or
 * undefined to accept.
 */
export type GossipCheck<T> = (envelope: Envelope<T>, via: string) => Promise<string | undefined> | string | undefined

export interface RegisterOptions<T> {
  check?: GossipCheck<T>
  /** Envelope size limit for this topic (default: the service's maxMessageBytes). */
  maxBytes?: number
}

export interface GossipComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  logger: Logger
  events: EventBus
}

export interface GossipInit {
  maxMessageBytes: number
}

interface TopicEntry {
  codec: EnvelopeCodec<unknown>
  handler: GossipHandler<unknown>
  /** Decoded by the validator, handed to the handler by the 'message' event (keyed by message). */
  decoded: WeakMap<Message, Envelope<unknown>>
}

/** Peers already warned about another gossip wire; past this many the set starts over (bounds memory). */
const MAX_REPORTED_WIRES = 1024

export class GossipService {
  private readonly topics = new Map<string, TopicEntry>()
  private readonly rejected = new Map<string, number>()
  private readonly reportedWire = new Set<string>()
  private readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => { this.deliver(evt.detail.msg, evt.detail.propagationSource.toString()) }
  private readonly onSubscriptions = (evt: CustomEvent<{ peerId: { toString: () => string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    const ours = [...this.topics.keys()]
    const peer = evt.detail.peerId.toString()
    const pubsub = this.components.libp2p.services.pubsub
    const mismatched = evt.detail.subscriptions.flatMap(s => {
      const m = s.subscribe ? gossipMismatch(ours, s.topic) : undefined
      // A peer that also takes our version of the topic (a release moving between wires) does gossip with us.
      if (m === undefined || pubsub.getSubscribers(`${m.topic}/${m.ours}`).some(p => p.toString() === peer)) return []
      return [m]
    })
    if (mismatched.length > 0) this.reportWire(peer, mismatched)
  }

  constructor (private readonly components: GossipComponents, private readonly init: GossipInit) {}

  /** Subscribes to `topic`; messages of the given types reach `handler` only after validation. */
  register<T> (topic: string, validators: Record<string, PayloadValidator<T>>, handler: GossipHandler<T>, opts: RegisterOptions<T> = {}): void {
    const codec = new EnvelopeCodec<unknown>({ maxBytes: opts.maxBytes ?? this.init.maxMessageBytes, validators })
    const check = opts.check as GossipCheck<unknown> | undefined
    const entry: TopicEntry = { codec, handler: handler as GossipHandler<unknown>, decoded: new WeakMap() }
    this.topics.set(topic, entry)
    const pubsub = this.components.libp2p.services.pubsub
    pubsub.topicValidators.set(topic, async (peer, msg) => {
      const result = codec.decode(msg.data)
      if (!result.ok) {
        this.countReject(topic, peer.toString(), result.reason, result.detail)
        return TopicValidatorResult.Reject
      }
      const reason = check === undefined ? undefined : await check(result.envelope, peer.toString())
      if (reason !== undefined) {
        this.countReject(topic, peer.toString(), reason, 'failed the topic check')
        // Not the forwarder's fault (an honest peer whose clock is ahead of ours passes it on): drop it without
        // lowering that peer's score.
        return NOT_THE_SENDERS_FAULT.has(reason) ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
      }
      entry.decoded.set(msg, result.envelope)
      return TopicValidatorResult.Accept
    })
    pubsub.subscribe(topic)
  }

  start (): void {
    this.components.libp2p.services.pubsub.addEventListener('gossipsub:message', this.onMessage)
    this.components.libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptions)
  }

  stop (): void {
    this.components.libp2p.services.pubsub.removeEventListener('gossipsub:message', this.onMessage)
    this.components.libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptions)
  }

  async publish<T> (topic: string, type: string, payload: T): Promise<number> {
    const entry = this.topics.get(topic)
    if (entry === undefined) throw new Error(`topic ${topic} is not registered`)
    const bytes = entry.codec.encode(type, payload, this.components.clock.now())
    const result = await this.components.libp2p.services.pubsub.publish(topic, bytes)
    return result.recipients.length
  }

  /** Rejected messages by reason since start. */
  rejections (): Record<string, number> {
    return Object.fromEntries(this.rejected)
  }

  private deliver (msg: Message, via: string): void {
    const entry = this.topics.get(msg.topic)
    if (entry === undefined) return
    const envelope = entry.decoded.get(msg) ?? decodeOrUndefined(entry.codec, msg.data)
    if (envelope === undefined) return
    try {
      entry.handler(envelope, via)
    } catch (err) {
      this.components.logger.warn({ topic: msg.topic, err: (err as Error).message }, 'gossip handler failed')
    }
  }

  /**
   * Once per peer: it gossips our topics on another wire (a release before or after decisions/0010), so no gossip
   * passes between us; events and KV records still do, by repair and anti-entropy over streams.
   */
  private reportWire (peer: string, mismatched: GossipMismatch[]): void {
    if (this.reportedWire.has(peer)) return
    if (this.reportedWire.size >= MAX_REPORTED_WIRES) this.reportedWire.clear()
    this.reportedWire.add(peer)
    const theirs = [...new Set(mismatched.map(m => m.theirs))].join('/')
    const ours = mismatched[0]?.ours ?? ''
    this.components.logger.warn({ peer, gossip: mismatched }, `peer gossips on wire ${theirs}; this node gossips on wire ${ours}: no gossip between them, events and KV records reach each other by repair and anti-entropy only (upgrade the older side; docs/protocols/README.md#versions)`)
  }

  private countReject (topic: string, from: string, reason: RejectReason | string, detail: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1)
    this.components.logger.debug({ topic, from, reason, detail }, 'gossip message rejected')
    this.components.events.emit('gossip:rejected', { topic, from, reason })
  }
}

function decodeOrUndefined (codec: EnvelopeCodec<unknown>, data: Uint8Array): Envelope<unknown> | undefined {
  const r = codec.decode(data)
  return r.ok ? r.envelope : undefined
}
