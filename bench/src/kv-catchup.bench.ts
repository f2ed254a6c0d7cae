/**
 * KV catch-up after downtime: node 2 is down while node 1 takes COUNT writes; how long until anti-entropy has
 * made the replicas equal, and how many anti-entropy bytes that took; plus the cost of a round when in sync.
 * Time on real daemons (LocalSwarm); bytes in-process, where the sync traffic counters can be read.
 * Prints one Markdown section.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { LocalSwarm, waitFor } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import type { ShoalNode } from '@shoal/node'
import { DATA_BYTES, SMOKE, log, sleep } from './common.js'
import { MemoryNodes, drive, kvValue, pollUntil } from './kv-common.js'
import { median, ms, rate, table } from './stats.js'

const COUNT = SMOKE ? 5000 : 100_000
/** The issue's second figure: a node this many keys behind catches up in at most 2 s. */
const BEHIND = SMOKE ? 1000 : 10_000
const BEHIND_TARGET_MS = 2000
const BEHIND_RUNS = SMOKE ? 1 : 3
const BATCH = 100
const WRITERS = 4
const DEADLINE_MS = SMOKE ? 30_000 : 300_000
const POLL_MS = 250
const IN_SYNC_ROUNDS = 5
/** Small event retention, so the event log cannot replay the writes and anti-entropy does the work. */
const CONFIG = { events: { retentionMaxEvents: 1000, compactIntervalMs: 500 } }

const key = (i: number): string => `bench/catchup/${String(i).padStart(6, '0')}`

interface Outcome { writeMs: number, catchupMs: number, sinceRestartMs: number, eventsStored: number, repaired: number }

async function writeBatches (node: LocalNode, count: number): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    while (next < count) {
      const from = next
      next = Math.min(count, next + BATCH)
      const calls = Array.from({ length: next - from }, (_, k) => ({ method: 'kv.put', params: { key: key(from + k), value: kvValue(from + k) } }))
      const results = await node.client.batch(calls, { timeoutMs: 120_000 })
      const failed = results.find(r => !r.ok)
      if (failed !== undefined && !failed.ok) throw new Error(`kv.put failed: ${failed.error.message}`)
    }
  }))
}

async function daemons (count: number): Promise<Outcome> {
  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  try {
    for (const i of [1, 2]) {
      await mkdir(swarm.dataDir(i), { recursive: true })
      await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify(CONFIG))
    }
    const first = await swarm.start(1)
    await swarm.start(2, { bootstrap: [first.addrs[0]!], timeoutMs: 30_000 })
    await waitFor(async () => {
      const counts = await Promise.all([...swarm.nodes.values()].map(async n => (await n.client.call('swarm.members', { state: 'alive' }, { timeoutMs: 3000 })).length))
      return counts.every(c => c === 2) ? true : undefined
    }, 30_000, 'the 2 daemons to see each other alive')
    await swarm.kill(2)
    log(`kv-catchup: node 2 killed; ${count} kv.put on node 1`)
    const w0 = performance.now()
    await writeBatches(first, count)
    const writeMs = performance.now() - w0
    // Let node 1's event log compact down to its retention before node 2 comes back.
    await pollUntil(async () => (await first.client.call('events.stats', {})).stored <= CONFIG.events.retentionMaxEvents * 2, 15_000, 250)
    const eventsStored = (await first.client.call('events.stats', {})).stored

    const restartAt = performance.now()
    const second = await swarm.restart(2)
    await waitFor(async () => await second.client.call('kv.stats', {}, { timeoutMs: 1000 }), 20_000, 'node 2 RPC')
    const t0 = performance.now()
    const done = await pollUntil(async () => {
      const [a, b] = await Promise.all([first, second].map(async n => await n.client.call('kv.stats', {}, { timeoutMs: 5000 }).catch(() => undefined)))
      return a !== undefined && b !== undefined && b.keys === count && a.root === b.root
    }, DEADLINE_MS, count <= BEHIND ? 50 : POLL_MS)
    if (!done) throw new Error(`node 2 did not catch up on ${count} writes within ${DEADLINE_MS} ms`)
    const catchupMs = performance.now() - t0
    const { repaired } = await second.client.call('events.stats', {})
    return { writeMs, catchupMs, sinceRestartMs: performance.now() - restartAt, eventsStored, repaired }
  } finally {
    await swarm.destroy()
  }
}

