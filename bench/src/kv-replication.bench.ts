/**
 * Write-to-visible-everywhere latency of the KV store beside bare gossipsub: node 1 writes at a fixed rate over
 * JSON-RPC and every node's `kv.watch` notifies; the baseline's node 1 publishes messages of the same size at the
 * same rate. The time until the last node has it. Prints one Markdown section.
 */
import { DATA_BYTES, SMOKE, log } from './common.js'
import { GossipCluster, ShoalCluster } from './clusters.js'
import type { Cluster } from './clusters.js'
import { pacedPhases, warmUp } from './paced.js'
import type { PacedResult } from './paced.js'
import { Recorder } from './recorder.js'
import { ms, pct, percentile, ratio, table } from './stats.js'

const SIZES = SMOKE ? [3] : (process.env.SHOAL_BENCH_KV_SIZES ?? '5,10').split(',').map(Number)
const M = SMOKE ? 50 : 500
const RATE = 50
const DRAIN_MS = SMOKE ? 5000 : 15_000
/** The first writes after the swarm formed, measured on their own (the cold start); then STEADY_WARMUP more, not measured. */
const COLD = SMOKE ? 10 : 25
const STEADY_WARMUP = SMOKE ? 25 : 150

async function measure (cluster: Cluster, recorder: Recorder): Promise<PacedResult> {
  await warmUp(cluster, recorder)
  return await pacedPhases(cluster, recorder, { rate: RATE, drainMs: DRAIN_MS, cold: COLD, steadyWarmup: STEADY_WARMUP, measured: M })
}

const rows: string[][] = []
const messageBytes = new Map<number, number>()
for (const n of SIZES) {
  const t0 = Date.now()
  log(`kv-replication: ${n} nodes`)
  let recorder = new Recorder(n)
  const kv = await ShoalCluster.start(n, () => recorder, 'kv')
  let shoal: PacedResult
  let putP50: number
  let bytes: number
  try {
    shoal = await measure(kv, recorder)
    putP50 = percentile(kv.publishMs.slice(-M), 50)
    bytes = await kv.lastKvMessageBytes()
  } finally {
    await kv.close()
  }
  messageBytes.set(n, bytes)
  log(`kv-replication: shoal, ${n} nodes, ${bytes} B per write: ${JSON.stringify({ ...shoal, putP50 })}`)
  recorder = new Recorder(n)
  const gossip = await GossipCluster.start(n, bytes, () => recorder)
  let base: PacedResult
  try {
    base = await measure(gossip, recorder)
  } finally {
    await gossip.close()
  }
  log(`kv-replication: gossipsub, ${n} nodes done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(base)}`)
  const row = (metric: string, a: number, b: number, fmt: (v: number) => string): string[] => [String(n), metric, fmt(a), fmt(b), ratio(a, b)]
  rows.push(
    row(`cold start: first ${COLD} writes visible on all nodes, p50`, shoal.coldP50, base.coldP50, ms),
    row(`cold start: first ${COLD} writes visible on all nodes, p99`, shoal.coldP99, base.coldP99, ms),
    row('visible on all nodes, p50', shoal.allP50, base.allP50, ms),
    row('visible on all nodes, p99', shoal.allP99, base.allP99, ms),
    row('visible on one node, p50', shoal.nodeP50, base.nodeP50, ms),
    row('visible on one node, p99', shoal.nodeP99, base.nodeP99, ms),
    [String(n), 'kv.put round trip on the writer, p50', ms(putP50), '-', '-'],
    row('(write, node) pairs notified', shoal.delivered, base.delivered, pct),
    row('writes notified on every node', shoal.deliveredToAll, base.deliveredToAll, pct),
    row(`CPU per write in the measured run (${RATE}/s), all nodes`, shoal.pacedCpuPerMessageMs, base.pacedCpuPerMessageMs, v => `${v.toFixed(2)} ms`)
  )
}

process.stdout.write(`## KV write-to-visible-everywhere latency${SMOKE ? ' (smoke)' : ''}

Method: N daemons on 127.0.0.1 (LocalSwarm, measured once every node sees N alive members); a WebSocket
\`kv.watch\` on every node. Node 1 takes \`kv.put\` calls (default acks = 1, about ${DATA_BYTES} B JSON values) at a fixed ${RATE}/s
over HTTP JSON-RPC. The bench process timestamps each send and each node's notification, which a node sends once
the write is in its replica (a \`kv.get\` there then returns it). "On all nodes" is the time until the last of
the N nodes (the writer included) has notified it; "on one node" covers every (write, other node) pair.
Baseline in the same run: N plain libp2p nodes (the daemon's buildLibp2p stack with gossipsub; as in the event
delivery section), one process each, fully connected; node 1's process publishes, at the same rate, messages as
large as the gossip message a write travelled in (measured on the Shoal run: ${[...messageBytes].map(([n, b]) => `${b} B at N = ${n}`).join(', ')}), and every process reports
receipt over IPC, timestamped by the bench the same way. Both wait for a warm-up message to reach every node
within a second first. Then, at the paced rate: the first ${COLD} writes, measured on their own as the cold start; ${STEADY_WARMUP}
more, not measured; then M = ${M.toLocaleString('en-US')} measured writes, the steady state. Writes not seen within ${DRAIN_MS / 1000} s of the last
send count as not notified. CPU per write: the CPU time (all threads) of every node's process during the measured
run, summed, divided by M (Shoal's includes the writer answering the JSON-RPC calls and every node's WebSocket
notifications; the baseline's publisher takes its commands and reports receipt over IPC).

${table(['N', 'metric', 'Shoal', 'gossipsub baseline', 'Shoal / baseline'], rows)}
`)
process.exit(0)
