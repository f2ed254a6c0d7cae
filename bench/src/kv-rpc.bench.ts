/**
 * KV through JSON-RPC: a real daemon answering kv.put, kv.get and node.ping over HTTP, beside a bare node:http
 * server doing the same storage work with classic-level (kv-http-peer.ts), both driven in the same run by the
 * same independent load generator (load-generator.ts: autocannon in its own process, closed loop, 32
 * keep-alive connections), whose own CPU time is reported beside the result. Prints one Markdown section.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readToken } from '@shoal/node'
import { DATA_BYTES, SMOKE, log, nodes, withSwarm } from './common.js'
import type { LoadJob, LoadResult } from './load-generator.js'
import { cpuMs } from './proc-cpu.js'
import { median, rate, ratio, table } from './stats.js'

const COUNT = SMOKE ? 500 : 20_000
const CONNECTIONS = 32
const WARMUP = SMOKE ? 100 : 2000
const PEER_PATH = fileURLToPath(new URL('./kv-http-peer.js', import.meta.url))
const GENERATOR_PATH = fileURLToPath(new URL('./load-generator.js', import.meta.url))
const METHODS = ['kv.put', 'kv.get', 'node.ping'] as const
const ROUNDS = SMOKE ? 1 : 3
type Method = typeof METHODS[number]

interface Target { url: string, headers: Record<string, string>, pid: number }
interface Measured { result: LoadResult, serverCpuMs: number }

/** One load job in a fresh generator process. */
async function load (job: LoadJob): Promise<LoadResult> {
  const child = fork(GENERATOR_PATH, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  return await new Promise<LoadResult>((resolve, reject) => {
    child.once('message', m => {
      const r = m as LoadResult & { error?: string }
      if (r.error !== undefined) reject(new Error(`load generator: ${r.error}`))
      else resolve(r)
    })
    child.once('exit', code => { reject(new Error(`load generator exited (${code ?? 'signal'}) without a result`)) })
    child.send(job)
  })
}

async function measure (t: Target, run: string): Promise<Record<Method, Measured>> {
  const job = (method: Method, prefix: string, amount: number): LoadJob => ({ url: t.url, headers: t.headers, method, prefix, keySpace: COUNT, connections: CONNECTIONS, amount })
  await load(job('kv.put', `warm/${run}/`, WARMUP))
  const out: Partial<Record<Method, Measured>> = {}
  for (const method of METHODS) {
    const before = await cpuMs(t.pid)
    const result = await load(job(method, `bench/${run}/`, COUNT))
    const serverCpuMs = await cpuMs(t.pid) - before
    if (result.failed > 0 || result.errors > 0) throw new Error(`${run} ${method}: ${result.failed} failed answers, ${result.errors} errors`)
    out[method] = { result, serverCpuMs }
    log(`kv-rpc: ${run} ${method} ${Math.round(result.requestsPerSecond)} req/s, generator ${result.cpuMs.toFixed(0)} ms CPU, server ${serverCpuMs.toFixed(0)} ms CPU`)
  }
  return out as Record<Method, Measured>
}

async function withChild<T> (child: ChildProcess, fn: (port: number) => Promise<T>): Promise<T> {
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('http baseline did not start')) }, 10_000)
      child.once('message', m => { clearTimeout(timer); resolve((m as { port: number }).port) })
      child.once('exit', () => { clearTimeout(timer); reject(new Error('http baseline exited')) })
    })
    return await fn(port)
  } finally {
    child.disconnect()
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(timer)
  }
}

/**
 * Both targets run side by side; each round measures the daemon, then the baseline, so drift on a shared box
 * (its other work, the disk's fsync time) lands on both alike. The table gives each figure's median over the
 * rounds and, per method, every round's ratio.
 */
