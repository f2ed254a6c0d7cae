/**
 * Builds the libp2p node: TCP + Noise + Yamux, identify, ping, a swarm-scoped Kademlia DHT that works on
 * loopback and LANs, gossipsub on the gossip wire of protocols.ts (unsigned, content message ids), and pnet protection when a swarm key is set.
 */
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { dnsOptions } from './dns.js'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { memory } from '@libp2p/memory'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { preSharedKey } from '@libp2p/pnet'
import { mdns } from '@libp2p/mdns'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Registry } from 'prom-client'
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface'
import type { ShoalConfig } from '@shoal/core'
import type { DenyList } from './gater.js'
import { GOSSIP_WIRE, mdnsServiceName } from './protocols.js'
import type { SwarmProtocols } from './protocols.js'
import { cachedSigningKey } from './events/signing.js'

// A type alias, not an interface: libp2p's ServiceMap needs an implicit index signature.
export type ShoalServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  /** mDNS discovery on the LAN (config `mdns`); its 'peer' events are what DiscoveryService dials. */
  mdns?: PeerDiscovery
}

export type ShoalLibp2p = Libp2p<ShoalServices>

export interface Libp2pInit {
  privateKey: PrivateKey
  config: ShoalConfig
  protocols: SwarmProtocols
  denyList: DenyList
  /** pnet key bytes when the swarm is private. */
  swarmKey?: Uint8Array
  /** 'memory' runs many nodes in one process for fast tests; addresses are then /memory/<name>. */
  transport?: 'tcp' | 'memory'
  /** Topics whose rejected messages lower the sender's score. */
  topics: string[]
  /** The largest gossip message any topic accepts (gossipsub drops bigger frames before validation). */
  maxGossipMessageBytes?: number
  /** Puts libp2p's metrics (connections, streams, DHT, gossipsub) in this registry; one node per process only. */
  metrics?: Registry
  /**
   * Gossip with gossipsub's own signature (StrictSign, the library's default and Shoal's gossip wire 1) instead
   * of this release's wire (protocols.ts GOSSIP_WIRE). Only for baselines and tests of the previous wire: such a
   * node shares no gossip with a daemon.
   */
  signedGossip?: boolean
}

/**
 * How often an mDNS node asks the LAN for members (@libp2p/mdns's default); it asks once at start too, and answers
 * every query it hears, so a node that starts later is found at its own start, not a period later.
 */
const MDNS_QUERY_INTERVAL_MS = 10_000

/**
 * How often libp2p's connection monitor pings each open connection (a new stream, multistream-select, 32 bytes each
 * way, from both ends), aborting a connection whose ping fails. libp2p's default is 10 s. Shoal's failure detector
 * is SWIM (a probe a second; a suspect member is dead 3 s later), so the monitor is left only to reap connections
 * that died without a FIN or RST; 30 s does that, at a third of the cost: the 10 s pings were about 3 ms of CPU a
 * second per daemon in an idle 10-daemon swarm, a fifth of its idle cost (docs/decisions/0020).
 */
const CONNECTION_PING_INTERVAL_MS = 30_000

/**
 * yamux's own keep-alive (a PING frame on every connection every 30 s from both ends, @chainsafe/libp2p-yamux's
 * default) is off: it aborts nothing when unanswered (it only measures an RTT Shoal does not read), and the
 * connection monitor above already pings every connection (docs/decisions/0023).
 */
const YAMUX_KEEP_ALIVE = false

/** Gossipsub queues at most this much per peer before it drops the peer, instead of growing without bound. */
const GOSSIP_OUTBOUND_BUFFER_BYTES = 8 * 1024 * 1024
/** gossipsub's idontwantMinDataSize, in bytes of message data (see buildLibp2p). */
const GOSSIP_IDONTWANT_MIN_BYTES = 16 * 1024
/** Room around an event's payload in its gossip envelope (fields, escaping of ordinary text). */
export const EVENT_ENVELOPE_OVERHEAD_BYTES = 8 * 1024

