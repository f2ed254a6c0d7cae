/**
 * Each node's own status, so any node can draw the whole swarm: the members it is connected to (its
 * neighbours), its load, its event and KV rates and its KV Merkle root. Pulled when someone looks: `statuses()`
 * asks every live member over /shoal/<swarm>/status/1.0.0 (a connection a request had to open is closed after)
 * and reuses the answer for STATUS_CACHE_MS, so an idle swarm spends nothing on status, and a dashboard costs
 * one request per member per refresh, at the node it is open on. (It was gossiped by every node every 3 s:
 * N messages every 3 s, each forwarded to every node, whether anyone looked or not.) Status is ephemeral: it
 * never goes into the KV store or the event log.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection } from '@libp2p/interface'
import type { Clock, Logger, TimerHandle } from '@shoal/core'
import { checked, Type } from '@shoal/core'
import { handleRequests, request, unhandleRequests } from './frames.js'
import type { ShoalLibp2p } from './libp2p.js'

/** Loop-delay sampling: fine enough to see a 50 ms stall; each sample includes it, so it is taken off. */
const LOOP_RESOLUTION_MS = 20
/** The loop-delay monitor stops this long after the last status report (nobody is looking any more). */
const LOOP_MONITOR_IDLE_MS = 60_000
/** A pulled set of statuses is reused this long: several open dashboards cost one round of requests. */
export const STATUS_CACHE_MS = 2000
/** A member that does not answer within this is left out of the answer (it is probably being declared dead). */
export const STATUS_PULL_TIMEOUT_MS = 2000
/** Requests in flight at once, so a 1,000-member swarm does not open 1,000 streams at one instant. */
const STATUS_PULL_CONCURRENCY = 16

export interface NodeStatus {
  peerId: string
  /** ms since the epoch of this report. */
  at: number
  /** Peer ids of live members this node has an open connection to. */
  neighbours: string[]
  load: { eventLoopP99Ms: number, rssBytes: number, runningSubtasks: number }
  /** Per second, since the previous report this node gave. */
  rates: { eventsPerSec: number, kvOpsPerSec: number }
  kvRoot: string
}

export interface StatusReporterComponents {
  clock: Clock
  logger: Logger
  libp2p: ShoalLibp2p
  kv: {
    root: () => string
    operations: () => ReadonlyMap<string, number>
  }
  events: { stats: () => { published: number, received: number } }
  tasks: { runningCount: () => number }
  /** Live members with an open connection. */
  neighbours: () => string[]
  /** Live members other than this node: whom to ask. */
  members: () => string[]
  /** Closes a connection without it reading as a lost member. */
  closeQuietly: (conn: Connection) => Promise<void>
}

export interface StatusReporterInit {
  self: string
  protocol: string
}

interface Counters { at: number, events: number, kvOps: number }

export class StatusReporter {
  private readonly log: Logger
  private running = false
  private last: Counters | undefined
  /** Its own histogram, reset at each report: load now, not since start (the node's own one is cumulative). */
  private loop: ReturnType<typeof monitorEventLoopDelay> | undefined
  private cache: { at: number, statuses: NodeStatus[] } | undefined
  private idleTimer: TimerHandle | undefined
  private pending: Promise<NodeStatus[]> | undefined

  constructor (private readonly components: StatusReporterComponents, private readonly init: StatusReporterInit) {
    this.log = components.logger.child({ component: 'shoal:node:status' })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.last = this.counters()
    await handleRequests(this.components.libp2p, this.init.protocol, async msg => {
      checked(STATUS_REQUEST, msg, 'request')
      return this.snapshot()
    }, { logger: this.log, timeoutMs: STATUS_PULL_TIMEOUT_MS, maxInboundStreams: 8 })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.idleTimer?.cancel()
    this.loop?.disable()
    this.loop = undefined
    await unhandleRequests(this.components.libp2p, this.init.protocol)
  }

  /**
   * The loop-delay histogram runs only while someone is looking: switched on by a report, off again
   * LOOP_MONITOR_IDLE_MS after the last one (its 20 ms timer is a daemon's largest idle cost otherwise). The
   * first report after a quiet spell says 0 ms, since nothing was sampled.
   */
  private watchLoop (): void {
    if (!this.running) return
    if (this.loop === undefined) {
      this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
      this.loop.enable()
    }
    this.idleTimer?.cancel()
    this.idleTimer = this.components.clock.setTimer(() => {
      this.loop?.disable()
      this.loop = undefined
    }, LOOP_MONITOR_IDLE_MS)
  }

