/**
 * The composition root: one libp2p node plus the services that drive core's state machines over it.
 * Everything it needs is passed in (config, identity, clock, rng, logger), so tests can run many in one process.
 */
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { HybridClock, ShoalError, InvalidInputError, TimeoutError, UnavailableError, constants } from '@shoal/core'
import type { Clock, Logger, Member, Rng, ShoalConfig } from '@shoal/core'
import { openStore, EventLog, KvRepository, PeerRepository } from '@shoal/store'
import type { Store } from '@shoal/store'
import { buildLibp2p } from './libp2p.js'
import type { ShoalLibp2p } from './libp2p.js'
import { DenyList } from './gater.js'
import { EventBus } from './events.js'
import { GossipService } from './gossip.js'
import { MembershipService } from './membership-service.js'
import { DiscoveryService } from './discovery.js'
import { swarmProtocols } from './protocols.js'
import { VERSION } from './version.js'
import { EventService, encodedEventLimit, maxPayloadLimit } from './events/event-service.js'
import { KvService } from './kv/kv-service.js'
import { TaskService } from './tasks/task-service.js'
import { ResultStream } from './tasks/result-stream.js'
import { StatusReporter } from './status-reporter.js'
import { RepeatingTasks, SerialQueue } from './tasks.js'
import { MEMBER_MEMORY_REFRESH_MS, MemberMemory } from './member-memory.js'
import { ClockSync } from './clock-sync.js'
import { SeqReservation } from './events/seq-reservation.js'
import { ed25519Backend } from './events/ed25519.js'
import type { NodeStatus } from './status-reporter.js'
import { createHandlerRegistry } from './tasks/handlers/index.js'
import { LOOP_SAMPLE_MS, createMetrics, instrumentNode } from './metrics.js'
import { createTracing } from './tracing.js'
import type { Tracing } from './tracing.js'
import type { Registry } from './metrics.js'
import { availableParallelism } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { KV_TOPIC, handlerCapability, kvPayloadLimit } from '@shoal/core'

export interface ShoalNodeComponents {
  clock: Clock
  rng: Rng
  logger: Logger
}

export interface ShoalNodeInit {
  config: ShoalConfig
  privateKey: PrivateKey
  swarmKey?: Uint8Array
  transport?: 'tcp' | 'memory'
  /** Capabilities advertised to the swarm (handlers this node runs, later). */
  capabilities?: string[]
  /**
   * Also put libp2p's own metrics in `metrics`. @libp2p/prometheus-metrics keeps one process-wide table of
   * metric names, so only a process with a single node (the daemon) should turn this on.
   */
  libp2pMetrics?: boolean
  /**
   * Fault injection for tests: wraps the opened store (e.g. to fail or record batches). The daemon never sets it.
   */
  wrapStore?: (store: Store) => Store
}

export interface NodeInfo {
  peerId: string
  addresses: string[]
  swarm: string
  private: boolean
  version: string
  startedAt: number
  uptimeMs: number
  /** 'server' answers DHT queries; a LAN or loopback swarm needs it (kad-dht defaults to client there). */
  dht: { mode: 'client' | 'server', routingTableSize: number }
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
  direction: string
  /** Whether the peer is a live (alive or suspect) member in this node's view, not just a libp2p peer. */
  member: boolean
}

