/**
 * An independent JSON-RPC load generator, run as a child process so that its own cost is separate from the
 * bench process and known: autocannon (closed loop, `connections` keep-alive HTTP/1.1 connections, one request
 * in flight on each) sends `amount` requests of one method, with a fresh body per request. Receives a LoadJob
 * over IPC, answers with a LoadResult (its own CPU time included), then exits.
 */
import autocannon from 'autocannon'
import { kvValue } from './kv-common.js'

export interface LoadJob {
  url: string
  headers: Record<string, string>
  method: 'kv.put' | 'kv.get' | 'node.ping'
  /** Keys are `${prefix}${i}`; kv.get reads keys 0 .. keySpace-1 round robin (written by an earlier kv.put job). */
  prefix: string
  keySpace: number
  connections: number
  amount: number
}

export interface LoadResult {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  /** Answers that were not HTTP 200 with a JSON-RPC result. */
  failed: number
  /** The generator's own CPU time over the run, ms (user + system). */
  cpuMs: number
  durationMs: number
}

async function run (job: LoadJob): Promise<LoadResult> {
  let next = 0
  let failed = 0
  const body = (): string => {
    const i = next++
    const params = job.method === 'node.ping' ? {} : job.method === 'kv.get' ? { key: `${job.prefix}${i % job.keySpace}` } : { key: `${job.prefix}${i}`, value: kvValue(i) }
    return JSON.stringify({ jsonrpc: '2.0', id: i, method: job.method, params })
  }
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  let lastAnswer = started
  const result = await autocannon({
    url: job.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...job.headers },
    connections: job.connections,
    pipelining: 1,
    amount: job.amount,
    requests: [{ setupRequest: req => ({ ...req, body: body() }) }],
    // Counts answers that are not a JSON-RPC result (an error object, or not JSON at all).
    setupClient: client => {
      client.on('body', (buf: Buffer) => { if (!buf.includes('"result"')) failed++ })
      client.on('response', () => { lastAnswer = performance.now() })
    }
  })
  // From the first request to the last answer: autocannon ends a run on its 1 s sampling tick, which would
  // pad a short run by up to a second.
  const durationMs = lastAnswer - started
  const cpu = process.cpuUsage(cpu0)
  return {
    requestsPerSecond: result.requests.total / (durationMs / 1000),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    failed: failed + result.non2xx,
    cpuMs: (cpu.user + cpu.system) / 1000,
    durationMs
  }
}

process.once('message', job => {
  run(job as LoadJob).then(r => { process.send?.(r, () => { process.exit(0) }) }, err => {
    process.send?.({ error: (err as Error).message }, () => { process.exit(1) })
  })
})
