/**
 * kv.watch over the WebSocket endpoint, and the CLI's kv commands: a watcher from a cursor gets exactly the
 * changes after it (writes and deletes, under its prefix), then live ones; a cursor older than the change log
 * gets `compacted`; `shoal kv put/get/del/list/stats` do what they say; a watcher on another node gets replicated
 * writes with their own values; change numbers continue where they were after a clean stop, and skip the most a
 * crash may have handed on unwritten after a kill -9.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { EARLY_CHANGES_MAX } from '@shoal/store'
import { createWsClient, RpcError } from '@shoal/rpc'
import type { WsClient } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'

interface Change { change: number, key: string, deleted: boolean, value?: unknown }

let swarm: LocalSwarm
let node: LocalNode
let ws: WsClient

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  await mkdir(swarm.dataDir(1), { recursive: true })
  await writeFile(join(swarm.dataDir(1), 'config.json'), JSON.stringify({ kv: { changesRetention: 20, compactIntervalMs: 200 } }))
  node = await swarm.start(1)
  ws = await createWsClient({ url: node.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(node.dataDir) })
})

test.after(async () => {
  await ws.close()
  await swarm.destroy()
})

test('a watcher from a cursor gets the changes after it under its prefix, then live ones, deletes included', async () => {
  for (let i = 0; i < 5; i++) await node.client.call('kv.put', { key: `cfg/${i}`, value: i })
  await node.client.call('kv.put', { key: 'other/x', value: 'not watched' })
  const { lastChange } = await node.client.call('kv.stats', {})
  const got: Change[] = []
  const sub = await ws.subscribe<Change>('kv.watch', { prefix: 'cfg/', since: lastChange - 4 }, { onNotification: c => { got.push(c) } })
  await waitUntil('the 3 cfg changes after the cursor', () => got.length >= 3)
  assert.equal(got.map(c => c.key), ['cfg/2', 'cfg/3', 'cfg/4'])
  await node.client.call('kv.delete', { key: 'cfg/1' })
  await node.client.call('kv.put', { key: 'cfg/9', value: { nine: true } })
  await waitUntil('the live changes', () => got.length >= 5)
  assert.equal(got.slice(3).map(c => [c.key, c.deleted, c.value]), [['cfg/1', true, undefined], ['cfg/9', false, { nine: true }]])
  assert.ok(got.every((c, i) => i === 0 || c.change > got[i - 1]!.change), 'change numbers increase')
  await sub.unsubscribe()
})

test('a cursor older than the change log gets the compacted error', async () => {
  for (let i = 0; i < 40; i++) await node.client.call('kv.put', { key: `churn/${i}`, value: i })
  let failure: Error | undefined
  await waitUntil('compaction of the change log to end an old cursor', async () => {
    failure = undefined
    const sub = await ws.subscribe('kv.watch', { since: 1 }, { onNotification: () => {}, onError: err => { failure = err } })
    await waitUntil('an answer', () => failure, { timeoutMs: 2000 }).catch(() => {})
    await sub.unsubscribe().catch(() => {})
    return failure
  }, { timeoutMs: 10_000 })
  assert.is((failure as RpcError).code, -32010)
})

test('the CLI puts, gets, lists, deletes and reports', async () => {
  const cli = async (...args: string[]): Promise<{ code: number, out: string }> => await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, 'kv', ...args, '--data-dir', node.dataDir], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), out: stdout + stderr })
    })
  })
  assert.match((await cli('put', 'cli/a', '{"n":1}')).out, 'stored cli/a (acknowledged by 1 of 1 required)')
  assert.equal(JSON.parse((await cli('get', 'cli/a')).out), { n: 1 })
  await cli('put', 'cli/b', 'plain')
  const listed = JSON.parse((await cli('list', 'cli/', '--json')).out)
  assert.equal(listed.records.map((r: { key: string, value: unknown }) => [r.key, r.value]), [['cli/a', { n: 1 }], ['cli/b', 'plain']])
  assert.is((await cli('del', 'cli/a')).code, 0)
  const missing = await cli('get', 'cli/a')
  assert.is(missing.code, 4)
  assert.match(missing.out, 'no key "cli/a"')
  const stats = await cli('stats')
  assert.match(stats.out, /keys: +\d+/)
  assert.match(stats.out, 'converged:  yes')
  const bad = await cli('put', 'k', '1', '--acks', 'zero')
  assert.is(bad.code, 2)
  assert.match(bad.out, '--acks')
})

test('a watcher on another node gets each replicated write with its own value, written in groups', async () => {
  const other = await swarm.start(2, { bootstrap: [node.addrs[0]!] })
  await waitUntil('the two nodes to see each other', async () => (await other.client.call('swarm.members', { state: 'alive' })).length === 2)
  const ws2 = await createWsClient({ url: other.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(other.dataDir) })
  try {
    const got: Change[] = []
    await ws2.subscribe<Change>('kv.watch', { prefix: 'repl/' }, { onNotification: c => { got.push(c) } })
    // Concurrent puts share batches on the writer and arrive in groups on the receiver.
    await Promise.all(Array.from({ length: 40 }, async (_, i) => await node.client.call('kv.put', { key: `repl/${i % 10}`, value: { i } })))
    await node.client.call('kv.put', { key: 'repl/last', value: 'done' })
    await waitUntil('the last write on the other node', () => got.some(c => c.key === 'repl/last'), { timeoutMs: 15_000 })
    for (const c of got.filter(c => c.key !== 'repl/last')) assert.is(`repl/${(c.value as { i: number }).i % 10}`, c.key, `change ${c.change}: the value belongs to its key`)
    const final = new Map(got.map(c => [c.key, c.value]))
    for (let k = 0; k < 10; k++) assert.equal(final.get(`repl/${k}`), (await other.client.call('kv.get', { key: `repl/${k}` })).value, `the last notification of repl/${k} is what kv.get returns`)
  } finally {
    await ws2.close()
  }
})

test('a clean stop keeps the change numbers where they are; after a kill -9 they skip EARLY_CHANGES_MAX', async () => {
  await node.client.call('kv.put', { key: 'restart/a', value: 1 })
  const { lastChange } = await node.client.call('kv.stats', {})
  await swarm.kill(1, 'SIGTERM')
  node = await swarm.restart(1)
  assert.is((await node.client.call('kv.stats', {})).lastChange, lastChange, 'after a clean stop')
  await swarm.kill(1)
  node = await swarm.restart(1)
  assert.is((await node.client.call('kv.stats', {})).lastChange, lastChange + EARLY_CHANGES_MAX, 'after kill -9')
})

test.run()
