/**
 * JSON-RPC fuzzing over the WebSocket endpoint of a real daemon (issue 13), the sibling of rpc-fuzz.test.ts (which
 * fuzzes POST /rpc). Several sockets at once send: calls of every method and every subscription with params
 * generated from their schemas and near misses of them; rpc.unsubscribe of real and made-up ids; raw text of every
 * kind (broken JSON, batches, deep nesting, odd ids); binary frames that are not UTF-8. Sockets are cut by the
 * client mid-flight, subscriptions and all, and new ones opened. One socket sends a message over the size limit.
 *
 * Every message from the server must be a JSON-RPC answer or a notification of a subscription; no -32603 in
 * either; error codes from the documented table; results and notifications follow their schemas; every call
 * we can match by id is answered within a deadline; a socket closes only with a documented code (1009 for the
 * oversized message, else never while we read). Afterwards the daemon answers, its RSS grew boundedly and its
 * /metrics show no socket and no queued byte left.
 *
 * Bounded for CI (SHOAL_FUZZ_WS_MESSAGES, default 3000, about 5 s, seed SHOAL_FUZZ_SEED or 13). By hand:
 * `scripts/dev fuzz [BODIES] [SEED]` runs this file too, with BODIES messages.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { WebSocket } from 'ws'
import { LocalSwarm, type LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { RPC_ERROR_DOCS, RpcErrorCode, shoalMethods, shoalSubscriptions, toJSONSchema, validate, ValidationError, type JsonSchema } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'
import { arbitraryOf, nearMiss, rawBody } from './helpers/arbitrary.js'
import { samples, scrapeMetrics } from './helpers/metrics.js'

const MESSAGES = Number(process.env.SHOAL_FUZZ_WS_MESSAGES ?? process.env.SHOAL_FUZZ_BODIES ?? 3000)
const SEED = Number(process.env.SHOAL_FUZZ_SEED ?? 13)
const CALL_DEADLINE_MS = 20_000
/** Sockets open at once, and messages each sends before the client cuts it (terminate, no close frame). */
const SOCKETS = 4
const PER_SOCKET = 120
/** Calls in flight per socket: below the server's 64, so the fuzz never relies on its read pausing. */
const IN_FLIGHT = 16
const MAX_RSS_GROWTH_BYTES = 256 * 1024 * 1024
/**
 * Far over the daemon's message limit, which is its HTTP body limit: max(1 MiB, 2 x kv.maxValueBytes + 64 KiB)
 * (packages/cli/src/daemon.ts), 2.06 MiB with the default config.
 */
const OVERSIZED_BYTES = 8 * 1024 * 1024
/** Close codes the docs name: 1001 server stopping, 1008 slow consumer, 1009 message too big, 1013 too many sockets. */
const DOCUMENTED_CLOSES = new Set([1001, 1008, 1009, 1013])

const DOCUMENTED = new Set(RPC_ERROR_DOCS.map(e => e.code).filter(c => c !== RpcErrorCode.INTERNAL_ERROR))
const methods = Object.values(shoalMethods)
const subscriptions = [...shoalSubscriptions]
const names = [...methods.map(m => m.name), ...subscriptions.map(s => s.name)]

/** As in rpc-fuzz.test.ts: no dials off the machine, no built-in CPU-bound job handlers. */
const OVERRIDES: Record<string, Record<string, fc.Arbitrary<unknown>>> = {
  'swarm.connect': { addr: fc.oneof(fc.integer({ min: 1, max: 65535 }).map(p => `/ip4/127.0.0.1/tcp/${p}`), fc.stringMatching(/^\/[a-z]{0,12}$/)) },
  'task.submit': { handler: fc.string({ minLength: 1, maxLength: 40 }).filter(h => !/^(primes|wordcount|hash|sleep|exec:.*)$/.test(h)) }
}

let swarm: LocalSwarm
let node: LocalNode
let token: string
let wsUrl: string

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  try {
    node = await swarm.start(1)
    token = await readToken(node.dataDir)
    wsUrl = node.rpcUrl.replace(/^http/, 'ws') + '/ws'
  } catch (err) { await swarm.destroy(); throw err }
})
test.after(async () => { await swarm?.destroy() })