export async function buildLibp2p (init: Libp2pInit): Promise<ShoalLibp2p> {
  const { config } = init
  const names = dnsOptions(config.dnsServers)
  return await createLibp2p<ShoalServices>({
    ...(names.dns !== undefined ? { dns: names.dns } : {}),
    privateKey: cachedSigningKey(init.privateKey),
    addresses: { listen: config.listen },
    // Only TCP (or memory for tests): pnet does not protect WebRTC or WebTransport, so a private swarm must
    // never enable them.
    transports: [init.transport === 'memory' ? memory() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: YAMUX_KEEP_ALIVE })],
    ...(init.swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: init.swarmKey }) } : {}),
    connectionGater: init.denyList.gater(),
    // Node's default metrics are the registry owner's to collect; registering them twice would throw.
    ...(init.metrics !== undefined ? { metrics: prometheusMetrics({ registry: init.metrics, collectDefaultMetrics: false }) } : {}),
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
    connectionManager: {
      maxConnections: config.connections.maxConnections,
      inboundConnectionThreshold: config.connections.inboundPerSecondPerHost,
      maxIncomingPendingConnections: config.connections.maxIncomingPending,
      // Room for discovery's seed dials (discovery.ts SEED_DIAL_TIMEOUT_MS): a bootstrap node that every joining
      // node dials at once answers slowly, and libp2p's 10 s / 6 s per address / 10 s inbound cut every handshake
      // short. Each caller still passes its own, shorter, deadline for ordinary dials.
      dialTimeout: 15_000,
      addressDialTimeout: 15_000,
      inboundUpgradeTimeout: 15_000,
      ...(names.resolvers !== undefined ? { resolvers: names.resolvers } : {})
    },
    services: {
      identify: identify(),
      // kad-dht and the connection monitor ping too; one outbound ping stream per peer (the default) collides.
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: init.protocols.dht,
        // Server mode from the start: kad-dht otherwise waits for a public address that a LAN or loopback
        // swarm never has, and answers no queries.
        clientMode: false,
        // Keep private (LAN, loopback) addresses in what we store and share; the default mapper strips them.
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
        initialQuerySelfInterval: 500
      }),
      pubsub: gossipsub({
        // Unsigned: each payload that needs an author is signed by it inside the envelope (events), so gossipsub's
        // own signature was a second Ed25519 sign per publish and verify per receiver (decisions/0010). The
        // message id is the SHA-256 of the bytes: a copy altered in flight has another id, so it can never
        // shadow the real message in the seen-cache, and duplicates are dropped before any validation.
        ...((init.signedGossip ?? GOSSIP_WIRE.signed)
          ? { globalSignaturePolicy: 'StrictSign' as const, fastMsgIdFn: fastMessageId }
          : { globalSignaturePolicy: 'StrictNoSign' as const, msgIdFn: contentMessageId }),
        // With content ids, publishing bytes the router has already seen is a no-op, not an error: the same
        // message is already out (two identical membership updates sent within one millisecond).
        ignoreDuplicatePublishError: true,
        // IDONTWANT (gossipsub v1.2) only for messages of 16 KiB and more (the default is 512 B). Below that the control
        // frame to every mesh peer costs about what the duplicate it may save does (a frame to encrypt, write and
        // decrypt), and on a fast link it mostly arrives after the duplicate anyway: it was 15 % of a 5-daemon
        // swarm's socket writes while running jobs, for messages of about 1 KiB.
        idontwantMinDataSize: GOSSIP_IDONTWANT_MIN_BYTES,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // The largest envelope any topic accepts (events carry their own, larger limit), plus framing.
        maxInboundDataLength: Math.max(config.gossip.maxMessageBytes, init.maxGossipMessageBytes ?? 0) + 1024,
        maxOutboundBufferSize: GOSSIP_OUTBOUND_BUFFER_BYTES,
        scoreParams: gossipScoreParams(init.topics),
        scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 }
      }),
      ...(config.mdns && init.transport !== 'memory' ? { mdns: mdns({ serviceTag: mdnsServiceName(config.swarm), interval: MDNS_QUERY_INTERVAL_MS }) } : {})
    }
  })
}

/**
 * Without per-topic score params a validator's Reject drops the message but costs the sender nothing. Every
 * peer shares 127.0.0.1 on a loopback swarm, so the same-IP penalty (P6) is off.
 */
function gossipScoreParams (topics: string[]): Record<string, unknown> {
  const topicParams = {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 10,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 10,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    // Each rejected message costs 10 points (squared counter), decaying by 10% a heartbeat.
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9
  }
  return { IPColocationFactorWeight: 0, topics: Object.fromEntries(topics.map(t => [t, topicParams])) }
}

/**
 * The message id of the unsigned gossip wire: SHA-256 of the message bytes (what gossipsub's own StrictNoSign
 * default computes, synchronously through node:crypto instead of an async multihash). 32 bytes; about 2 µs for
 * a 1 KiB event envelope, paid once per copy received, before the seen-cache check.
 */
export function contentMessageId (msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest()
}

/**
 * The signed wire's (GOSSIP_WIRE 1) fast id: what gossipsub's StrictSign message id is made of (publisher and seqno), as a string, computed from the raw
 * message before its signature is checked. Only messages that passed validation enter the cache it keys, so a
 * forged copy cannot shadow the real one; a message without those fields fails validation as before.
 */
export function fastMessageId (msg: { from?: Uint8Array, seqno?: Uint8Array }): string {
  return `${msg.from === undefined ? '' : Buffer.from(msg.from).toString('base64')}/${msg.seqno === undefined ? '' : Buffer.from(msg.seqno).toString('base64')}`
}
