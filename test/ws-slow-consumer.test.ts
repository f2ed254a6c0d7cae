/**
 * A WebSocket subscriber that stops reading, on a real daemon (issue 13): the daemon drops it as a slow
 * consumer, cuts its socket within a deadline and frees what it held, while its queue stays under the bound.
 * A second subscriber that reads normally gets every event and is not dropped. What the daemon holds is read
 * from its own /metrics (shoal_rpc_ws_*, process_resident_memory_bytes).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { createWsClient } from '@shoal/rpc'
import type { WsClient } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'
import { samples, scrapeMetrics } from './helpers/metrics.js'

/** The server's defaults (packages/rpc/src/constants.ts): queue cap, stall deadline, close grace. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024
const STALL_MS = 15_000
const CLOSE_GRACE_MS = 5_000
const EVENTS = 600
const EVENT_BYTES = 60 * 1000

let swarm: LocalSwarm
let node: LocalNode
let token: string
const cleanup: Array<() => unknown> = []

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  node = await swarm.start(1)
  token = await readToken(node.dataDir)
})

test.after(async () => {
  for (const f of cleanup.splice(0)) await f()
  await swarm.destroy()
})

async function metrics (): Promise<Map<string, number>> {
  return samples(await scrapeMetrics(node, token))
}

test('a subscriber that stops reading is dropped and its socket cut within the deadline; its queue stays bounded', async () => {
  const wsUrl = node.rpcUrl.replace(/^http/, 'ws') + '/ws'
  const reader: WsClient = await createWsClient({ url: wsUrl, token })
  cleanup.push(async () => { await reader.close() })
  let read = 0
  let readerError: unknown
  await reader.subscribe('events.subscribe', { topic: 'big' }, { onNotification: () => { read++ }, onError: e => { readerError = e } })

  const stuck = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } })
  cleanup.push(() => { stuck.terminate() })
  stuck.on('error', () => {})
  await once(stuck, 'open')
  const answers: any[] = []
  stuck.on('message', data => { answers.push(JSON.parse(data.toString())) })
  stuck.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topic: 'big' } }))
  await waitUntil('the subscription answer', () => answers.length === 1)
  assert.equal(answers[0], { jsonrpc: '2.0', id: 1, result: { subscription: '1' } })
  stuck.pause() // stops reading: from now on only the server can free what this socket holds

  const before = await metrics()
  assert.is(before.get('shoal_rpc_ws_connections'), 2)
  const pad = 'x'.repeat(EVENT_BYTES)
  let maxQueued = 0
  for (let i = 0; i < EVENTS; i += 5) {
    const calls = Array.from({ length: 5 }, (_, j) => ({ method: 'events.publish', params: { topic: 'big', data: { n: i + j, pad } } }))
    const results = await node.client.batch(calls, { timeoutMs: 30_000 })
    assert.ok(results.every(r => r.ok), 'published')
    if (i % 50 === 0) maxQueued = Math.max(maxQueued, (await metrics()).get('shoal_rpc_ws_max_queued_bytes') ?? 0)
  }
  const published = Date.now()

  // Cut by the server: the stall deadline, then the close grace, with room for a loaded machine.
  await waitUntil('the stuck socket to be cut', async () => (await metrics()).get('shoal_rpc_ws_connections') === 1,
    { timeoutMs: STALL_MS + CLOSE_GRACE_MS + 10_000 })
  const cutAfterMs = Date.now() - published
  const after = await metrics()
  assert.is(after.get('shoal_rpc_ws_slow_consumers_total'), 1)
  assert.ok(maxQueued <= MAX_QUEUED_BYTES + 2 * EVENT_BYTES, `max queued ${maxQueued}`)
  assert.ok((after.get('shoal_rpc_ws_queued_bytes') ?? -1) < 2 * EVENT_BYTES, `queued after the cut: ${after.get('shoal_rpc_ws_queued_bytes')}`)

  // The reading subscriber got everything and was never dropped.
  await waitUntil('the reader to get every event', () => read >= EVENTS, { timeoutMs: 30_000 })
  assert.is(read, EVENTS)
  assert.is(readerError, undefined)

  // The stuck client, reading again, learns it was cut.
  const closed = once(stuck, 'close', { signal: AbortSignal.timeout(15_000) })
  stuck.resume()
  const [code] = await closed as [number]
  assert.ok(code === 1008 || code === 1006, `close code ${code}`)
  const rssGrowth = (after.get('process_resident_memory_bytes') ?? 0) - (before.get('process_resident_memory_bytes') ?? 0)
  console.log(`ws-slow-consumer: cut ${(cutAfterMs / 1000).toFixed(1)} s after the last publish; max queued ${(maxQueued / 1024).toFixed(0)} KiB; ` +
    `RSS ${(rssGrowth / 1024 / 1024).toFixed(1)} MB higher after ${EVENTS} events of ${EVENT_BYTES / 1000} KB`)
})

test.run()
