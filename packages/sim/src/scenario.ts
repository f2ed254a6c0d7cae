/**
 * One simulated run: N nodes join through one bootstrap node, then a quiet window (message load, false
 * positives, event dissemination), crashes (detection time), a partition and its heal (convergence), and
 * restarts. Every number comes from virtual time; the same config and seed give the same report.
 */
import { constants } from '@shoal/core'
import type { MemberState, MembershipTimings } from '@shoal/core'
import { CATEGORIES, Network } from './network.js'
import type { Category, NetworkConfig } from './network.js'
import { SimNode } from './node.js'
import type { OverlayConfig } from './node.js'
import { EventModel } from './events.js'
import type { EventRecord } from './events.js'
import { World } from './world.js'
import { mean, percentile, round } from './stats.js'

export interface SimConfig {
  nodes: number
  seed: number
  network: NetworkConfig
  overlay: OverlayConfig
  timings: MembershipTimings
  /** Per-node clock offset, uniform in ±offsetMs, and rate error, uniform in ±driftPpm. */
  skew: { offsetMs: number, driftPpm: number }
  /**
   * Start from a formed swarm (every node knows every member, its piggyback queue drained, as after a finished
   * join) instead of N nodes joining through one bootstrap node. The join costs O(N^2) piggybacked updates
   * (every alive is sent ~4 log10(N) times by every node), which dominates the wall time of a large run.
   */
  formed: boolean
  /** Nodes start at random times in [0, startSpreadMs]. */
  startSpreadMs: number
  /** Give up waiting for the first full view after this long. */
  maxJoinMs: number
  /** Quiet window: message load, false positives, event dissemination. */
  measureMs: number
  events: number
  /** Nodes crashed one after another; half kill -9 (connections reset), half hang (silent, like SIGSTOP). */
  crashes: number
  crashSpacingMs: number
  crashWatchMs: number
  /** Two halves cut apart for this long, then healed; 0 skips the phase. */
  partitionMs: number
  /** Give up waiting for convergence after a heal or restart after this long. */
  maxConvergeMs: number
}

export const DEFAULT_TIMINGS: MembershipTimings = {
  probeIntervalMs: constants.PROBE_INTERVAL_MS,
  probeTimeoutMs: constants.PROBE_TIMEOUT_MS,
  indirectProbes: constants.INDIRECT_PROBES,
  suspicionTimeoutMs: constants.SUSPICION_TIMEOUT_MS,
  pushPullIntervalMs: constants.PUSH_PULL_INTERVAL_MS,
  deadMemberRetentionMs: constants.DEAD_MEMBER_RETENTION_MS
}

export function defaultConfig (nodes: number, seed = 1): SimConfig {
  return {
    nodes,
    seed,
    // One-way 0.5 ms + exponential tail (mean 1.5 ms): a LAN with busy hosts; libp2p adds its own stream setup.
    network: { latency: { baseMs: 0.5, jitterMs: 1.5 }, loss: 0, lossMode: 'tcp' },
    overlay: { degree: constants.OVERLAY_DEGREE, ringNeighbours: constants.OVERLAY_RING_NEIGHBOURS, maxConnections: constants.OVERLAY_MAX_CONNECTIONS },
    timings: DEFAULT_TIMINGS,
    skew: { offsetMs: 2000, driftPpm: 100 },
    formed: false,
    startSpreadMs: 2000,
    maxJoinMs: 240_000,
    measureMs: 30_000,
    events: 20,
    crashes: Math.min(10, Math.max(2, Math.round(nodes / 100))),
    crashSpacingMs: 3000,
    crashWatchMs: 20_000,
    partitionMs: 20_000,
    maxConvergeMs: 120_000
  }
}

export interface Percentiles { p50: number, p99: number, max: number }

