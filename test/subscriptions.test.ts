/**
 * Event cursors: a WebSocket subscriber resumes from a cursor and gets exactly the events after it, in order,
 * then live ones; a cursor older than retention gets the `compacted` error instead of a silent gap. The CLI
 * publishes, lists and tails the same way.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { createWsClient, RpcError } from '@shoal/rpc'
import type { WsClient } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'
import { publishMany } from './helpers/events.js'

let swarm: LocalSwarm
let node: LocalNode
let ws: WsClient

interface Note { lsn: number, seq: number, topic: string, data: { n: number } }

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  node = await swarm.start(1)
  ws = await createWsClient({ url: node.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(node.dataDir) })
})

test.after(async () => {
  await ws.close()
  await swarm.destroy()
})

test('a subscriber from a cursor gets exactly the events after it, then live ones, in order', async () => {
  await publishMany(node, 'orders', 20)
  const got: Note[] = []
  const sub = await ws.subscribe<Note>('events.subscribe', { topic: 'orders', since: 10 }, { onNotification: n => { got.push(n) } })
  await waitUntil('the 10 events after cursor 10', () => got.length >= 10)
  assert.equal(got.map(n => n.lsn), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
  await publishMany(node, 'orders', 5)
  await publishMany(node, 'other-topic', 3)
  await waitUntil('the 5 live events', () => got.length >= 15)
  assert.equal(got.map(n => n.data.n), [...Array.from({ length: 10 }, (_, i) => i + 10), 0, 1, 2, 3, 4])
  assert.ok(got.every(n => n.topic === 'orders'), 'only the subscribed topic')
  await sub.unsubscribe()

  // Resume after a "disconnect" from the last cursor seen: nothing repeated, nothing lost.
  const resumed: Note[] = []
  const again = await ws.subscribe<Note>('events.subscribe', { topic: 'orders', since: got[12]!.lsn }, { onNotification: n => { resumed.push(n) } })
  await waitUntil('the events after the resume cursor', () => resumed.length >= 2)
  assert.equal(resumed.map(n => n.lsn), got.slice(13).map(n => n.lsn))
  await again.unsubscribe()
})

test('a cursor older than retention gets the compacted error, over WebSocket and HTTP', async () => {
  const dataDir = swarm.dataDir(2)
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ events: { retentionMaxEvents: 10, compactIntervalMs: 200 } }))
  const small = await swarm.start(2)
  await publishMany(small, 'logs', 40)
  await waitUntil('compaction down to 10 events', async () => (await small.client.call('events.stats', {})).stored <= 10)
  let compactedLsn = 0
  try {
    await small.client.call('events.list', { since: 5 })
    assert.unreachable('a compacted cursor must be refused')
  } catch (err) {
    assert.instance(err, RpcError)
    assert.is((err as RpcError).code, -32010)
    compactedLsn = ((err as RpcError).data as { compactedLsn: number }).compactedLsn
    assert.is(compactedLsn, 30, 'the oldest 30 of 40 were compacted')
  }
  const smallWs = await createWsClient({ url: small.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(small.dataDir) })
  try {
    let failure: Error | undefined
    await smallWs.subscribe('events.subscribe', { since: 5 }, { onNotification: () => {}, onError: err => { failure = err } })
    await waitUntil('the subscription to end with an error', () => failure)
    assert.is((failure as RpcError).code, -32010)
  } finally {
    await smallWs.close()
  }
  const page = await small.client.call('events.list', { since: compactedLsn })
  assert.is(page.events.length, 10, 'from the compaction point on, everything is there')
})

test('the CLI publishes, lists and tails events', async () => {
  const cli = async (...args: string[]): Promise<string> => await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN_PATH, ...args, '--data-dir', node.dataDir])
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('exit', code => { code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`)) })
  })
  assert.match(await cli('events', 'publish', 'cli-topic', '{"hello":"world"}'), /published .+#\d+ \(cursor \d+\)/)
  const listed = await cli('events', 'list', 'cli-topic', '--json')
  assert.equal(JSON.parse(listed).events.map((e: { data: unknown }) => e.data), [{ hello: 'world' }])
  const tail = spawn(process.execPath, [BIN_PATH, 'events', 'tail', 'cli-topic', '--since', '0', '--json', '--data-dir', node.dataDir])
  let out = ''
  tail.stdout.on('data', d => { out += d })
  await waitUntil('tail to print the existing event', () => out.includes('"hello":"world"'))
  await cli('events', 'publish', 'cli-topic', 'plain-text')
  await waitUntil('tail to print the new event', () => out.includes('"data":"plain-text"'))
  tail.kill('SIGINT')
  const code = await new Promise(resolve => tail.on('exit', resolve))
  assert.is(code, 0)
})

test.run()
