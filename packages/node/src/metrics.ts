/**
 * Prometheus metrics (docs/operations.md, "Metrics"). One prom-client Registry per node, never the global
 * default: tests run many nodes in one process. Gauges, and counters of what the services already count, are
 * read from their stats() when Prometheus scrapes; the bus feeds the rest (transitions, probe RTTs, subtasks).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Member, MemberState } from '@shoal/core'
import type { EventBus } from './events.js'
import type { EventStats } from './events/event-service.js'
import { verifyPool } from './events/verify-pool.js'
import type { KvStats } from './kv/kv-types.js'

export { Registry } from 'prom-client'

/**
 * Event-loop delay sampling period (ms), of Node's default metrics and of the doctor's own monitor. Each sample
 * is a timer wake-up, which on this project's VMs costs about 0.1 ms of CPU (docs/scale.md, "Idle cost"): two
 * monitors at 50 ms were 40 wake-ups a second, a fifth of an idle daemon's CPU. A stall shorter than the period
 * is seen with probability stall / period, one longer always; a starved process (the doctor warns at a p99 of
 * 200 ms) stalls often enough to show either way.
 */
export const LOOP_SAMPLE_MS = 500

/** A registry with Node's own metrics (event-loop lag, heap, GC, CPU, handles), for one node's families. */
export function createMetrics (): Registry {
  const registry = new Registry()
  // prom-client samples event-loop delay every 10 ms by default: 100 timer wakeups a second, most of an idle
  // daemon's CPU (docs/scale.md, "Idle cost").
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: LOOP_SAMPLE_MS })
  return registry
}

/** What the node families are read from; the services' own counters and the bus. */
export interface MetricsSources {
  bus: EventBus
  members: () => Member[]
  /** Lifeguard's local health multiplier (0 = healthy .. 8). */
  localHealth: () => number
  events: { stats: () => EventStats, signatureCheckCounts: () => Readonly<{ valid: number, known: number, invalid: number }> }
  kv: {
    stats: () => KvStats
    livePeers: () => string[]
    /** Keyed `${op} ${outcome}`, outcome 'ok' or an error code. */
    operations: () => ReadonlyMap<string, number>
    sync: { roundOutcomes: () => ReadonlyMap<string, number> }
  }
  tasks: { runningCount: () => number }
}

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']
/** Loopback pings take well under a millisecond; a LAN a few; anything past the probe timeout is a miss. */
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
/** Subtasks range from a hash (milliseconds) to a build step (many minutes). */
const SUBTASK_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800]
/** RPC calls: reads in microseconds to acknowledged writes and task.result waits in seconds. */
const RPC_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30]

