/**
 * Publish-to-delivery latency and sustained throughput of events across N daemons, beside plain gossipsub
 * across N processes measured the same way in the same run. Prints one Markdown section.
 */
import { performance } from 'node:perf_hooks'
import { DATA_BYTES, SMOKE, log, sleep } from './common.js'
import { GossipCluster, ShoalCluster, shoalMessageBytes } from './clusters.js'
import type { Cluster } from './clusters.js'
import { Recorder } from './recorder.js'
import { pacedPhases, waitUntil, warmUp } from './paced.js'
import type { PacedResult } from './paced.js'
import { totalCpuMs } from './proc-cpu.js'
import { ms, pct, rate, ratio, table } from './stats.js'

const SIZES = SMOKE ? [3] : (process.env.SHOAL_BENCH_EVENTS_SIZES ?? '5,10').split(',').map(Number)
/** Events in the paced run, and its rate. */
const M = SMOKE ? 100 : 1000
const RATE = 100
/** Events in the throughput run, and how many publishers send them at once. */
const BURST = SMOKE ? 300 : 3000
const CONCURRENCY = 8
/** How long stragglers may take after the last send before they count as lost. */
const DRAIN_MS = SMOKE ? 5000 : 15_000
const BURST_DEADLINE_MS = SMOKE ? 15_000 : 90_000
/**
 * The first events after the swarm formed, at the paced rate, measured on their own: the cold start a user sees
 * (connections, meshes, JIT). Then STEADY_WARMUP more at the same rate, not measured, before the steady-state run.
 */
const COLD = SMOKE ? 20 : 50
const STEADY_WARMUP = SMOKE ? 50 : 300

interface Result extends PacedResult {
  connections: number
  /** Swarm-wide CPU time per event in the throughput run (every node's process, all threads), ms. */
  cpuPerEventMs: number
  throughput: number
  burstDeliveredToAll: number
}

async function measure (cluster: Cluster, recorder: Recorder): Promise<Result> {
  await warmUp(cluster, recorder)
  const connections = await cluster.connections()
  const steady = await pacedPhases(cluster, recorder, { rate: RATE, drainMs: DRAIN_MS, cold: COLD, steadyWarmup: STEADY_WARMUP, measured: M })

  // Throughput: as fast as the publisher takes them.
  await sleep(1000)
  const first = M + 1
  const last = M + BURST
  const cpu0 = await totalCpuMs(cluster.pids())
  const t0 = performance.now()
  await cluster.burst(first, BURST, CONCURRENCY)
  await waitUntil(() => recorder.complete(first, last), BURST_DEADLINE_MS)
  const cpuPerEventMs = (await totalCpuMs(cluster.pids()) - cpu0) / BURST
  const delivered = recorder.countAll(first, last)
  const throughput = delivered / ((recorder.lastAll(first, last) - t0) / 1000)
  return { ...steady, connections, cpuPerEventMs, throughput, burstDeliveredToAll: delivered / BURST }
}

async function run (n: number, kind: 'shoal' | 'gossipsub', size: number): Promise<Result> {
  const recorder = new Recorder(n)
  const started = Date.now()
  log(`${kind}, ${n} nodes: starting`)
  const cluster: Cluster = kind === 'shoal'
    ? await ShoalCluster.start(n, () => recorder)
    : await GossipCluster.start(n, size, () => recorder)
  try {
    const r = await measure(cluster, recorder)
    log(`${kind}, ${n} nodes: done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(r)}`)
    return r
  } finally {
    await cluster.close()
  }
}

