/**
 * Tracing end to end: three daemons export OTLP/HTTP (JSON) to a small receiver in this test; one submitted
 * job becomes one trace across the daemons that worked on it, with every parent link inside the trace. A
 * fourth daemon with tracing off works as usual and exports nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { aliveCounts } from './helpers/swarm.js'

interface Received { traceId: string, spanId: string, parentSpanId?: string, name: string, instance: string }

let swarm: LocalSwarm
let receiver: Server
let endpoint: string
const spans: Received[] = []
const node = (i: number): LocalNode => swarm.nodes.get(i)!

interface OtlpValue { stringValue?: string }
interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string, value: OtlpValue }> }
    scopeSpans?: Array<{ spans?: Array<{ traceId: string, spanId: string, parentSpanId?: string, name: string }> }>
  }>
}

/** An OTLP/HTTP traces receiver that understands the JSON encoding: POST /v1/traces. */
async function startReceiver (): Promise<void> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') { res.writeHead(404).end(); return }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpBody
      for (const rs of body.resourceSpans ?? []) {
        const attrs = new Map((rs.resource?.attributes ?? []).map(a => [a.key, a.value.stringValue]))
        assert.is(attrs.get('service.name'), 'shoal')
        const instance = attrs.get('service.instance.id') ?? ''
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({ traceId: s.traceId, spanId: s.spanId, ...(s.parentSpanId !== undefined && s.parentSpanId !== '' ? { parentSpanId: s.parentSpanId } : {}), name: s.name, instance })
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`
}

async function start (i: number, config: object, bootstrap?: LocalNode): Promise<LocalNode> {
  await mkdir(swarm.dataDir(i), { recursive: true })
  await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify(config))
  return await swarm.start(i, bootstrap === undefined ? {} : { bootstrap: [bootstrap.addrs[0]!] })
}

test.before(async () => {
  await startReceiver()
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  const traced = { tracing: { endpoint, sampleRatio: 1 } }
  const first = await start(1, traced)
  await Promise.all([start(2, traced, first), start(3, traced, first), start(4, {}, first)])
  await waitUntil('a formed swarm of 4', async () => (await aliveCounts(swarm)).every(c => c === 4))
})

test.after(async () => {
  await swarm.destroy()
  await new Promise<void>(resolve => receiver.close(() => resolve()))
})

test('one task.submit is one trace across the daemons that worked on it, every parent link inside it', async () => {
  const inputs = Array.from({ length: 6 }, () => ({ ms: 50 }))
  const { jobId } = await node(1).client.call('task.submit', { handler: 'sleep', inputs })
  const r = await node(1).client.call('task.result', { jobId, wait: true, timeoutMs: 30_000 }, { timeoutMs: 40_000 })
  assert.is(r.state, 'done', r.error)
  const submit = await waitUntil('the task.submit span', async () => spans.find(s => s.name === 'task.submit' && s.instance === node(1).peerId))
  const traceId = submit.traceId
  const inTrace = (): Received[] => spans.filter(s => s.traceId === traceId)
  // Node 4 (tracing off) may have run some subtasks: those leave no spans.
  const status = await node(1).client.call('task.status', { jobId })
  const tracedRuns = Object.entries(status.perMember).filter(([id]) => id !== node(4).peerId).reduce((n, [, m]) => n + m.done, 0)
  await waitUntil(`spans of the job from at least 2 daemons, and ${tracedRuns} subtask.run spans`, async () => {
    const mine = inTrace()
    return new Set(mine.map(s => s.instance)).size >= 2 && mine.filter(s => s.name === 'subtask.run').length >= tracedRuns
  }, { timeoutMs: 20_000 })
  // Spans still in flight arrive with later export batches: wait until every parent link resolves.
  await waitUntil('every span of the trace to have its parent in the trace', () => {
    const ids = new Set(inTrace().map(s => s.spanId))
    return inTrace().every(s => s.parentSpanId === undefined || ids.has(s.parentSpanId))
  }, { timeoutMs: 20_000 })

  const runs = spans.filter(s => s.name === 'subtask.run')
  assert.ok(runs.length >= tracedRuns && tracedRuns > 0, `${runs.length} subtask.run spans for ${tracedRuns} traced runs`)
  for (const s of runs) assert.is(s.traceId, traceId, 'every subtask.run span is in the job\'s trace')
  const byId = new Map(inTrace().map(s => [s.spanId, s]))
  // The client sent no traceparent: the RPC server span is the root, task.submit its child.
  const roots = inTrace().filter(s => s.parentSpanId === undefined)
  assert.equal(roots.map(s => s.name), ['rpc task.submit'])
  assert.is(submit.parentSpanId, roots[0]!.spanId)
  for (const s of inTrace()) {
    if (s.parentSpanId !== undefined) assert.ok(byId.has(s.parentSpanId), `${s.name} on ${s.instance.slice(-6)}: its parent is in the trace`)
  }
  for (const name of ['subtask.lease', 'subtask.run', 'subtask.result']) {
    for (const s of inTrace().filter(x => x.name === name)) assert.is(byId.get(s.parentSpanId!)?.name, 'task.submit', `${name}'s parent is task.submit`)
  }
  const remoteApply = inTrace().filter(s => s.name === 'events.apply' && s.instance !== node(1).peerId)
  assert.ok(remoteApply.length > 0, 'the job record\'s event was applied, traced, on another daemon')
  const instances = new Set(inTrace().map(s => s.instance))
  assert.ok(instances.size >= 2, `spans from ${instances.size} daemons`)
  assert.not.ok(instances.has(node(4).peerId), 'the untraced daemon exported nothing')
})

test('an RPC call\'s traceparent header is the parent of its rpc span', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const parent = '00f067aa0ba902b7'
  const token = (await readFile(join(node(2).dataDir, 'rpc.token'), 'utf8')).trim()
  const res = await fetch(node(2).rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: `00-${traceId}-${parent}-01` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv.put', params: { key: 'traced', value: 1 } })
  })
  assert.is(res.status, 200)
  const rpc = await waitUntil('the rpc kv.put span', async () => spans.find(s => s.traceId === traceId && s.name === 'rpc kv.put'))
  assert.is(rpc.parentSpanId, parent)
  const put = await waitUntil('the kv.put span', async () => spans.find(s => s.traceId === traceId && s.name === 'kv.put'))
  assert.is(put.parentSpanId, rpc.spanId)
  await waitUntil('the write applied, traced, on another daemon', async () => spans.some(s => s.traceId === traceId && s.name === 'events.apply' && s.instance !== node(2).peerId))
})

test('with tracing off the daemon works and exports nothing', async () => {
  await node(4).client.call('kv.put', { key: 'untraced', value: 2 })
  assert.is((await node(4).client.call('kv.get', { key: 'untraced' })).value, 2)
  await waitUntil('the write on node 1', async () => await node(1).client.call('kv.get', { key: 'untraced' }).then(() => true, () => false))
  // An absence cannot be waited for; give node 4 one export interval (1 s) in which it would have sent something.
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.not.ok(spans.some(s => s.instance === node(4).peerId), 'no span from the untraced daemon')
})

test.run()