interface Bytes { sent: number, received: number }
const minus = (a: Bytes, b: Bytes): Bytes => ({ sent: a.sent - b.sent, received: a.received - b.received })

interface InProcess extends Outcome { node2: Bytes, node1: Bytes, inSync: number[], recordBytes: number }

async function inProcess (): Promise<InProcess> {
  const mem = await MemoryNodes.create(CONFIG)
  try {
    const first = await mem.start(1)
    await mem.start(2, first)
    const alive = (n: ShoalNode): number => n.members().filter(m => m.state === 'alive').length
    if (!await pollUntil(() => [...mem.nodes.values()].every(n => alive(n) === 2), 30_000, 50)) throw new Error('in-process nodes did not meet')
    await mem.stop(2)
    log(`kv-catchup: in-process node 2 stopped; ${COUNT} node.kv.put on node 1`)
    const w0 = performance.now()
    await drive(COUNT, WRITERS, async i => await first.kv.put(key(i), kvValue(i)), DEADLINE_MS)
    const writeMs = performance.now() - w0
    await pollUntil(() => first.events.stats().stored <= CONFIG.events.retentionMaxEvents * 2, 15_000, 250)
    const eventsStored = first.events.stats().stored

    const before1 = first.kv.sync.traffic()
    const restartAt = performance.now()
    const second = await mem.start(2, first)
    const t0 = performance.now()
    const done = await pollUntil(() => second.kv.stats().keys === COUNT && second.kv.root() === first.kv.root(), DEADLINE_MS, POLL_MS)
    if (!done) throw new Error(`in-process node 2 did not catch up on ${COUNT} writes within ${DEADLINE_MS} ms`)
    const catchupMs = performance.now() - t0
    const sinceRestartMs = performance.now() - restartAt
    const node2 = second.kv.sync.traffic()
    const node1 = minus(first.kv.sync.traffic(), before1)
    const repaired = second.events.stats().repaired
    // What the differing records weigh: each key's signed event as JSON, the unit anti-entropy ships.
    let recordBytes = 0
    for (let i = 0; i < COUNT; i++) recordBytes += Buffer.byteLength(JSON.stringify((await second.kv.get(key(i))).event))

    // In sync: one round from node 2 to node 1 at a time, bytes both ways.
    await sleep(500)
    const inSync: number[] = []
    for (let k = 0; k < IN_SYNC_ROUNDS; k++) {
      const b = second.kv.sync.traffic()
      await second.kv.sync.round(first.peerId)
      const d = minus(second.kv.sync.traffic(), b)
      inSync.push(d.sent + d.received)
    }
    return { writeMs, catchupMs, sinceRestartMs, eventsStored, repaired, node2, node1, inSync, recordBytes }
  } finally {
    await mem.destroy()
  }
}

// A short figure on a shared box: the median of BEHIND_RUNS fresh swarms, with the fastest and slowest.
const behindRuns: Outcome[] = []
for (let r = 0; r < BEHIND_RUNS; r++) {
  behindRuns.push(await daemons(BEHIND))
  log(`kv-catchup: daemons, ${BEHIND} behind ${JSON.stringify(behindRuns.at(-1))}`)
}
const byCatchup = [...behindRuns].sort((a, b) => a.catchupMs - b.catchupMs)
const behind = byCatchup[byCatchup.length >> 1]!
const spread = (pick: (o: Outcome) => number): string => `${ms(pick(behind))} (${ms(Math.min(...behindRuns.map(pick)))}-${ms(Math.max(...behindRuns.map(pick)))})`
const real = await daemons(COUNT)
log(`kv-catchup: daemons ${JSON.stringify(real)}`)
const mem = await inProcess()
log(`kv-catchup: in-process ${JSON.stringify(mem)}`)

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`
const both = (b: Bytes): string => `${mb(b.sent)} sent, ${mb(b.received)} received`
const total = mem.node2.sent + mem.node2.received + mem.node1.sent + mem.node1.received
const n = COUNT.toLocaleString('en-US')
const row = (what: string, a: string, b: string): string[] => [what, a, b]

process.stdout.write(`## KV catch-up after downtime and anti-entropy cost${SMOKE ? ' (smoke)' : ''}