const rows: string[][] = []
let messageBytes = 0
for (const n of SIZES) {
  // The baseline's messages are as large as the gossip message a Shoal event travels in (peer ids have a fixed length).
  messageBytes = shoalMessageBytes('12D3KooW' + 'x'.repeat(44))
  const shoal = await run(n, 'shoal', messageBytes)
  const base = await run(n, 'gossipsub', messageBytes)
  const row = (metric: string, a: number, b: number, fmt: (v: number) => string): string[] => [String(n), metric, fmt(a), fmt(b), ratio(a, b)]
  rows.push(
    row(`cold start: first ${COLD} events to all nodes, p50`, shoal.coldP50, base.coldP50, ms),
    row(`cold start: first ${COLD} events to all nodes, p99`, shoal.coldP99, base.coldP99, ms),
    row('latency to all nodes, p50', shoal.allP50, base.allP50, ms),
    row('latency to all nodes, p99', shoal.allP99, base.allP99, ms),
    row('latency to one node, p50', shoal.nodeP50, base.nodeP50, ms),
    row('latency to one node, p99', shoal.nodeP99, base.nodeP99, ms),
    row('delivered (event, node pairs)', shoal.delivered, base.delivered, pct),
    row('delivered to every node', shoal.deliveredToAll, base.deliveredToAll, pct),
    row(`throughput to all nodes (${BURST.toLocaleString('en-US')} events)`, shoal.throughput, base.throughput, v => rate(v)),
    row('throughput run delivered to every node', shoal.burstDeliveredToAll, base.burstDeliveredToAll, pct),
    row(`CPU per event in the paced run (${RATE}/s), all nodes`, shoal.pacedCpuPerMessageMs, base.pacedCpuPerMessageMs, v => `${v.toFixed(2)} ms`),
    row('CPU per event in the throughput run, all nodes', shoal.cpuPerEventMs, base.cpuPerEventMs, v => `${v.toFixed(2)} ms`),
    row('open connections per node', shoal.connections, base.connections, v => v.toFixed(1))
  )
}

process.stdout.write(`## Event delivery: latency and throughput${SMOKE ? ' (smoke)' : ''}

Method: N daemons on 127.0.0.1 (LocalSwarm, bootstrapped through node 1, measured once every node sees N alive
members); a WebSocket \`events.subscribe\` on every node. Node 1 publishes M = ${M.toLocaleString('en-US')} events at a fixed ${RATE}/s over HTTP
JSON-RPC, each with ${DATA_BYTES} B of JSON \`data\` (about ${messageBytes} B as the gossip envelope of the signed event; gossipsub adds no signature of its own, decisions/0010); the bench process
timestamps the send and each node's notification. "To all nodes" is the time until the last of the N nodes
(publisher included) has it; "to one node" covers every (event, receiving node) pair. Throughput: ${BURST.toLocaleString('en-US')} events
from ${CONCURRENCY} concurrent publishers (JSON-RPC batches of 25) divided by the time until the last is at every node.
Baseline: N plain libp2p nodes (the daemon's buildLibp2p stack: tcp, noise, yamux, gossipsub with the same
score and IP-colocation settings, but signed: StrictSign, gossipsub's default and what Shoal used before decisions/0010), one process each, fully connected; node 1's process publishes ${messageBytes} B messages
on the bench's command over IPC at the same rate (the throughput run: ${CONCURRENCY} concurrent publish loops) and every process
reports receipt over IPC, timestamped by the bench the same way. Both wait for a warm-up message to reach every
node first. Then, at the paced rate: the first ${COLD} events, measured on their own as the cold start (what a user
sees right after the swarm formed: fresh connections and meshes, code not yet optimised); ${STEADY_WARMUP} more, not measured;
then the M measured events, the steady state. CPU per event: the CPU time (all threads) of every node's process
during the paced steady-state run (one event at a time: nothing is grouped) and during the throughput run, summed,
divided by the run's events (Shoal's includes the daemon answering the publishing JSON-RPC calls and the
WebSocket notifications; the baseline's publisher takes its commands over IPC and reports receipt over IPC). Lost events wait ${DRAIN_MS / 1000} s (throughput run ${BURST_DEADLINE_MS / 1000} s) before they count as undelivered.

${table(['N', 'metric', 'Shoal', 'gossipsub baseline', 'Shoal / baseline'], rows)}
`)
process.exit(0)
