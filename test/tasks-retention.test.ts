/**
 * Jobs on two real daemons, for what a user sees around failure and cleanup:
 * - bad input is refused at submit (-32602 naming the field), for built-ins and for a module's split/validate;
 * - a handler error is retried after the documented backoff (200 ms x 2^(n-1)), not after the failed worker's own
 *   lease runs out (it blocked the retry for leaseMs before), and `shoal task run` shows each failed attempt;
 * - a finished job's records are deleted everywhere after tasks.retentionMs (issue 9, kind 10).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { RpcError } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'

let swarm: LocalSwarm
let a: LocalNode
let b: LocalNode
const RETENTION_MS = 3000

/**
 * Fails attempts 1 and 2 of every subtask, then returns its input doubled; always fails on 13; refuses negative
 * input at submit.
 */
const FLAKY = `
export function validate (x) { if (typeof x !== 'number' || x < 0) throw new Error('flaky: input must be a number >= 0') }
export function split (x, n) { if (x > 1000) throw new Error('flaky: too big to split'); return Array.from({ length: n }, () => x) }
export async function run (x, ctx) {
  if (x === 13) throw new Error('thirteen is unlucky')
  if (ctx.attempt < 3) throw new Error('flaky ' + ctx.attempt)
  return x * 2
}
`

test.before(async () => {
  // A swarm that fails to form (a loaded machine) is torn down here: uvu skips test.after when before throws.
  try {
    swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
    const module = join(swarm.dataDir(0), '..', 'flaky.mjs')
    await writeFile(module, FLAKY)
    for (const i of [1, 2]) {
      await mkdir(swarm.dataDir(i), { recursive: true })
      await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify({ tasks: { retentionMs: RETENTION_MS, modules: { flaky: module } } }))
    }
    a = await swarm.start(1, { timeoutMs: 60_000 })
    b = await swarm.start(2, { timeoutMs: 60_000, bootstrap: [a.addrs[0]!] })
    await waitUntil('both alive', async () => (await a.client.call('swarm.members', { state: 'alive' })).length === 2)
  } catch (err) {
    await swarm?.destroy().catch(() => {})
    throw err
  }
})

test.after(async () => {
  await swarm.destroy()
})

async function refused (params: Record<string, unknown>): Promise<RpcError> {
  try {
    await a.client.call('task.submit', params as never)
  } catch (err) {
    return err as RpcError
  }
  return assert.unreachable(`${JSON.stringify(params)} must be refused`) as never
}

test('bad input is refused at submit, naming the field; nothing is created', async () => {
  const before = (await a.client.call('task.list', {})).length
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ handler: 'primes', input: { from: 0 } }, 'to', /primes: to = undefined/],
    [{ handler: 'primes', inputs: [{ from: 0, to: 5 }, { from: 3, to: 1 }] }, 'params.inputs[1].from', /inputs\[1\]: primes: from = 3/],
    [{ handler: 'sleep', input: { ms: -1 } }, 'ms', /sleep: ms = -1/],
    [{ handler: 'flaky', input: -1 }, 'params.input', /input must be a number/],
    [{ handler: 'flaky', input: 5000, split: 2 }, 'params.input', /too big to split/]
  ]
  for (const [params, field, message] of cases) {
    const err = await refused(params)
    assert.is(err.code, -32602, err.message)
    assert.is((err.data as { field?: string } | undefined)?.field, field, err.message)
    assert.match(err.message, message)
  }
  assert.is((await a.client.call('task.list', {})).length, before)
})

test('a handler error is retried after the backoff, not after the lease; the CLI shows each failed attempt', async () => {
  const started = Date.now()
  const r = await new Promise<{ code: number, stdout: string, stderr: string }>(resolve => {
    execFile(process.execPath, [BIN_PATH, 'task', 'run', 'flaky', '--input', '21', '--data-dir', a.dataDir], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, stdout, stderr })
    })
  })
  const elapsed = Date.now() - started
  assert.is(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout), 42)
  assert.match(r.stderr, /subtask 0, attempt 1 failed: flaky 1 \(retry in/)
  assert.match(r.stderr, /subtask 0, attempt 2 failed: flaky 2 \(retry in/)
  // Two retries: 200 + 400 ms of backoff. Waiting out the failed worker's lease instead costs 2 x 10 s.
  assert.ok(elapsed < 8000, `took ${elapsed} ms`)
})

test('a handler that keeps throwing is retried up to the limit, then the job fails naming the subtask and its error', async () => {
  const { jobId } = await a.client.call('task.submit', { handler: 'flaky', inputs: [1, 13, 2], retries: 2, chunk: 1 })
  const r = await b.client.call('task.result', { jobId, wait: true, timeoutMs: 60_000 })
  assert.is(r.state, 'failed')
  assert.is(r.error, 'subtask 1 failed: thirteen is unlucky')
  // Node a may hear of the last attempt's record a moment after b answered.
  let errors: unknown
  await waitUntil('node a to show the last attempt with no retry', async () => {
    const status = await a.client.call('task.status', { jobId })
    errors = status.errors
    return status.errors.some(e => e.index === 1 && e.attempt === 3 && e.retryAt === undefined)
  }, { timeoutMs: 10_000 }).catch(err => { throw new Error(`${(err as Error).message}: ${JSON.stringify(errors)}`) })
})

test('in a chunk, the failing subtask is named, not the chunk', async () => {
  const { jobId } = await a.client.call('task.submit', { handler: 'flaky', inputs: [1, 2, 3, 4, 13, 5], retries: 2, chunk: 3 })
  const r = await b.client.call('task.result', { jobId, wait: true, timeoutMs: 60_000 })
  assert.is(r.state, 'failed')
  assert.is(r.error, 'subtask 4 failed: thirteen is unlucky')
})

test('a finished job is deleted everywhere after tasks.retentionMs', async () => {
  // Subtasks that outlast the submitter's lease hold (100 ms, decision 0019), so each has a lease record to collect.
  const { jobId } = await a.client.call('task.submit', { handler: 'sleep', inputs: [{ ms: 150 }, { ms: 150 }, { ms: 150 }] })
  const r = await b.client.call('task.result', { jobId, wait: true, timeoutMs: 30_000 })
  assert.is(r.state, 'done', r.error)
  const records = async (n: LocalNode): Promise<number> => (await n.client.call('kv.list', { prefix: `_shoal/job/${jobId}`, limit: 1000 })).records.length
  // Node b answered, but node a may still be receiving the last lease or the final state. It holds them all well
  // before they are collected (RETENTION_MS after the final state, then the next collection round).
  await waitUntil('node a to hold the job, its 3 leases and its final state before they are collected', async () => await records(a) >= 5, { timeoutMs: RETENTION_MS / 2 })
  await waitUntil('the job\'s records to be gone on both nodes', async () => (await records(a)) === 0 && (await records(b)) === 0, { timeoutMs: 30_000 })
  for (const n of [a, b]) {
    try {
      await n.client.call('task.status', { jobId })
      assert.unreachable('a collected job is not found')
    } catch (err) {
      assert.is((err as RpcError).code, -32004, (err as Error).message)
    }
    assert.ok(!(await n.client.call('task.list', {})).some(j => j.jobId === jobId))
  }
})

test.run()
