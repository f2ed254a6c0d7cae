/**
 * Write-to-visible-everywhere latency of the KV store: node 1 writes at a fixed rate over JSON-RPC, every
 * node's `kv.watch` notifies; the time until the last node has it. Prints one Markdown section.
 */
import { performance } from 'node:perf_hooks'
import type { LocalSwarm } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { createWsClient } from '@shoal/rpc'
import type { WsClient } from '@shoal/rpc'
import { DATA_BYTES, SMOKE, log, nodes, sleep, withSwarm } from './common.js'
import { kvValue, pollUntil } from './kv-common.js'
import { Recorder } from './recorder.js'
import { ms, pct, table } from './stats.js'

const SIZES = SMOKE ? [3] : [5, 10]
const M = SMOKE ? 50 : 500
const RATE = 50
const DRAIN_MS = SMOKE ? 5000 : 15_000
const WARMUP_BASE = 1_000_000
const PREFIX = 'bench/'

interface Result { allP50: number, allP99: number, nodeP50: number, nodeP99: number, delivered: number, deliveredToAll: number, putP50: number }

async function watchAll (swarm: LocalSwarm, run: string, recorder: Recorder): Promise<WsClient[]> {
  const clients: WsClient[] = []
  try {
    for (const [i, node] of nodes(swarm).entries()) {
      const ws = await createWsClient({ url: node.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(node.dataDir) })
      clients.push(ws)
      await ws.subscribe<{ key: string }>('kv.watch', { prefix: PREFIX }, {
        onNotification: c => {
          const m = /^bench\/([^/]+)\/(\d+)$/.exec(c.key)
          if (m?.[1] === run) recorder.markReceived(i, Number(m[2]))
        }
      })
    }
    return clients
  } catch (err) {
    await Promise.all(clients.map(async ws => await ws.close().catch(() => {})))
    throw err
  }
}

async function measure (n: number): Promise<Result> {
  return await withSwarm(n, async swarm => {
    const run = `r${Date.now()}`
    const recorder = new Recorder(n)
    const clients = await watchAll(swarm, run, recorder)
    try {
      const writer = nodes(swarm)[0]!
      const put = async (id: number): Promise<void> => {
        recorder.markSent(id)
        await writer.client.call('kv.put', { key: `${PREFIX}${run}/${id}`, value: kvValue(id) }, { timeoutMs: 30_000 })
      }
      // Warm-up until one write reaches every node within a second (gossip meshes formed).
      for (let k = 0; ; k++) {
        if (k === 30) throw new Error('warm-up: no write reached every node')
        await put(WARMUP_BASE + k)
        if (await pollUntil(() => recorder.complete(WARMUP_BASE + k, WARMUP_BASE + k), 1000, 20) && k >= 2) break
      }
      await sleep(1000)
      const failures: unknown[] = []
      const putMs: number[] = []
      const inFlight = new Set<Promise<void>>()
      const start = performance.now()
      for (let id = 1; id <= M; id++) {
        const wait = start + (id - 1) * 1000 / RATE - performance.now()
        if (wait > 1) await sleep(wait)
        const t0 = performance.now()
        const p = put(id).then(() => { putMs.push(performance.now() - t0) }, err => { failures.push(err) }).finally(() => { inFlight.delete(p) })
        inFlight.add(p)
      }
      await Promise.all(inFlight)
      if (failures.length > 0) throw new Error(`${failures.length} kv.put failed: ${String(failures[0])}`)
      await pollUntil(() => recorder.complete(1, M), DRAIN_MS, 20)
      putMs.sort((a, b) => a - b)
      return { ...recorder.latency(1, M), putP50: putMs[Math.floor(putMs.length / 2)] ?? Number.NaN }
    } finally {
      await Promise.all(clients.map(async ws => await ws.close().catch(() => {})))
    }
  })
}

const rows: string[][] = []
for (const n of SIZES) {
  const t0 = Date.now()
  log(`kv-replication: ${n} nodes`)
  const r = await measure(n)
  log(`kv-replication: ${n} nodes done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(r)}`)
  rows.push(
    [String(n), 'visible on all nodes, p50', ms(r.allP50)],
    [String(n), 'visible on all nodes, p99', ms(r.allP99)],
    [String(n), 'visible on one node, p50', ms(r.nodeP50)],
    [String(n), 'visible on one node, p99', ms(r.nodeP99)],
    [String(n), 'kv.put round trip on the writer, p50', ms(r.putP50)],
    [String(n), '(write, node) pairs notified', pct(r.delivered)],
    [String(n), 'writes notified on every node', pct(r.deliveredToAll)]
  )
}

process.stdout.write(`## KV write-to-visible-everywhere latency${SMOKE ? ' (smoke)' : ''}

Method: N daemons on 127.0.0.1 (LocalSwarm, measured once every node sees N alive members); a WebSocket
\`kv.watch\` (prefix \`${PREFIX}\`) on every node. Node 1 takes M = ${M.toLocaleString('en-US')} \`kv.put\` calls (default acks = 1, about ${DATA_BYTES} B JSON
values) at a fixed ${RATE}/s over HTTP JSON-RPC, after warm-up writes until one reaches every node within a second.
The bench process timestamps each send and each node's notification. "On all nodes" is the time until the last
of the N nodes (the writer included) has notified the change; "on one node" covers every (write, other node)
pair. Writes not seen within ${DRAIN_MS / 1000} s of the last send count as not notified. No separate baseline: the event-delivery
section above measures the gossip path these writes travel on (an event on topic \`kv\`) against plain gossipsub.

${table(['N', 'metric', 'Shoal'], rows)}
`)
process.exit(0)