  /** The status this node would report now (advances the rate window). */
  snapshot (): NodeStatus {
    const sampled = this.loop
    this.watchLoop()
    const now = this.counters()
    const prev = this.last ?? now
    this.last = now
    const seconds = Math.max(0.001, (now.at - prev.at) / 1000)
    const perSec = (d: number): number => Math.round((Math.max(0, d) / seconds) * 10) / 10
    const c = this.components
    const loop = sampled
    const loopP99 = loop === undefined || loop.count === 0 ? 0 : Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS)
    loop?.reset()
    return {
      peerId: this.init.self,
      at: now.at,
      neighbours: c.neighbours().sort(),
      load: {
        eventLoopP99Ms: Math.round(loopP99 * 10) / 10,
        rssBytes: process.memoryUsage.rss(),
        runningSubtasks: c.tasks.runningCount()
      },
      rates: { eventsPerSec: perSec(now.events - prev.events), kvOpsPerSec: perSec(now.kvOps - prev.kvOps) },
      kvRoot: c.kv.root()
    }
  }

  /**
   * Every live member's status, this node's included, asked now (or within the last STATUS_CACHE_MS). Members
   * that do not answer within STATUS_PULL_TIMEOUT_MS are left out. Never throws.
   */
  async statuses (opts: { signal?: AbortSignal } = {}): Promise<NodeStatus[]> {
    const now = this.components.clock.now()
    if (this.cache !== undefined && now - this.cache.at < STATUS_CACHE_MS) return this.cache.statuses
    this.pending ??= this.pull(opts.signal).finally(() => { this.pending = undefined })
    return await this.pending
  }

  private async pull (outer?: AbortSignal): Promise<NodeStatus[]> {
    const signal = outer === undefined ? AbortSignal.timeout(STATUS_PULL_TIMEOUT_MS) : AbortSignal.any([outer, AbortSignal.timeout(STATUS_PULL_TIMEOUT_MS)])
    const queue = [...this.components.members()]
    const out: NodeStatus[] = [this.snapshot()]
    await Promise.all(Array.from({ length: Math.min(STATUS_PULL_CONCURRENCY, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined && !signal.aborted; id = queue.shift()) {
        const status = await this.ask(id, signal)
        if (status !== undefined) out.push(status)
      }
    }))
    this.cache = { at: this.components.clock.now(), statuses: out }
    return out
  }

  private async ask (id: string, signal: AbortSignal): Promise<NodeStatus | undefined> {
    const { libp2p } = this.components
    const peer = peerIdFromString(id)
    const transient = libp2p.getConnections(peer).length === 0
    try {
      const status = validateStatus(await request(libp2p, peer, this.init.protocol, { v: 1, type: 'status' }, { signal }))
      return status.peerId === id ? status : undefined
    } catch (err) {
      this.log.debug({ peer: id, err: (err as Error).message }, 'status request failed')
      return undefined
    } finally {
      if (transient) for (const conn of libp2p.getConnections(peer)) void this.components.closeQuietly(conn)
    }
  }

  private counters (): Counters {
    const e = this.components.events.stats()
    let kvOps = 0
    for (const n of this.components.kv.operations().values()) kvOps += n
    return { at: this.components.clock.now(), events: e.published + e.received, kvOps }
  }
}

const MAX_NEIGHBOURS = 4096
const strict = { additionalProperties: false } as const
const COUNT = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const RATE = Type.Number({ minimum: 0 })

/** The only request: `{ v: 1, type: 'status' }`. */
const STATUS_REQUEST = Type.Object({ v: Type.Literal(1), type: Type.Literal('status') }, strict)

/** A member's answer: untrusted input like any other message, checked field by field. */
export const NODE_STATUS = Type.Object({
  peerId: Type.String({ minLength: 1, maxLength: 128 }),
  at: COUNT,
  neighbours: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: MAX_NEIGHBOURS }),
  load: Type.Object({ eventLoopP99Ms: RATE, rssBytes: COUNT, runningSubtasks: COUNT }, strict),
  rates: Type.Object({ eventsPerSec: RATE, kvOpsPerSec: RATE }, strict),
  kvRoot: Type.String({ minLength: 1, maxLength: 64 })
}, strict)

export function validateStatus (v: unknown): NodeStatus {
  const o = checked(NODE_STATUS, v, 'status')
  return {
    peerId: o.peerId,
    at: o.at,
    neighbours: o.neighbours.slice(),
    load: { eventLoopP99Ms: o.load.eventLoopP99Ms, rssBytes: o.load.rssBytes, runningSubtasks: o.load.runningSubtasks },
    rates: { eventsPerSec: o.rates.eventsPerSec, kvOpsPerSec: o.rates.kvOpsPerSec },
    kvRoot: o.kvRoot
  }
}