Method: 2 nodes whose config sets \`events.retentionMaxEvents: 1000\` and \`events.compactIntervalMs: 500\`, so node 1's
event log keeps only its last ~1000 events and the Merkle anti-entropy, not event replay, repairs the rest.
Node 2 goes down, node 1 takes ${n} \`kv.put\` (fresh keys, about ${DATA_BYTES} B JSON values, acks = 1), node 2 comes back on
the same data dir and identity. Catch-up time runs from node 2 answering until its \`kv.stats\` shows ${n} keys and
the same Merkle root as node 1 (polled every ${POLL_MS} ms). Daemons: LocalSwarm on 127.0.0.1, node 2 killed with SIGKILL,
writes as JSON-RPC batches of ${BATCH}, ${WRITERS} at a time. The anti-entropy byte counters (\`kv.sync.traffic()\`: JSON of the
requests a node sends in its own rounds and of the answers it gets) are not exposed over RPC, so bytes are
measured on the same scenario in-process: two ShoalNodes in the bench process over the memory transport, node 2
stopped with stop() and started again on its data dir, node 1 writing through \`node.kv.put\` from ${WRITERS} loops. The
in-sync round is \`node.kv.sync.round(node 1)\` from node 2 on converged replicas (${IN_SYNC_ROUNDS} rounds). Baseline for the
bytes: the size of the records that differed (each key's signed event as JSON, what a \`get\` reply carries); the issue's
target is at most 1.5x. The same daemon scenario with ${BEHIND.toLocaleString('en-US')} keys behind (polled every 50 ms) gives the issue's
second figure: catch-up in at most ${BEHIND_TARGET_MS / 1000} s; it runs on ${BEHIND_RUNS} fresh swarms, and the table gives the median run, with the
fastest and slowest in brackets.

| ${BEHIND.toLocaleString('en-US')} keys behind (daemons) | measured | target |
| --- | --- | --- |
| catch-up time (equal roots) | ${spread(o => o.catchupMs)} | at most ${ms(BEHIND_TARGET_MS)} |
| time from restart command (process start included) | ${spread(o => o.sinceRestartMs)} | |

${table(['metric', 'daemons (LocalSwarm)', 'in-process (memory transport)'], [
  row(`writing ${n} keys on node 1 while node 2 is down`, `${ms(real.writeMs)} (${rate(COUNT / (real.writeMs / 1000), 'writes/s')})`, `${ms(mem.writeMs)} (${rate(COUNT / (mem.writeMs / 1000), 'writes/s')})`),
  row('events left in node 1\'s log at restart', real.eventsStored.toLocaleString('en-US'), mem.eventsStored.toLocaleString('en-US')),
  row(`catch-up time (${n} keys, equal roots)`, ms(real.catchupMs), ms(mem.catchupMs)),
  row('catch-up rate', rate(COUNT / (real.catchupMs / 1000), 'keys/s'), rate(COUNT / (mem.catchupMs / 1000), 'keys/s')),
  row('time from restart command (process start included)', ms(real.sinceRestartMs), ms(mem.sinceRestartMs)),
  row('events repaired by the event path on node 2', real.repaired.toLocaleString('en-US'), mem.repaired.toLocaleString('en-US')),
  row('anti-entropy bytes, node 2\'s rounds', 'not measured (no RPC counter)', both(mem.node2)),
  row('anti-entropy bytes, node 1\'s rounds', 'not measured (no RPC counter)', both(mem.node1)),
  row('anti-entropy bytes in all, per key repaired', 'not measured', `${mb(total)}, ${Math.round(total / COUNT)} B/key`),
  row('the differing records\' own size (signed events as JSON)', 'not measured', `${mb(mem.recordBytes)}, ${Math.round(mem.recordBytes / COUNT)} B/key`),
  row('anti-entropy bytes / record size (target at most 1.5x)', 'not measured', `${(total / mem.recordBytes).toFixed(2)}x`),
  row('bytes per anti-entropy round when in sync (both ways)', 'not measured', `${median(mem.inSync)} B (median of ${IN_SYNC_ROUNDS}: ${mem.inSync.join(', ')})`)
])}
`)
process.exit(0)