export interface SimReport {
  nodes: number
  seed: number
  degree: number
  /** Time from the first start until every node saw every node alive (ms), or null if it never did. */
  joinMs: number | null
  /** Open connections per node in the quiet window. */
  connections: { mean: number, max: number }
  /** Sent per node per second in the quiet window, by category and in total. */
  load: { messagesPerNodePerSec: Record<Category | 'total', number>, bytesPerNodePerSec: Record<Category | 'total', number> }
  /** Members marked suspect or dead while they were up and reachable. */
  falsePositives: { suspect: number, dead: number }
  dissemination: { events: number, to99Ms: Percentiles, to100Ms: Percentiles, complete: number }
  /** Per crash mode: time to the first node's `dead`, to the last live node's `dead`, and per observer. */
  detection: Record<'kill' | 'hang', { crashes: number, firstMs: Percentiles, allMs: Percentiles, observerMs: Percentiles, undetected: number }>
  /** After a partition heals: time until every node sees every node alive, and until every event is everywhere. */
  partition: { durationMs: number, viewsMs: number | null, eventsMs: number | null } | null
  /** Crashed nodes restarted: time until every node sees them alive again. */
  restartMs: number | null
  /** Virtual seconds simulated, and callbacks run (a run's fingerprint together with the figures). */
  virtualSeconds: number
  steps: number
}

const STATE: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 }

