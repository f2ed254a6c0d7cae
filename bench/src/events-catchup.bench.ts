/**
 * Catch-up after downtime: a daemon killed with SIGKILL misses COUNT events and is restarted; how long until
 * the repair protocol has brought it every one, beside the plain cost of reading those events out of the
 * publisher over RPC in the same run. Prints one Markdown section.
 */
import { performance } from 'node:perf_hooks'
import { waitFor } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { DATA_BYTES, SMOKE, eventData, log, nodes, withSwarm } from './common.js'
import { median, ms, rate, ratio, table } from './stats.js'

const COUNT = SMOKE ? 1000 : 10_000
const TOPIC = 'bench'
const BATCH = 100
const PUBLISHERS = 4
const CATCHUP_DEADLINE_MS = SMOKE ? 30_000 : 180_000
const READS = 3
/** Fresh swarms the whole scenario runs on; the table gives the run of median ratio (the box's speed drifts). */
const RUNS = SMOKE ? 1 : 3

async function publish (node: LocalNode): Promise<void> {
  let next = 1
  await Promise.all(Array.from({ length: PUBLISHERS }, async () => {
    while (next <= COUNT) {
      const ids = Array.from({ length: Math.min(BATCH, COUNT - next + 1) }, (_, k) => next + k)
      next += ids.length
      const results = await node.client.batch(ids.map(n => ({ method: 'events.publish', params: { topic: TOPIC, data: eventData('catchup', n) } })), { timeoutMs: 60_000 })
      const failed = results.find(r => !r.ok)
      if (failed !== undefined && !failed.ok) throw new Error(`publish failed: ${failed.error.message}`)
    }
  }))
}

/** Reads every event of node 1's log with events.list pages of 1000; returns how many. */
async function readAll (node: LocalNode): Promise<number> {
  let since = 0
  let read = 0
  for (let page = 0; page < COUNT / 1000 + 10; page++) {
    const r = await node.client.call('events.list', { topic: TOPIC, since, limit: 1000 }, { timeoutMs: 30_000 })
    if (r.events.length === 0) break
    read += r.events.length
    since = r.next
  }
  return read
}

interface Run { publishMs: number, catchupMs: number, sinceRestartMs: number, repaired: number, readMs: number }

async function once (): Promise<Run> {
  return await withSwarm(2, async swarm => {
    const [first] = nodes(swarm)
    await swarm.kill(2)
    log(`catch-up: node 2 killed; publishing ${COUNT} events on node 1`)
    const p0 = performance.now()
    await publish(first!)
    const publishMs = performance.now() - p0

    const restartAt = performance.now()
    const second = await swarm.restart(2)
    await waitFor(async () => await second.client.call('events.stats', {}, { timeoutMs: 1000 }), 20_000, 'node 2 RPC')
    const t0 = performance.now()
    let polls = 0
    await waitFor(async () => {
      polls++
      const { heads } = await second.client.call('events.stats', {}, { timeoutMs: 3000 })
      return (heads[first!.peerId] ?? 0) >= COUNT ? true : undefined
    }, CATCHUP_DEADLINE_MS, `node 2 to catch up on ${COUNT} events`)
    const catchupMs = performance.now() - t0
    const sinceRestartMs = performance.now() - restartAt
    const stats = await second.client.call('events.stats', {})
    log(`catch-up: ${catchupMs.toFixed(0)} ms (${polls} polls, repaired ${stats.repaired})`)

    const reads: number[] = []
    for (let i = 0; i < READS; i++) {
      const r0 = performance.now()
      const n = await readAll(first!)
      reads.push(performance.now() - r0)
      if (n !== COUNT) throw new Error(`read ${n} events from node 1, expected ${COUNT}`)
    }
    return { publishMs, catchupMs, sinceRestartMs, repaired: stats.repaired, readMs: median(reads) }
  })
}

const runs: Run[] = []
for (let r = 0; r < RUNS; r++) runs.push(await once())
const ratios = runs.map(r => r.catchupMs / r.readMs)
// The run whose ratio is the middle one (of 3), not an interpolated median: its figures then belong together.
const result = runs[[...ratios.keys()].sort((x, y) => ratios[x]! - ratios[y]!)[Math.floor(RUNS / 2)]!]!
const spread = RUNS > 1 ? ` (runs: ${ratios.map(x => `${x.toFixed(2)}x`).join(', ')})` : ''

process.stdout.write(`## Event catch-up after downtime${SMOKE ? ' (smoke)' : ''}

Method: 2 daemons on 127.0.0.1; node 2 is killed with SIGKILL, node 1 publishes ${COUNT.toLocaleString('en-US')} events (${DATA_BYTES} B of JSON
\`data\` each, JSON-RPC batches of ${BATCH}, ${PUBLISHERS} at a time), node 2 is restarted on the same data dir. Catch-up time runs from
node 2's RPC answering until its \`events.stats\` head for node 1 reaches ${COUNT.toLocaleString('en-US')} (polled every 50 ms), so it covers
reconnecting, the digest exchange and the repair pulls. Baseline: reading the same ${COUNT.toLocaleString('en-US')} events out of node 1 with
\`events.list\` pages of 1000 over HTTP RPC (median of ${READS}), i.e. a plain local read with no network or verification;
the ratio is how much longer the repair takes than that read. The whole scenario runs on ${RUNS} fresh swarm${RUNS > 1 ? 's' : ''}, each with its own
baseline reads; the table gives the run whose ratio is the median, and each run's ratio (the box's speed drifts between runs).

${table(['metric', 'Shoal repair', 'baseline (events.list read)', 'Shoal / baseline'], [
  [`time for ${COUNT.toLocaleString('en-US')} events`, ms(result.catchupMs), ms(result.readMs), `${ratio(result.catchupMs, result.readMs)}${spread}`],
  ['rate', rate(COUNT / (result.catchupMs / 1000)), rate(COUNT / (result.readMs / 1000)), ratio(COUNT / result.catchupMs, COUNT / result.readMs)],
  ['time from restart command (process start included)', ms(result.sinceRestartMs), '', ''],
  ['events counted as repaired on node 2', result.repaired.toLocaleString('en-US'), '', ''],
  ['publishing them on node 1 (for scale)', `${ms(result.publishMs)} (${rate(COUNT / (result.publishMs / 1000))})`, '', '']
])}
`)
process.exit(0)