async function measureBoth (): Promise<{ shoal: Array<Record<Method, Measured>>, base: Array<Record<Method, Measured>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-rpc-base-'))
  try {
    return await withSwarm(1, async swarm => {
      const [node] = nodes(swarm)
      const daemon: Target = { url: node!.rpcUrl, headers: { authorization: `Bearer ${await readToken(node!.dataDir)}` }, pid: node!.child.pid! }
      const child = fork(PEER_PATH, [join(dir, 'db')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      return await withChild(child, async port => {
        const bare: Target = { url: `http://127.0.0.1:${port}/rpc`, headers: {}, pid: child.pid! }
        const out = { shoal: [] as Array<Record<Method, Measured>>, base: [] as Array<Record<Method, Measured>> }
        for (let r = 0; r < ROUNDS; r++) {
          log(`kv-rpc: round ${r + 1} of ${ROUNDS}, ${COUNT} requests per method from ${CONNECTIONS} connections`)
          out.shoal.push(await measure(daemon, `shoal${r}`))
          out.base.push(await measure(bare, `base${r}`))
        }
        return out
      })
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const runs = await measureBoth()
const mid = (side: Array<Record<Method, Measured>>, method: Method, f: (m: Measured) => number): number => median(side.map(r => f(r[method])))

const req = (v: number): string => rate(v, 'req/s')
const rows = METHODS.map(method => {
  const rps = (m: Measured): number => m.result.requestsPerSecond
  const [s, b] = [mid(runs.shoal, method, rps), mid(runs.base, method, rps)]
  const perRound = runs.shoal.map((r, i) => (rps(r[method]) / rps(runs.base[i]![method])).toFixed(2)).join(', ')
  const us = (side: Array<Record<Method, Measured>>, f: (m: Measured) => number): string => `${(mid(side, method, f) * 1000 / COUNT).toFixed(0)} µs`
  return [`${method}`, req(s), req(b), ratio(s, b), perRound,
    `${mid(runs.shoal, method, m => m.result.p99Ms)} ms / ${mid(runs.base, method, m => m.result.p99Ms)} ms`,
    `${us(runs.shoal, m => m.serverCpuMs)} / ${us(runs.base, m => m.serverCpuMs)}`, `${us(runs.shoal, m => m.result.cpuMs)} / ${us(runs.base, m => m.result.cpuMs)}`]
})
process.stdout.write(`## KV through JSON-RPC: daemon vs bare node:http${SMOKE ? ' (smoke)' : ''}

Method: one daemon on 127.0.0.1 (LocalSwarm, its own process) and, in the same run, a bare node:http server in
its own process doing the same storage work with classic-level and none of the daemon's layers (no token, no
validation, no events, no replication): \`kv.put\` is a put with \`sync: true\` (an acknowledged Shoal put is
fsync'd; default acks = 1), \`kv.get\` a get, \`node.ping\` answers the time. Load: autocannon in a separate process
(bench/src/load-generator.ts), closed loop over ${CONNECTIONS} keep-alive connections, one JSON-RPC request per HTTP POST,
${COUNT.toLocaleString('en-US')} requests per method (puts on fresh keys with about ${DATA_BYTES} B JSON values, then gets of those keys, then pings),
after ${WARMUP.toLocaleString('en-US')} warm-up puts; each job in a fresh generator process. Both servers run side by side and
${ROUNDS} rounds alternate them (daemon, then baseline); each figure is the median over the rounds, and the ratio of each
round is listed too. CPU: the server's from /proc/<pid>/stat (all its
threads, LevelDB's included), the generator's from its own process.cpuUsage(). The box has 2 cores, so the
generator's CPU is taken from the same cores as the server's, for both targets alike.

${table(['method', 'Shoal daemon', 'bare node:http + classic-level', 'Shoal / baseline (medians)', 'Shoal / baseline, each round', 'p99 (Shoal / baseline)', 'server CPU per request (Shoal / baseline)', 'generator CPU per request (Shoal run / baseline run)'], rows)}
`)
process.exit(0)
