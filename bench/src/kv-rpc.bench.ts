/**
 * KV through JSON-RPC: a real daemon answering kv.put / kv.get over HTTP from C concurrent keep-alive
 * clients, beside a bare node:http server in a child process answering the same payloads with a canned
 * result, driven by the same client code in the same run. Prints one Markdown section.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readToken } from '@shoal/node'
import { DATA_BYTES, SMOKE, log, nodes, withSwarm } from './common.js'
import { drive, kvValue } from './kv-common.js'
import { rate, ratio, table } from './stats.js'

const COUNT = SMOKE ? 300 : 5000
const CLIENTS = 16
const WARMUP = 100
const PEER_PATH = fileURLToPath(new URL('./kv-http-peer.js', import.meta.url))

interface Target { url: string, headers: Record<string, string> }

let rpcId = 0

/** One JSON-RPC call with fetch (undici keeps connections alive); throws on an HTTP or JSON-RPC error. */
async function call (t: Target, method: string, params: Record<string, unknown>): Promise<unknown> {
  const res = await fetch(t.url, { method: 'POST', headers: t.headers, body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }), signal: AbortSignal.timeout(30_000) })
  const body = await res.json() as { result?: unknown, error?: { message: string } }
  if (!res.ok || body.error !== undefined) throw new Error(`${method}: HTTP ${res.status} ${body.error?.message ?? ''}`)
  return body.result
}

async function measure (t: Target, run: string): Promise<{ put: number, get: number }> {
  const key = (i: number): string => `bench/${run}/${i}`
  await drive(WARMUP, CLIENTS, async i => await call(t, 'kv.put', { key: `warm/${run}/${i}`, value: kvValue(i) }))
  const put = await drive(COUNT, CLIENTS, async i => await call(t, 'kv.put', { key: key(i), value: kvValue(i) }))
  const get = await drive(COUNT, CLIENTS, async i => await call(t, 'kv.get', { key: key(i) }))
  return { put, get }
}

async function baseline (): Promise<{ put: number, get: number }> {
  const child = fork(PEER_PATH, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('http baseline did not start')) }, 10_000)
      child.once('message', m => { clearTimeout(timer); resolve((m as { port: number }).port) })
      child.once('exit', () => { clearTimeout(timer); reject(new Error('http baseline exited')) })
    })
    return await measure({ url: `http://127.0.0.1:${port}/rpc`, headers: { 'content-type': 'application/json' } }, 'base')
  } finally {
    child.disconnect()
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(timer)
  }
}

const shoal = await withSwarm(1, async swarm => {
  const [node] = nodes(swarm)
  log(`kv-rpc: daemon, ${COUNT} requests each from ${CLIENTS} clients`)
  const token = await readToken(node!.dataDir)
  return await measure({ url: node!.rpcUrl, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, 'shoal')
})
log(`kv-rpc: daemon ${JSON.stringify(shoal)}`)
const base = await baseline()
log(`kv-rpc: bare http ${JSON.stringify(base)}`)

const req = (v: number): string => rate(v, 'req/s')
process.stdout.write(`## KV through JSON-RPC: daemon vs bare node:http${SMOKE ? ' (smoke)' : ''}

Method: one daemon on 127.0.0.1 (LocalSwarm, its own process); the bench process sends ${COUNT.toLocaleString('en-US')} \`kv.put\` (fresh keys,
about ${DATA_BYTES} B JSON values, default acks = 1, so each is fsync'd) and then ${COUNT.toLocaleString('en-US')} \`kv.get\` of those keys, one JSON-RPC
request per HTTP POST from C = ${CLIENTS} concurrent clients over keep-alive fetch, after ${WARMUP} warm-up requests. Baseline: a
bare node:http server in a child process answering the same requests with a canned result of the same shape
(no auth, no validation, no storage), driven by the same client code in the same run; so the ratio is the
cost of the daemon's RPC layer plus the KV work behind it.

${table(['operation', 'Shoal daemon', 'bare node:http', 'Shoal / baseline'], [
  [`kv.put, ${CLIENTS} clients`, req(shoal.put), req(base.put), ratio(shoal.put, base.put)],
  [`kv.get, ${CLIENTS} clients`, req(shoal.get), req(base.get), ratio(shoal.get, base.get)]
])}
`)
process.exit(0)
