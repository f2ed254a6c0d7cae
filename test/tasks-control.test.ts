/**
 * Job control on two daemons: `exec` runs only allowlisted commands on nodes that enable it; cancel stops a job
 * swarm-wide; a job past its timeout fails; `shoal task run` shows progress and prints the result; task.watch
 * streams progress to the end.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { createWsClient, RpcError } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'

let swarm: LocalSwarm
let a: LocalNode
let b: LocalNode

/** Upper-cases the JSON string it reads on stdin. */
const UPPER = 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.stringify(JSON.parse(s).toUpperCase())))'

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  await mkdir(swarm.dataDir(2), { recursive: true })
  await writeFile(join(swarm.dataDir(2), 'config.json'), JSON.stringify({
    tasks: { slots: 4, exec: { enabled: true, allow: { upper: { command: process.execPath, args: ['-e', UPPER] } } } }
  }))
  a = await swarm.start(1)
  b = await swarm.start(2, { bootstrap: [a.addrs[0]!] })
  await waitUntil('both alive', async () => (await a.client.call('swarm.members', { state: 'alive' })).length === 2)
})

test.after(async () => {
  await swarm.destroy()
})

test('an allowlisted exec command runs on the node that enables it; other commands are refused', async () => {
  const { jobId } = await a.client.call('task.submit', { handler: 'exec:upper', inputs: ['shoal', 'swarm'] })
  const r = await a.client.call('task.result', { jobId, wait: true, timeoutMs: 30_000 })
  assert.is(r.state, 'done', r.error)
  assert.equal(r.result, ['SHOAL', 'SWARM'])
  // Each node's view holds the results it produced itself (results stream to the finisher: decision 0011), so
  // the union over both nodes names every node that ran a subtask.
  const ran = new Set<string>()
  for (const n of [a, b]) {
    const status = await n.client.call('task.status', { jobId })
    for (const [id, m] of Object.entries(status.perMember)) if (m.done > 0) ran.add(id)
  }
  assert.equal([...ran], [b.peerId], 'only the node with exec enabled ran it')
  for (const handler of ['exec:rm', 'exec']) {
    try {
      await a.client.call('task.submit', { handler, input: 'x' })
      assert.unreachable(`${handler} must be refused`)
    } catch (err) {
      assert.is((err as RpcError).code, -32602)
      assert.match((err as Error).message, 'allowlisted')
    }
  }
})

test('cancel stops a job swarm-wide: it ends cancelled and pending subtasks never run', async () => {
  const { jobId } = await a.client.call('task.submit', { handler: 'sleep', inputs: Array.from({ length: 30 }, () => ({ ms: 400 })) })
  await waitUntil('some subtasks running', async () => (await a.client.call('task.status', { jobId })).counts.running > 0, { intervalMs: 50 })
  await b.client.call('task.cancel', { jobId })
  const r = await a.client.call('task.result', { jobId, wait: true, timeoutMs: 30_000 })
  assert.is(r.state, 'cancelled')
  const status = await a.client.call('task.status', { jobId })
  assert.ok(status.counts.done < 30, `only ${status.counts.done} of 30 finished before the cancel`)
  // Nothing of the job runs anywhere after the cancel.
  await waitUntil('no subtask running', async () => (await Promise.all([a, b].map(async n => (await n.client.call('task.status', { jobId })).counts.running))).every(c => c === 0))
})

test('a job past its timeout fails', async () => {
  const { jobId } = await a.client.call('task.submit', { handler: 'sleep', inputs: [{ ms: 5000 }], timeoutMs: 500 })
  const r = await b.client.call('task.result', { jobId, wait: true, timeoutMs: 30_000 })
  assert.is(r.state, 'failed')
  assert.match(r.error ?? '', 'timed out')
})

test('task.watch streams progress to the end', async () => {
  const ws = await createWsClient({ url: a.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(a.dataDir) })
  try {
    const { jobId } = await a.client.call('task.submit', { handler: 'sleep', inputs: Array.from({ length: 8 }, () => ({ ms: 100 })) })
    const seen: Array<{ state: string, counts: { done: number } }> = []
    await ws.subscribe<{ state: string, counts: { done: number } }>('task.watch', { jobId }, { onNotification: s => { seen.push(s) } })
    await waitUntil('the final notification', () => seen.some(s => s.state === 'done'), { timeoutMs: 30_000 })
    assert.ok(seen.length >= 2, 'progress came in several notifications')
    assert.ok(seen.every((s, i) => i === 0 || s.counts.done >= seen[i - 1]!.counts.done), 'progress never goes back')
  } finally {
    await ws.close()
  }
})

test('shoal task run shows progress and prints the result', async () => {
  const r = await new Promise<{ code: number, stdout: string, stderr: string }>(resolve => {
    execFile(process.execPath, [BIN_PATH, 'task', 'run', 'wordcount', '--input', JSON.stringify({ text: 'the swarm\nthe shoal\nthe end' }), '--split', '3', '--data-dir', a.dataDir], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, stdout, stderr })
    })
  })
  assert.is(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout), { the: 3, swarm: 1, shoal: 1, end: 1 })
  assert.match(r.stderr, /100% 3\/3 subtasks/)
})

test.run()
