/**
 * Distributed jobs on five real daemons: a 1,000-subtask job gives exactly the locally computed answer; jobs
 * finish right even when a worker or the node they were submitted to is killed with SIGKILL halfway; a handler
 * bad input and bad specs are refused at submit and create nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { RpcError } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'
import { aliveCounts, startSwarm } from './helpers/swarm.js'

let swarm: LocalSwarm
const node = (i: number): LocalNode => swarm.nodes.get(i)!
const all = (): LocalNode[] => [...swarm.nodes.values()]

/** pi(10^8), the number of primes below 100,000,000 (a known value; the sieve below would need 100 MB). */
const PRIMES_BELOW_1E8 = 5_761_455

function countPrimes (from: number, to: number): number {
  const sieve = new Uint8Array(to).fill(1)
  let count = 0
  for (let i = 2; i < to; i++) {
    if (sieve[i] === 0) continue
    if (i >= from) count++
    for (let j = i * i; j < to; j += i) sieve[j] = 0
  }
  return count
}

test.before(async () => {
  ({ swarm } = await startSwarm(5))
})

test.after(async () => {
  await swarm.destroy()
})

test('a 1,000-subtask primes job returns exactly the known count, worked on by several nodes', async () => {
  // Enough work (a few hundred ms on the submitter's slots) that the others take chunks over from the submitter,
  // which runs a job's first chunks itself (decision 0018): a job of a few tens of ms would never leave it.
  const { jobId } = await node(1).client.call('task.submit', { handler: 'primes', input: { from: 0, to: 100_000_000 }, split: 1000 })
  const r = await node(1).client.call('task.result', { jobId, wait: true, timeoutMs: 120_000 }, { timeoutMs: 130_000 })
  assert.is(r.state, 'done', r.error)
  assert.is(r.result, PRIMES_BELOW_1E8)
  // Another node may still be receiving the last done records; it converges to the same count.
  const status = await waitUntil('node 3 to see all 1,000 subtasks done', async () => {
    const s = await node(3).client.call('task.status', { jobId })
    return s.counts.done === 1000 ? s : undefined
  })
  assert.is(status.state, 'done')
  const workers = Object.values(status.perMember).filter(m => m.done > 0).length
  assert.ok(workers >= 3, `work spread over ${workers} members`)
})

test('killing a worker with SIGKILL halfway: the job still completes with the exact result, no subtask counted twice', async () => {
  const inputs = Array.from({ length: 40 }, (_, i) => ({ ms: 150 + (i % 5) * 10 }))
  const { jobId } = await node(1).client.call('task.submit', { handler: 'sleep', inputs })
  await waitUntil('the job to be about halfway', async () => (await node(1).client.call('task.status', { jobId })).counts.done >= 10, { timeoutMs: 30_000, intervalMs: 50 })
  const status = await node(1).client.call('task.status', { jobId })
  const busiest = Object.entries(status.perMember).filter(([id]) => id !== node(1).peerId).sort((a, b) => b[1].running - a[1].running)[0]![0]
  const victim = all().find(n => n.peerId === busiest)!
  await swarm.kill(victim.index)
  const r = await node(1).client.call('task.result', { jobId, wait: true, timeoutMs: 120_000 }, { timeoutMs: 130_000 })
  assert.is(r.state, 'done', r.error)
  assert.equal(r.result, inputs.map(i => ({ slept: i.ms })))
  const after = await waitUntil('node 1 to see every done record', async () => {
    const s = await node(1).client.call('task.status', { jobId })
    return s.counts.done >= inputs.length ? s : undefined
  })
  assert.is(after.counts.done, inputs.length, 'each subtask counted once')
  await swarm.restart(victim.index)
  await waitUntil('the victim back', async () => (await aliveCounts(swarm)).every(c => c === 5))
})

test('killing the node a job was submitted to: the job completes and any node can read the result', async () => {
  const { jobId } = await node(2).client.call('task.submit', { handler: 'primes', input: { from: 0, to: 100_000 }, split: 200 })
  await swarm.kill(2)
  for (const reader of [node(3), node(5)]) {
    const r = await reader.client.call('task.result', { jobId, wait: true, timeoutMs: 120_000 }, { timeoutMs: 130_000 })
    assert.is(r.state, 'done', r.error)
    assert.is(r.result, countPrimes(0, 100_000))
  }
  await swarm.restart(2)
  await waitUntil('node 2 back', async () => (await aliveCounts(swarm)).every(c => c === 5))
})

test('input a built-in handler cannot take is refused at submit, naming the subtask and field', async () => {
  // Before, this job was accepted and failed on a worker after its retries (the retry path itself is tested with a
  // module handler that throws: tasks-retention.test.ts).
  try {
    await node(1).client.call('task.submit', { handler: 'hash', inputs: [['fine'], ['also fine', 42]], retries: 2 })
    assert.unreachable('must be refused')
  } catch (err) {
    assert.is((err as RpcError).code, -32602, (err as Error).message)
    assert.is(((err as RpcError).data as { field?: string }).field, 'params.inputs[1].input[1]')
    assert.match((err as Error).message, /inputs\[1\]: hash: input\[1\] = 42; expected a string/)
  }
})

test('exec is off by default, and bad specs get -32602 naming the field and create nothing', async () => {
  const before = (await node(1).client.call('task.list', {})).length
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ handler: 'exec:echo', input: 'x' }, 'handler'],
    [{ handler: 'no-such-handler', input: 1 }, 'handler'],
    [{ handler: 'primes', input: { from: 0, to: 10 }, inputs: [1] }, 'input'],
    [{ handler: 'primes', split: 4 }, 'input'],
    [{ handler: 'primes', input: { from: 0, to: 10 }, split: 0 }, 'split'],
    [{ handler: 'sleep', inputs: [] }, 'inputs'],
    [{ handler: 'primes', input: { from: 5, to: 1 }, split: 2 }, 'to'],
    [{ handler: 'sleep', inputs: [{ ms: 1 }], retries: -1 }, 'retries']
  ]
  for (const [params, field] of cases) {
    try {
      await node(1).client.call('task.submit', params as never)
      assert.unreachable(`${JSON.stringify(params)} must be refused`)
    } catch (err) {
      assert.instance(err, RpcError)
      assert.is((err as RpcError).code, -32602, `${JSON.stringify(params)}: ${(err as Error).message}`)
      assert.match(`${(err as Error).message} ${JSON.stringify((err as RpcError).data ?? {})}`, field)
    }
  }
  assert.is((await node(1).client.call('task.list', {})).length, before, 'no job was created')
})

test.run()