export interface ShoalNode {
  readonly peerId: string
  /** Typed in-process events ('member:changed', 'event:delivered', ...). */
  readonly bus: EventBus
  /** Reliable event gossip: publish, list, follow, stats. */
  readonly events: EventService
  /** The replicated key-value store. */
  readonly kv: KvService
  /** Distributed jobs. */
  readonly tasks: TaskService
  readonly libp2p: ShoalLibp2p
  /** This node's Prometheus registry (`await metrics.metrics()` is the text format). */
  readonly metrics: Registry
  /** This node's tracer (a no-op one unless `tracing.endpoint` is set); the RPC server's spans start here. */
  readonly tracing: Tracing
  /** The resolved configuration this node runs with. */
  readonly config: ShoalConfig
  info(): NodeInfo
  /** Event-loop delay sampled since start (ms): what `shoal doctor` reads. */
  eventLoopDelay(): { p99Ms: number, maxMs: number }
  peers(): PeerInfo[]
  members(): Member[]
  /** Every live node's status (neighbours, load, rates, KV root), this one included, asked now (cached 2 s). */
  statuses(opts?: { signal?: AbortSignal }): Promise<NodeStatus[]>
  connect(addr: string, opts?: { signal?: AbortSignal }): Promise<{ peerId: string }>
  /** Fault injection (debug only): refuse these peers, closing any open connections to them. */
  partition(deny: string[]): Promise<string[]>
  /** Peer ids currently refused. */
  denied(): string[]
  /** This node's clock offset from the swarm's median (ms, positive = ahead), the peers it rests on, and the limit. */
  clockSkew(): { offsetMs: number, peers: number, limitMs: number }
  stop(): Promise<void>
}