/** Registers Shoal's families on `registry`. Returns a function that detaches them from the bus. */
export function instrumentNode (registry: Registry, src: MetricsSources): () => void {
  const registers = [registry]
  const events = perScrape(() => src.events.stats())
  const kv = perScrape(() => src.kv.stats())

  // Membership
  new Gauge({
    name: 'shoal_members', help: 'Members in this node\'s view (itself included), by state.', labelNames: ['state'], registers,
    collect () {
      const counts = new Map(STATES.map(s => [s, 0]))
      for (const m of src.members()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1)
      for (const [state, n] of counts) this.set({ state }, n)
    }
  })
  gauge(registers, 'shoal_membership_local_health', 'Lifeguard local health multiplier: 0 healthy .. 8; probe interval and timeout are x (value + 1). Raised when this node\'s own probes fail without relays\' nacks or it is suspected.', src.localHealth)
  const transitions = new Counter({ name: 'shoal_member_transitions_total', help: 'Member state changes seen here (from "none" = newly learnt).', labelNames: ['from', 'to'], registers })
  const rtt = new Histogram({ name: 'shoal_probe_rtt_seconds', help: 'Round-trip time of answered direct SWIM probes.', buckets: RTT_BUCKETS, registers })

  // Events
  fromTotal(registers, 'shoal_events_published_total', 'Events this node signed and published.', [], () => [[{}, events().published]])
  const delivered = new Counter({ name: 'shoal_events_delivered_total', help: 'Events delivered here (per origin in sequence), own ones included.', registers })
  fromTotal(registers, 'shoal_events_duplicates_total', 'Events received again after they were stored.', [], () => [[{}, events().duplicates]])
  fromTotal(registers, 'shoal_events_repaired_total', 'Events pulled by repair rather than received by gossip.', [], () => [[{}, events().repaired]])
  fromTotal(registers, 'shoal_events_signature_checks_total', 'Signature checks of received events: valid and invalid were verified, known were copies of an event already verified here (not checked again).', ['outcome'],
    () => Object.entries(src.events.signatureCheckCounts()).map(([outcome, n]) => [{ outcome }, n]))
  fromTotal(registers, 'shoal_signature_checks_by_thread_total', 'Signature checks of many events at once (catch-up, anti-entropy) in this process, by where they ran: worker (the verify pool\'s thread), thread_pool (libuv\'s: while no worker is alive, and after one failed), main_thread (a few at once).', ['thread'],
    () => [[{ thread: 'worker' }, verifyPool.counts.worker], [{ thread: 'thread_pool' }, verifyPool.counts.threadPool], [{ thread: 'main_thread' }, verifyPool.counts.mainThread]])
  fromTotal(registers, 'shoal_events_rejected_total', 'Events refused, by reason.', ['reason'],
    () => Object.entries(events().rejected).map(([reason, n]) => [{ reason }, n]))

  // KV
  fromTotal(registers, 'shoal_kv_operations_total', 'KV gets, puts and deletes on this node (RPC and jobs), by outcome.', ['op', 'outcome'],
    () => [...src.kv.operations()].map(([key, n]) => {
      const [op = '', code = ''] = key.split(' ')
      return [{ op, outcome: code === 'ok' ? 'ok' : code.replace(/^ERR_/, '').toLowerCase() }, n]
    }))
  gauge(registers, 'shoal_kv_keys', 'Live keys in this replica.', () => kv().keys)
  gauge(registers, 'shoal_kv_tombstones', 'Deleted keys kept as tombstones until the horizon.', () => kv().tombstones)
  gauge(registers, 'shoal_kv_bytes', 'Bytes of keys and values in this replica.', () => kv().bytes)
  gauge(registers, 'shoal_kv_replication_lag_seconds', 'Time since this replica was last known equal to every live peer\'s; NaN until a round with each has run.',
    () => { const lag = kv().lagMs; return lag === undefined ? NaN : lag / 1000 })
  fromTotal(registers, 'shoal_kv_anti_entropy_rounds_total', 'Anti-entropy rounds this node started, by outcome (in_sync, repaired, diverged, error).', ['outcome'],
    () => [...src.kv.sync.roundOutcomes()].map(([outcome, n]) => [{ outcome }, n]))
  fromTotal(registers, 'shoal_kv_anti_entropy_bytes_total', 'Bytes of anti-entropy messages, by direction.', ['direction'],
    () => [[{ direction: 'sent' }, kv().traffic.sent], [{ direction: 'received' }, kv().traffic.received]])
  gauge(registers, 'shoal_kv_peers', 'Live peers this replica syncs with.', () => src.kv.livePeers().length)
  gauge(registers, 'shoal_kv_peers_in_sync', 'Live peers whose Merkle root equalled ours at the end of the last round.', () => {
    const peers = kv().peers
    return src.kv.livePeers().filter(id => peers[id]?.match === true).length
  })

  // Tasks
  const leased = new Counter({ name: 'shoal_task_subtasks_leased_total', help: 'Subtasks this node claimed.', registers })
  const retried = new Counter({ name: 'shoal_task_subtasks_retried_total', help: 'Claims that rerun a subtask after a handler error.', registers })
  const reassigned = new Counter({ name: 'shoal_task_subtasks_reassigned_total', help: 'Claims that take a subtask over from a lost (dead or expired) worker.', registers })
  const completed = new Counter({ name: 'shoal_task_subtasks_completed_total', help: 'Subtask runs that ended here: done, error or aborted.', labelNames: ['outcome'], registers })
  gauge(registers, 'shoal_task_subtasks_running', 'Subtasks running on this node now.', () => src.tasks.runningCount())
  const duration = new Histogram({ name: 'shoal_task_subtask_duration_seconds', help: 'Run time of subtasks on this node, by outcome.', labelNames: ['outcome'], buckets: SUBTASK_BUCKETS, registers })
  const jobs = new Counter({ name: 'shoal_task_jobs_finished_total', help: 'Jobs whose final state this node wrote, by state.', labelNames: ['state'], registers })

  const off = [
    src.bus.on('member:changed', ({ member, previous }) => { if (previous !== member.state) transitions.inc({ from: previous ?? 'none', to: member.state }) }),
    src.bus.on('member:probed', ({ rttMs }) => { rtt.observe(rttMs / 1000) }),
    src.bus.on('event:delivered', () => { delivered.inc() }),
    src.bus.on('subtask:leased', ({ kind }) => {
      leased.inc()
      if (kind === 'retry') retried.inc()
      if (kind === 'takeover') reassigned.inc()
    }),
    src.bus.on('subtask:finished', ({ outcome, durationMs }) => {
      completed.inc({ outcome })
      duration.observe({ outcome }, durationMs / 1000)
    }),
    src.bus.on('job:finished', ({ state }) => { jobs.inc({ state }) })
  ]
  return () => { for (const f of off) f() }
}

