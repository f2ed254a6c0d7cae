/**
 * Each node's own status, so any node can draw the whole swarm: every STATUS_INTERVAL_MS it gossips the
 * members it is connected to (its neighbours), its load, its event and KV rates and its KV Merkle root on the
 * swarm's status topic, and keeps the latest report of every node in memory. Status is ephemeral: it goes
 * on gossip, not into the KV store or the event log, so it never changes the user's data or its convergence.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Clock, Logger } from '@shoal/core'
import { checked, Type } from '@shoal/core'
import { RepeatingTasks } from './tasks.js'
import type { GossipService } from './gossip.js'

/** Often enough for a live map, rare enough to cost one small write every few seconds per node. */
export const STATUS_INTERVAL_MS = 3000
/** Loop-delay sampling: fine enough to see a 50 ms stall; each sample includes it, so it is taken off. */
const LOOP_RESOLUTION_MS = 20
const STATUS_TYPE = 'node.status'
/** Reports older than this are dropped from memory (a node that left stops reporting). */
const STATUS_TTL_MS = 60_000

export interface NodeStatus {
  peerId: string
  /** ms since the epoch of this report. */
  at: number
  /** Peer ids of live members this node has an open connection to. */
  neighbours: string[]
  load: { eventLoopP99Ms: number, rssBytes: number, runningSubtasks: number }
  /** Per second, over the last interval. */
  rates: { eventsPerSec: number, kvOpsPerSec: number }
  kvRoot: string
}

export interface StatusReporterComponents {
  clock: Clock
  logger: Logger
  gossip: GossipService
  kv: {
    root: () => string
    operations: () => ReadonlyMap<string, number>
  }
  events: { stats: () => { published: number, received: number } }
  tasks: { runningCount: () => number }
  /** Live members with an open connection. */
  neighbours: () => string[]
}

export interface StatusReporterInit {
  self: string
  topic: string
  intervalMs?: number
}

interface Counters { at: number, events: number, kvOps: number }

export class StatusReporter {
  private readonly log: Logger
  private repeating: RepeatingTasks | undefined
  private last: Counters | undefined
  /** Its own histogram, reset at each report: load now, not since start (the node's own one is cumulative). */
  private loop: ReturnType<typeof monitorEventLoopDelay> | undefined
  private readonly latest = new Map<string, NodeStatus>()

  constructor (private readonly components: StatusReporterComponents, private readonly init: StatusReporterInit) {
    this.log = components.logger.child({ component: 'shoal:node:status' })
  }

  start (): void {
    if (this.repeating !== undefined) return
    this.last = this.counters()
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    this.loop.enable()
    this.components.gossip.register<NodeStatus>(this.init.topic, { [STATUS_TYPE]: validateStatus }, envelope => {
      this.latest.set(envelope.payload.peerId, envelope.payload)
    })
    this.repeating = new RepeatingTasks(this.components.clock, this.log)
    this.repeating.every(this.init.intervalMs ?? STATUS_INTERVAL_MS, async () => { await this.report() })
  }

  stop (): void {
    this.repeating?.stop()
    this.repeating = undefined
    this.loop?.disable()
    this.loop = undefined
  }

  /** The status this node would write now (advances the rate window). */
  snapshot (): NodeStatus {
    const now = this.counters()
    const prev = this.last ?? now
    this.last = now
    const seconds = Math.max(0.001, (now.at - prev.at) / 1000)
    const perSec = (d: number): number => Math.round((Math.max(0, d) / seconds) * 10) / 10
    const c = this.components
    const loop = this.loop
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

  async report (): Promise<void> {
    const status = this.snapshot()
    this.latest.set(status.peerId, status)
    await this.components.gossip.publish(this.init.topic, STATUS_TYPE, status)
  }

  /** The latest report of every node heard from within STATUS_TTL_MS, this one included. */
  statuses (): NodeStatus[] {
    const now = this.components.clock.now()
    for (const [id, s] of this.latest) if (now - s.at > STATUS_TTL_MS) this.latest.delete(id)
    return [...this.latest.values()]
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

/** A gossiped report: untrusted input like any other message, checked field by field. */
export const NODE_STATUS = Type.Object({
  peerId: Type.String({ minLength: 1, maxLength: 128 }),
  at: COUNT,
  neighbours: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: MAX_NEIGHBOURS }),
  load: Type.Object({ eventLoopP99Ms: RATE, rssBytes: COUNT, runningSubtasks: COUNT }, strict),
  rates: Type.Object({ eventsPerSec: RATE, kvOpsPerSec: RATE }, strict),
  kvRoot: Type.String({ minLength: 1, maxLength: 64 })
}, strict)

function validateStatus (v: unknown): NodeStatus {
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