async function rss (): Promise<number> {
  const status = await readFile(`/proc/${node.child.pid ?? 0}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

async function metrics (): Promise<Map<string, number>> {
  return samples(await scrapeMetrics(node, token))
}

/** One message to send: a call we track by id (`method` set), raw text, or a binary frame. */
type Msg = { kind: 'call', method: string, params: unknown } | { kind: 'raw', text: string } | { kind: 'binary', bytes: Uint8Array } | { kind: 'unsubscribe' }

function messages (): Msg[] {
  const out: Msg[] = []
  const callable = [...methods.map(m => ({ name: m.name, params: m.params })), ...subscriptions.map(s => ({ name: s.name, params: s.params }))]
  const perMethod = Math.max(2, Math.floor((MESSAGES * 0.6) / callable.length))
  callable.forEach((def, i) => {
    const valid = arbitraryOf(toJSONSchema(def.params) as JsonSchema, OVERRIDES[def.name] ?? {})
    const params = fc.sample(fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: nearMiss(valid) }), { seed: SEED + i, numRuns: perMethod })
    params.forEach((p, k) => {
      if (def.name === 'task.result' && typeof p === 'object' && p !== null && (p as { wait?: unknown }).wait === true) (p as { timeoutMs?: unknown }).timeoutMs = 1 + (k % 200)
      out.push({ kind: 'call', method: def.name, params: p })
    })
  })
  const rest = Math.max(0, MESSAGES - out.length)
  for (const text of fc.sample(rawBody(names.filter(n => n !== 'swarm.connect')), { seed: SEED, numRuns: Math.ceil(rest * 0.7) })) out.push({ kind: 'raw', text })
  for (const bytes of fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }), { seed: SEED + 1, numRuns: Math.ceil(rest * 0.1) })) out.push({ kind: 'binary', bytes })
  for (let i = 0; i < Math.ceil(rest * 0.2); i++) out.push({ kind: 'unsubscribe' })
  // Interleave kinds (seeded), so subscriptions are open while everything else arrives.
  const order = fc.sample(fc.shuffledSubarray(out.map((_, i) => i), { minLength: out.length, maxLength: out.length }), { seed: SEED, numRuns: 1 })[0]!
  return order.map(i => out[i]!)
}

const callDefs = new Map<string, { result?: unknown, subscription: boolean }>([
  ...methods.map(m => [m.name, { result: m.result, subscription: false }] as const),
  ...subscriptions.map(s => [s.name, { subscription: true }] as const)
])
const notificationDefs = new Map<string, unknown>(subscriptions.map(s => [s.name, s.notification]))

/** Checks one message from the server; returns a problem, or undefined. `pending` maps our ids to methods. */
function problem (text: string, pending: Map<string, { method: string }>, subs: Set<string>): string | undefined {
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { return `not JSON: ${text.slice(0, 200)}` }
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    const a = m as { jsonrpc?: unknown, id?: unknown, method?: unknown, params?: { subscription?: unknown, result?: unknown, error?: { code?: unknown } }, result?: unknown, error?: { code?: unknown } }
    if (a.jsonrpc !== '2.0') return `not JSON-RPC: ${text.slice(0, 200)}`
    if (typeof a.method === 'string') {
      // A notification of one of our subscriptions.
      const schema = notificationDefs.get(a.method)
      if (schema === undefined) return `notification of an unknown subscription ${a.method}`
      if (typeof a.params?.subscription !== 'string') return `notification without a subscription id: ${text.slice(0, 200)}`
      if (a.params.error !== undefined) {
        if (a.params.error.code === RpcErrorCode.INTERNAL_ERROR) return `-32603 ending a ${a.method} subscription`
        if (typeof a.params.error.code !== 'number' || !DOCUMENTED.has(a.params.error.code)) return `undocumented error code ${String(a.params.error.code)} ending a subscription`
        subs.delete(a.params.subscription)
      } else {
        const checked = validate(schema as never, a.params.result, 'result')
        if (checked instanceof ValidationError) return `${a.method} notification does not follow its schema: ${checked.message}`
      }
      continue
    }
    const ours = typeof a.id === 'string' ? pending.get(a.id) : undefined
    if (ours !== undefined) pending.delete(a.id as string)
    if (a.error !== undefined) {
      if (a.error.code === RpcErrorCode.INTERNAL_ERROR) return '-32603 Internal error'
      if (typeof a.error.code !== 'number' || !DOCUMENTED.has(a.error.code)) return `undocumented error code ${String(a.error.code)}`
      continue
    }
    if (ours === undefined) continue
    const def = callDefs.get(ours.method)
    if (def?.subscription === true) {
      const sub = (a.result as { subscription?: unknown } | undefined)?.subscription
      if (typeof sub !== 'string') return `${ours.method} answered without a subscription id: ${text.slice(0, 200)}`
      subs.add(sub)
    } else if (ours.method === 'rpc.unsubscribe') {
      if (typeof a.result !== 'boolean') return `rpc.unsubscribe answered ${JSON.stringify(a.result)}`
    } else if (def !== undefined) {
      const checked = validate(def.result as never, a.result, 'result')
      if (checked instanceof ValidationError) return `${ours.method}: result does not follow its schema: ${checked.message}`
    }
  }
  return undefined
}

/** Runs `batch` on one socket; resolves with the problems found. The client cuts the socket at the end. */
async function runSocket (batch: Msg[], tag: string, failures: string[]): Promise<void> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
  const pending = new Map<string, { method: string, sentAt: number, body: string }>()
  const subs = new Set<string>()
  let closedBy: number | undefined
  let cutting = false
  ws.on('message', data => {
    const text = data.toString()
    const found = problem(text, pending, subs)
    if (found !== undefined) failures.push(`${tag}: ${found}\n    answer: ${text.slice(0, 200)}`)
  })
  /** Waits for answers; a call unanswered past the deadline is a hang, reported with its body. */
  const answered = async (done: () => boolean): Promise<void> => {
    try {
      await waitUntil('answers', done, { timeoutMs: CALL_DEADLINE_MS, intervalMs: 5 })
    } catch {
      throw new Error(`${tag}: calls unanswered for ${CALL_DEADLINE_MS} ms: ${[...pending.values()].map(p => p.body.slice(0, 160)).join(' | ')}`)
    }
  }
  const closed = new Promise<void>(resolve => ws.once('close', code => { if (!cutting) closedBy = code; resolve() }))
  let n = 0
  for (const msg of batch) {
    if (closedBy !== undefined || failures.length >= 5) break
    // At most IN_FLIGHT tracked calls outstanding: wait for answers (each within the deadline).
    if (pending.size >= IN_FLIGHT) await answered(() => pending.size < IN_FLIGHT || closedBy !== undefined)
    const id = `${tag}-${n++}`
    if (msg.kind === 'call') {
      const body = JSON.stringify({ jsonrpc: '2.0', id, method: msg.method, params: msg.params })
      pending.set(id, { method: msg.method, sentAt: Date.now(), body })
      ws.send(body)
    } else if (msg.kind === 'unsubscribe') {
      // A real subscription id when there is one, else a made-up one.
      const sub = n % 3 !== 0 ? [...subs][n % Math.max(1, subs.size)] : undefined
      const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'rpc.unsubscribe', params: { subscription: sub ?? `x${n}` } })
      pending.set(id, { method: 'rpc.unsubscribe', sentAt: Date.now(), body })
      ws.send(body)
    } else if (msg.kind === 'raw') {
      ws.send(msg.text)
    } else {
      ws.send(msg.bytes, { binary: true })
    }
  }
  await answered(() => pending.size === 0 || closedBy !== undefined)
  if (closedBy !== undefined && !DOCUMENTED_CLOSES.has(closedBy)) failures.push(`${tag}: the server closed the socket with ${closedBy}, not a documented code`)
  else if (closedBy !== undefined) failures.push(`${tag}: the server closed a socket that reads with ${closedBy}`)
  // Cut without a close frame, subscriptions and all: the server must free what the socket held.
  cutting = true
  ws.terminate()
  await closed
}

test(`${MESSAGES} fuzzed WebSocket messages (seed ${SEED}): no -32603, every call answered, only documented closes`, async () => {
  const all = messages()
  const before = await rss()
  const failures: string[] = []
  const started = Date.now()
  let next = 0
  let socketNo = 0
  await Promise.all(Array.from({ length: SOCKETS }, async () => {
    while (next < all.length && failures.length < 5) {
      const batch = all.slice(next, next + PER_SOCKET)
      next += PER_SOCKET
      try {
        await runSocket(batch, `s${socketNo++}`, failures)
      } catch (err) {
        failures.push(String((err as Error).message ?? err))
      }
    }
  }))
  assert.equal(failures, [], `seed ${SEED}:\n${failures.join('\n')}`)

  // A message over the limit closes its socket with 1009; the daemon carries on.
  const big = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } })
  await new Promise<void>((resolve, reject) => { big.once('open', () => { resolve() }); big.once('error', reject) })
  let closeCode: number | undefined
  big.once('close', c => { closeCode = c })
  big.on('error', () => {})
  big.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.publish', params: { topic: 't', data: 'x'.repeat(OVERSIZED_BYTES) } }))
  try {
    await waitUntil('the server to close the socket that sent an oversized message', () => closeCode !== undefined, { timeoutMs: CALL_DEADLINE_MS })
  } finally {
    big.terminate()
  }
  assert.is(closeCode, 1009, 'a message over the limit closes its socket with 1009 (docs/rpc.md)')

  const info = JSON.parse(await (await fetch(node.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"jsonrpc":"2.0","id":1,"method":"node.info"}' })).text())
  assert.is(typeof info.result?.peerId, 'string')
  // Every socket we cut is gone from the server with its queue.
  await waitUntil('the server to free every WebSocket connection the client cut', async () => (await metrics()).get('shoal_rpc_ws_connections') === 0, { timeoutMs: 15_000 })
  const m = await metrics()
  assert.is(m.get('shoal_rpc_ws_queued_bytes'), 0)
  const after = await rss()
  console.log(`  ${all.length} messages on ${socketNo} sockets in ${((Date.now() - started) / 1000).toFixed(1)} s; daemon RSS ${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MiB`)
  assert.ok(after - before < MAX_RSS_GROWTH_BYTES, `RSS grew by ${((after - before) / 2 ** 20).toFixed(0)} MiB`)
})

test.run()