/** The RPC families; returns the dispatcher's `onCall` hook. */
export function instrumentRpc (registry: Registry): (call: { method: string, code: number, durationMs: number }) => void {
  const requests = new Counter({ name: 'shoal_rpc_requests_total', help: 'JSON-RPC calls by method and code (0 = success).', labelNames: ['method', 'code'], registers: [registry] })
  const latency = new Histogram({ name: 'shoal_rpc_request_duration_seconds', help: 'JSON-RPC call duration by method.', labelNames: ['method'], buckets: RPC_BUCKETS, registers: [registry] })
  return ({ method, code, durationMs }) => {
    // Unknown names would let any caller grow the label set without bound.
    const name = code === METHOD_NOT_FOUND ? 'unknown' : method
    requests.inc({ method: name, code: String(code) })
    latency.observe({ method: name }, durationMs / 1000)
  }
}

/** What the RPC's WebSocket endpoint reports about its sockets (the RPC package's WsStats). */
export interface RpcSocketStats { connections: number, queuedBytes: number, maxQueuedBytes: number, slowConsumersDropped: number }

/** The WebSocket families, read from `read()` at each scrape. */
export function instrumentRpcSockets (registry: Registry, read: () => RpcSocketStats): void {
  const registers = [registry]
  const stats = perScrape(read)
  gauge(registers, 'shoal_rpc_ws_connections', 'Open WebSocket connections to the RPC.', () => stats().connections)
  gauge(registers, 'shoal_rpc_ws_queued_bytes', 'Bytes queued on all RPC WebSockets and not yet taken by the OS.', () => stats().queuedBytes)
  gauge(registers, 'shoal_rpc_ws_max_queued_bytes', 'The longest queue of any one RPC WebSocket, in bytes (bounded by the slow-consumer cap).', () => stats().maxQueuedBytes)
  fromTotal(registers, 'shoal_rpc_ws_slow_consumers_total', 'RPC WebSocket clients dropped because they read too slowly or stopped reading.', [],
    () => [[{}, stats().slowConsumersDropped]])
}

/** JSON-RPC's "method not found" (the RPC package sits above this one, so the number is repeated here). */
const METHOD_NOT_FOUND = -32601

type Totals = Array<[Record<string, string>, number]>

/** A counter fed at scrape time from cumulative counts: it adds what each count gained since the last scrape. */
function fromTotal (registers: Registry[], name: string, help: string, labelNames: string[], read: () => Totals): void {
  const last = new Map<string, number>()
  new Counter({
    name, help, labelNames, registers,
    collect () {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labels)
        const delta = total - (last.get(key) ?? 0)
        if (delta > 0) this.inc(labels, delta)
        last.set(key, total)
      }
    }
  })
}

function gauge (registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers, collect () { this.set(read()) } })
}

/** Reads once per scrape: the families collected in one scrape share the value. */
function perScrape<T> (read: () => T): () => T {
  let cached: { value: T } | undefined
  return () => {
    if (cached === undefined) {
      cached = { value: read() }
      setImmediate(() => { cached = undefined })
    }
    return cached.value
  }
}

/**
 * The registry's text, with one fix: a few third-party gauges (prom-client's nodejs_active_handles_total,
 * some libp2p ones) end in `_total`, which Prometheus reserves for counters and promtool rejects. Such a gauge
 * is exposed as `<name>_current` instead (dropping the suffix would collide with other families or with the
 * `_bucket` suffix), so the whole output passes `promtool check metrics`.
 */
export function exposition (text: string): string {
  const gauges = new Set<string>()
  for (const m of text.matchAll(/^# TYPE (\S+_total) gauge$/gm)) gauges.add(m[1]!)
  if (gauges.size === 0) return text
  return text.split('\n').map(line => {
    const name = /^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1]
    return name !== undefined && gauges.has(name) ? line.replace(name, `${name.slice(0, -'_total'.length)}_current`) : line
  }).join('\n')
}