export function runSimulation (cfg: SimConfig, progress: (msg: string) => void = () => {}): SimReport {
  const n = cfg.nodes
  const world = new World(cfg.seed)
  const net = new Network(world, cfg.network, n, world.fork(1))
  const ids = new Map<string, number>()
  const idOf = (i: number): string => `n${String(i).padStart(5, '0')}-${(Math.imul(i + 1, 2654435761) >>> 0).toString(36)}`
  for (let i = 0; i < n; i++) ids.set(idOf(i), i)
  // view[observer * n + member]: what observer believes of member (0 unknown).
  const view = new Uint8Array(n * n)
  const aliveSeen = new Int32Array(n)
  let measuring = false
  const fp = { suspect: 0, dead: 0 }
  const crashedAt = new Float64Array(n).fill(NaN)
  const crashMode: Array<'kill' | 'hang' | undefined> = new Array(n)
  const detectedBy: number[][] = Array.from({ length: n }, () => [])
  const nodes: SimNode[] = []
  const hooks = {
    changed (observer: number, member: number, state: MemberState) {
      const k = observer * n + member
      const before = view[k]!
      const after = STATE[state]
      view[k] = after
      if (before === 1 || before === 2) aliveSeen[observer]!--
      if (after === 1 || after === 2) aliveSeen[observer]!++
      if (state === 'suspect' || state === 'dead') {
        if (net.up[member] === 1 && net.group[member] === net.group[observer] && measuring) fp[state]++
        if (state === 'dead' && Number.isFinite(crashedAt[member]!) && net.up[member] !== 1) detectedBy[member]!.push(world.now - crashedAt[member]!)
      }
    },
    gossip (receiver: number, via: number, payload: { kind: string, origin?: number, seq?: number }) {
      if (payload.kind === 'event') events.received(receiver, via, payload.origin!, payload.seq!)
    }
  }
  for (let i = 0; i < n; i++) {
    const rng = world.fork(1000 + i)
    const clock = { offsetMs: (rng() * 2 - 1) * cfg.skew.offsetMs, drift: (rng() * 2 - 1) * cfg.skew.driftPpm / 1e6, epochMs: 1_750_000_000_000 }
    nodes.push(new SimNode(i, idOf(i), world, net, nodes, ids, cfg.timings, cfg.overlay, hooks, rng, clock))
  }
  const events = new EventModel(world, net, nodes)
  const upList = (): number[] => nodes.filter(x => x.up).map(x => x.index)
  /** Every up node sees exactly the up nodes of its own side alive (or suspect). */
  const converged = (): boolean => {
    const up = upList()
    const down = nodes.filter(x => !x.up).map(x => x.index)
    for (const o of up) {
      if (aliveSeen[o] !== up.length - 1) return false
      for (const d of down) { const s = view[o * n + d]!; if (s === 1 || s === 2) return false }
    }
    return true
  }
  const waitFor = (cond: () => boolean, maxMs: number, stepMs = 250): number | null => {
    const start = world.now
    while (world.now - start <= maxMs) {
      if (cond()) return world.now - start
      world.runUntil(world.now + stepMs)
    }
    return null
  }

  // 1. Join: node 0 first, the rest within startSpreadMs, each given node 0's address.
  let joinMs: number | null = null
  if (cfg.formed) {
    for (const node of nodes) { node.start(undefined); events.startDigests(node.index) }
    const all = nodes.map(x => x.machine!.fullState()[0]!)
    for (const node of nodes) {
      node.input({ type: 'updates', now: node.localNow(), updates: all })
      while (node.machine!.takePiggyback(Number.MAX_SAFE_INTEGER).length > 0) { /* drain: the join is over */ }
    }
    for (const node of nodes) node.maintain()
    world.runUntil(world.now + 100)
  } else {
    nodes[0]!.start(undefined)
    events.startDigests(0)
    for (let i = 1; i < n; i++) {
      world.after(world.rng() * cfg.startSpreadMs, () => { nodes[i]!.start(0); events.startDigests(i) })
    }
    world.runUntil(cfg.startSpreadMs)
    const joinWait = waitFor(converged, cfg.maxJoinMs, 500)
    joinMs = joinWait === null ? null : joinWait + cfg.startSpreadMs
    progress(`join: ${joinMs === null ? 'did not converge' : `${round(joinMs / 1000)} s`}`)
  }
  // Let the join's piggyback queues drain so the window measures steady state.
  world.runUntil(world.now + 10_000)

  // 2. Quiet window.
  net.resetCounters()
  net.counting = true
  measuring = true
  const windowStart = world.now
  const published: EventRecord[] = []
  for (let e = 0; e < cfg.events; e++) {
    world.after((e + 0.5) * cfg.measureMs / Math.max(1, cfg.events), () => {
      const up = upList()
      published.push(events.publish(up[Math.floor(world.rng() * up.length)]!))
    })
  }
  world.runUntil(windowStart + cfg.measureMs)
  net.counting = false
  const conns = nodes.map(x => x.conns.size)
  const seconds = cfg.measureMs / 1000
  const msgs = {} as Record<Category | 'total', number>
  const bytes = {} as Record<Category | 'total', number>
  msgs.total = 0
  bytes.total = 0
  for (const c of CATEGORIES) {
    msgs[c] = round(mean([...net.sentMessages[c]]) / seconds, 2)
    bytes[c] = Math.round(mean([...net.sentBytes[c]]) / seconds)
    msgs.total += msgs[c]
    bytes.total += bytes[c]
  }
  msgs.total = round(msgs.total, 2)
  world.runUntil(world.now + 10_000)
  const dissemination = disseminationOf(published, n)
  progress(`quiet window: ${msgs.total} msg/s/node, dissemination p50 to 100% ${dissemination.to100Ms.p50} ms`)

  // 3. Crashes: kill -9 for the first half, hang for the second.
  const detection = { kill: emptyDetection(), hang: emptyDetection() }
  const candidates = upList().filter(i => i !== 0)
  const victims: number[] = []
  for (let c = 0; c < Math.min(cfg.crashes, candidates.length - 1); c++) {
    victims.push(candidates.splice(Math.floor(world.rng() * candidates.length), 1)[0]!)
  }
  victims.forEach((v, c) => {
    const mode = c < victims.length / 2 ? 'kill' : 'hang'
    world.after(c * cfg.crashSpacingMs, () => {
      crashedAt[v] = world.now
      crashMode[v] = mode
      if (mode === 'kill') nodes[v]!.crash()
      else nodes[v]!.hang()
    })
  })
  world.runUntil(world.now + victims.length * cfg.crashSpacingMs + cfg.crashWatchMs)
  for (const mode of ['kill', 'hang'] as const) {
    const mine = victims.filter(v => crashMode[v] === mode)
    const survivors = upList().length
    const first: number[] = []
    const all: number[] = []
    const per: number[] = []
    let undetected = 0
    for (const v of mine) {
      const d = detectedBy[v]!
      per.push(...d)
      if (d.length > 0) first.push(Math.min(...d))
      if (d.length >= survivors) all.push(Math.max(...d))
      else undetected++
    }
    detection[mode] = { crashes: mine.length, firstMs: pct(first), allMs: pct(all), observerMs: pct(per), undetected }
  }
  measuring = false
  progress(`detection (kill) p50 ${detection.kill.allMs.p50} ms, (hang) p50 ${detection.hang.allMs.p50} ms; false positives ${fp.dead}`)

  // 4. Partition and heal.
  let partition: SimReport['partition'] = null
  if (cfg.partitionMs > 0) {
    const side = world.fork(7)
    for (const i of upList()) net.group[i] = side() < 0.5 ? 0 : 1
    const during: EventRecord[] = []
    for (let e = 0; e < 4; e++) {
      world.after((e + 0.5) * cfg.partitionMs / 4, () => {
        const up = upList()
        during.push(events.publish(up[Math.floor(world.rng() * up.length)]!))
      })
    }
    world.runUntil(world.now + cfg.partitionMs)
    net.group.fill(0)
    const healedAt = world.now
    const viewsMs = waitFor(converged, cfg.maxConvergeMs)
    const all = [...published, ...during]
    const allEvents = (): boolean => {
      const up = upList()
      return all.every(r => up.every(i => Number.isFinite(r.deliveredAt[i]!)))
    }
    let eventsMs: number | null = null
    if (waitFor(allEvents, cfg.maxConvergeMs) !== null) {
      let last = healedAt
      for (const r of all) for (const i of upList()) last = Math.max(last, r.deliveredAt[i]!)
      eventsMs = Math.round(last - healedAt)
    }
    partition = { durationMs: cfg.partitionMs, viewsMs, eventsMs }
    progress(`partition healed: views ${viewsMs} ms, events ${partition.eventsMs} ms`)
  }

  // 5. Restart the crashed nodes (a hung one is killed first).
  for (const v of victims) {
    if (nodes[v]!.up) nodes[v]!.crash()
    nodes[v]!.start(0)
    events.startDigests(v)
  }
  const restartMs = waitFor(converged, cfg.maxConvergeMs)
  progress(`restart: ${restartMs} ms`)

  return {
    nodes: n,
    seed: cfg.seed,
    degree: cfg.overlay.degree,
    joinMs,
    connections: { mean: round(mean(conns)), max: Math.max(...conns) },
    load: { messagesPerNodePerSec: msgs, bytesPerNodePerSec: bytes },
    falsePositives: fp,
    dissemination,
    detection,
    partition,
    restartMs,
    virtualSeconds: round(world.now / 1000),
    steps: world.steps
  }
}


function emptyDetection (): SimReport['detection']['kill'] {
  return { crashes: 0, firstMs: pct([]), allMs: pct([]), observerMs: pct([]), undetected: 0 }
}

function pct (values: number[]): Percentiles {
  const r = (x: number): number => Number.isFinite(x) ? Math.round(x) : NaN
  return { p50: r(percentile(values, 50)), p99: r(percentile(values, 99)), max: r(values.length === 0 ? NaN : Math.max(...values)) }
}

function disseminationOf (records: EventRecord[], n: number): SimReport['dissemination'] {
  const to99: number[] = []
  const to100: number[] = []
  let complete = 0
  for (const r of records) {
    const times = [...r.deliveredAt].filter(t => Number.isFinite(t)).map(t => t - r.publishedAt).sort((a, b) => a - b)
    if (times.length === 0) continue
    const need99 = Math.ceil(0.99 * n)
    if (times.length >= need99) to99.push(times[need99 - 1]!)
    if (times.length === n) { to100.push(times[n - 1]!); complete++ }
  }
  return { events: records.length, to99Ms: pct(to99), to100Ms: pct(to100), complete }
}