export async function createShoalNode (components: ShoalNodeComponents, init: ShoalNodeInit): Promise<ShoalNode> {
  const { config } = init
  const { clock } = components
  const logger = components.logger
  const protocols = swarmProtocols(config.swarm)
  const denyList = new DenyList(config.deny)
  // Handlers first: the ones this node runs are its capabilities, announced with its membership, with how
  // many subtasks it runs at once (the scheduler decides on its own free slots; peers see the capacity).
  const slots = config.tasks.slots > 0 ? config.tasks.slots : availableParallelism()
  const handlers = await createHandlerRegistry({
    modules: config.tasks.modules,
    exec: config.tasks.exec,
    poolSize: slots,
    logger: logger.child({ component: 'shoal:node:handlers' })
  })
  const opened: Store = await openStore(join(config.dataDir, 'db')).catch(async err => { await handlers.close(); throw err })
  const store = init.wrapStore === undefined ? opened : init.wrapStore(opened)
  const eventLog = await EventLog.open(store)
  const kvRepo = await KvRepository.open(store)
  // KV writes travel as events on topic `kv`, whose values may be far larger than ordinary events.
  const topicLimits: Record<string, number> = { [KV_TOPIC]: kvPayloadLimit({ maxKeyBytes: config.kv.maxKeyBytes, maxValueBytes: config.kv.maxValueBytes }) }
  const metrics = createMetrics()
  let libp2p: ShoalLibp2p
  try {
    libp2p = await buildLibp2p({
      privateKey: init.privateKey,
      config,
      protocols,
      denyList,
      swarmKey: init.swarmKey,
      transport: init.transport,
      topics: [protocols.topics.membership, protocols.topics.events],
      maxGossipMessageBytes: encodedEventLimit(maxPayloadLimit(config.events, topicLimits)) + 1024,
      ...(init.libp2pMetrics === true ? { metrics } : {})
    })
  } catch (err) {
    await store.close()
    await handlers.close()
    throw new ShoalError('ERR_START_FAILED', `could not start libp2p: ${(err as Error).message}`)
  }
  // Per node, never global: spans carry this node's peer id as service.instance.id.
  const tracing = createTracing({ config: config.tracing, peerId: libp2p.peerId.toString() })
  const events = new EventBus()
  const gossip = new GossipService({ libp2p, clock, logger: logger.child({ component: 'shoal:node:gossip' }), events }, { maxMessageBytes: config.gossip.maxMessageBytes })
  const addresses = (): string[] => libp2p.getMultiaddrs().map(a => a.toString())
  const membership = new MembershipService({ libp2p, clock, rng: components.rng, logger, events, gossip }, {
    timings: config.membership,
    protocols,
    scoped: config.connections.degree > 0,
    meta: { addrs: addresses(), version: VERSION, capabilities: [...(init.capabilities ?? []), ...handlers.names().map(handlerCapability), `slots:${slots}`] }
  })
  const knownPeers = new PeerRepository(store)
  const discovery = new DiscoveryService({ libp2p, clock, rng: components.rng, logger, peers: knownPeers, membership }, {
    bootstrap: config.bootstrap,
    protocols,
    degree: config.connections.degree
  })
  // One hybrid clock and one write queue for both stores: every stored version moves the clock, and a delivery
  // with what it changes in the KV replica is one atomic batch.
  const hlc = await restoreClock(libp2p.peerId.toString(), config.events.maxClockDriftMs, eventLog, kvRepo)
  const writes = new SerialQueue()
  const clockSync = new ClockSync({ libp2p, clock, rng: components.rng, logger, membership, events, hlc }, { protocol: protocols.time, maxDriftMs: config.events.maxClockDriftMs })
  const reservation = await SeqReservation.open(config.dataDir)
  // Beside db/, so a node whose store was lost still counts the members it last knew toward quorum.
  const memberMemory = await MemberMemory.open(config.dataDir, libp2p.peerId.toString(), clock)
  const eventService = new EventService({ libp2p, clock, rng: components.rng, logger, events, gossip, membership, log: eventLog, privateKey: init.privateKey, hlc, writes, clockGuard: () => { clockSync.guard() }, reservation, tracing }, {
    protocols,
    freshLog: store.created,
    // A restored identity waits to hear from a peer when it can expect one (read only for a restored identity).
    peersExpected: reservation.mustLearn && (config.bootstrap.length > 0 || config.mdns || memberMemory.list().length > 0 || (await knownPeers.list()).length > 0),
    config: config.events,
    topicLimits
  })
  const rememberedPeers = async (): Promise<Array<{ peerId: string, lastSeen: number }>> => [...await knownPeers.list(), ...memberMemory.list()]
  const kv = new KvService({ libp2p, clock, rng: components.rng, logger, events, eventService, membership, repo: kvRepo, hlc, writes, tracing, rememberedPeers }, {
    protocols, config: config.kv, rememberMs: config.membership.deadMemberRetentionMs
  })
  const results = new ResultStream({ libp2p, logger }, { protocol: protocols.taskResults })
  const tasks = new TaskService({ clock, logger, events, kv, membership, handlers, tracing, results, self: libp2p.peerId.toString() }, {
    config: { ...config.tasks, slots }
  })
  const detachMetrics = instrumentNode(metrics, { bus: events, members: () => membership.members(), localHealth: () => membership.localHealth(), events: eventService, kv, tasks })
  const startedAt = clock.now()
  // Each sample is the whole interval between two timer ticks, so the resolution is taken off what we report.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  loopDelay.enable()
  const lagMs = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS)
  gossip.start()
  await membership.start()
  await clockSync.start()
  await eventService.start()
  await kv.start()
  await tasks.start()
  discovery.start()
  const noteMembers = (): void => { memberMemory.note(membership.members(), clock.now()) }
  const stopNotingMembers = events.on('member:changed', noteMembers)
  const memberRefresh = new RepeatingTasks(clock, logger)
  memberRefresh.every(MEMBER_MEMORY_REFRESH_MS, async () => { noteMembers() })
  logger.info({ peerId: libp2p.peerId.toString(), addresses: addresses(), swarm: config.swarm, private: init.swarmKey !== undefined, ed25519: ed25519Backend }, 'node started')

  let stopping: Promise<void> | undefined
  const memberIds = (): Set<string> => new Set(membership.members().filter(m => m.state === 'alive' || m.state === 'suspect').map(m => m.id))
  // Started last (it reads every service), stopped first.
  const status = new StatusReporter({
    clock,
    logger,
    libp2p,
    kv,
    events: eventService,
    tasks,
    neighbours: () => { const live = memberIds(); return [...new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))].filter(id => live.has(id)) },
    members: () => { const self = libp2p.peerId.toString(); return [...memberIds()].filter(id => id !== self) },
    closeQuietly: async conn => { await membership.closeQuietly(conn) }
  }, { self: libp2p.peerId.toString(), protocol: protocols.status })
  await status.start()

  return {
    peerId: libp2p.peerId.toString(),
    bus: events,
    events: eventService,
    kv,
    tasks,
    libp2p,
    metrics,
    tracing,
    config,
    eventLoopDelay: () => loopDelay.count === 0 ? { p99Ms: 0, maxMs: 0 } : { p99Ms: lagMs(loopDelay.percentile(99)), maxMs: lagMs(loopDelay.max) },
    info: () => ({
      peerId: libp2p.peerId.toString(),
      addresses: addresses(),
      swarm: config.swarm,
      private: init.swarmKey !== undefined,
      version: VERSION,
      startedAt,
      uptimeMs: clock.now() - startedAt,
      dht: {
        mode: libp2p.services.dht.getMode(),
        // routingTable exists on the single-DHT implementation but is not on the KadDHT type.
        routingTableSize: (libp2p.services.dht as unknown as { routingTable?: { size: number } }).routingTable?.size ?? 0
      }
    }),
    peers: () => {
      const members = memberIds()
      const seen = new Map<string, PeerInfo>()
      for (const c of libp2p.getConnections()) {
        const id = c.remotePeer.toString()
        const entry = seen.get(id) ?? { peerId: id, addresses: [], direction: c.direction, member: members.has(id) }
        entry.addresses.push(c.remoteAddr.toString())
        seen.set(id, entry)
      }
      return [...seen.values()]
    },
    members: () => membership.members(),
    statuses: async opts => await status.statuses(opts),
    async connect (addr, opts) {
      let ma
      try {
        ma = multiaddr(addr)
      } catch (err) {
        throw new InvalidInputError(`not a multiaddr: ${(err as Error).message}`, { field: 'addr' })
      }
      const signal = opts?.signal ?? AbortSignal.timeout(constants.DEFAULT_NETWORK_TIMEOUT_MS)
      try {
        const conn = await libp2p.dial(ma, { signal })
        return { peerId: conn.remotePeer.toString() }
      } catch (err) {
        if (signal.aborted) throw new TimeoutError(`dialling ${addr} timed out`, { addr })
        throw new UnavailableError(`could not connect to ${addr}: ${(err as Error).message}`, { addr })
      }
    },
    async partition (deny) {
      denyList.set(deny)
      await Promise.allSettled(deny.map(async id => {
        for (const c of libp2p.getConnections()) if (c.remotePeer.toString() === id) await c.close()
      }))
      return denyList.list()
    },
    denied: () => denyList.list(),
    clockSkew: () => clockSync.status(),
    async stop () {
      stopping ??= (async () => {
        await status.stop()
        stopNotingMembers()
        memberRefresh.stop()
        await memberMemory.flush()
        loopDelay.disable()
        discovery.stop()
        detachMetrics()
        await tasks.stop()
        await handlers.close()
        await kv.stop()
        await eventService.stop()
        await clockSync.stop()
        await membership.stop()
        gossip.stop()
        await libp2p.stop()
        // A clean stop: the next start continues the LSNs and change numbers where they are (EventLog.close,
        // KvRepository.close).
        await eventLog.close().catch(err => { logger.warn({ err: (err as Error).message }, 'could not record a clean stop of the event log') })
        await kvRepo.close().catch(err => { logger.warn({ err: (err as Error).message }, 'could not record a clean stop of the KV replica') })
        await store.close()
        // Last: the spans of everything above are exported before the node reports itself stopped.
        await tracing.shutdown()
        logger.info('node stopped')
      })()
      await stopping
    }
  }
}

/**
 * The node's hybrid clock after a restart: above its own last event and above every KV version it ever stored
 * (the replica keeps that high-water mark across overwrites, tombstone collection and event compaction), so no
 * write made now can lose to something this node had already seen.
 */
async function restoreClock (self: string, maxDriftMs: number, log: EventLog, repo: KvRepository): Promise<HybridClock> {
  const hlc = new HybridClock({ node: self, maxDriftMs })
  const head = log.head(self)
  const last = head > 0 ? await log.get(self, head) : undefined
  if (last !== undefined) hlc.observe(last.hlc)
  const highest = repo.highestVersion()
  if (highest !== undefined) hlc.observe(highest)
  return hlc
}
