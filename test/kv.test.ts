/**
 * The replicated KV store across five real daemons: writes everywhere converge to identical replicas with
 * equal Merkle roots; concurrent writes of one key pick the same winner everywhere; a partition with writes
 * on both sides converges and a deleted key stays deleted; bad input is refused and stores nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { RpcError } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'
import { aliveCounts, heal, partition, startSwarm } from './helpers/swarm.js'
import { converged, putMany, readAll } from './helpers/kv.js'

let swarm: LocalSwarm
const node = (i: number): LocalNode => swarm.nodes.get(i)!
const all = (): LocalNode[] => [...swarm.nodes.values()]
let expectedKeys = 0

test.before(async () => {
  ({ swarm } = await startSwarm(5, ['--debug']))
})

test.after(async () => {
  await swarm.destroy()
})

test('2,000 writes spread over 5 nodes converge to identical contents and equal roots', async () => {
  await Promise.all([1, 2, 3, 4, 5].map(async i => await putMany(node(i), `n${i}/`, 0, 400)))
  expectedKeys = 2000
  await waitUntil('equal roots and 2,000 keys everywhere', async () => await converged(all(), expectedKeys), { timeoutMs: 60_000, intervalMs: 250 })
  const reference = JSON.stringify(await readAll(node(1)))
  for (const n of all().slice(1)) assert.is(JSON.stringify(await readAll(n)), reference, `node ${n.index} holds the same records`)
  const status = await node(2).client.call('kv.syncStatus', {})
  assert.ok(status.converged, 'kv.syncStatus says converged')
})

test('concurrent writes of one key on 3 nodes end with the same winner everywhere', async () => {
  const keys = Array.from({ length: 20 }, (_, i) => `contended/${i}`)
  const results = await Promise.all(keys.flatMap(key => [1, 2, 3].map(async i => ({ key, i, r: await node(i).client.call('kv.put', { key, value: `from node ${i}` }) }))))
  expectedKeys += keys.length
  await waitUntil('convergence', async () => await converged(all(), expectedKeys), { timeoutMs: 30_000 })
  for (const key of keys) {
    // The winner is the write with the greatest (wall, logical, node) version.
    const writes = results.filter(w => w.key === key)
    const best = writes.reduce((a, b) => compare(a.r.version, b.r.version) >= 0 ? a : b)
    const seen = await Promise.all(all().map(async n => await n.client.call('kv.get', { key })))
    for (const s of seen) {
      assert.is(s.value, `from node ${best.i}`, `${key}: every node keeps the last writer's value`)
      assert.equal(s.version, best.r.version)
    }
  }
})

test('a partition with writes on both sides converges after healing; a deleted key stays deleted', async () => {
  // acks 'all' answers at once when the writer sees a member as anything but alive (a suspicion after the burst of
  // the test before, on a loaded box): start from a swarm every node sees whole.
  await waitUntil('every node to see all 5 alive', async () => (await aliveCounts(swarm)).every(c => c === 5), { timeoutMs: 30_000, intervalMs: 250 })
  await node(1).client.call('kv.put', { key: 'doomed', value: 'here today', acks: 'all' })
  expectedKeys += 1
  const left = [1, 2]
  const right = [3, 4, 5]
  await partition(node, left, right)
  await node(2).client.call('kv.delete', { key: 'doomed' })
  expectedKeys -= 1
  await Promise.all([putMany(node(1), 'left/', 0, 100), putMany(node(4), 'right/', 0, 100)])
  expectedKeys += 200
  await waitUntil('each side converged on its own', async () => await converged([node(1), node(2)]) && await converged([node(3), node(4), node(5)]))
  assert.not.ok(await converged(all()), 'the sides differ while partitioned')
  assert.is((await node(4).client.call('kv.get', { key: 'doomed' })).value, 'here today', 'the right side has not heard of the delete')
  await heal(all())
  await waitUntil('convergence after healing', async () => await converged(all(), expectedKeys), { timeoutMs: 60_000 })
  for (const n of all()) {
    try {
      await n.client.call('kv.get', { key: 'doomed' })
      assert.unreachable(`node ${n.index} still has the deleted key`)
    } catch (err) {
      assert.is((err as RpcError).code, -32004)
    }
  }
})

test('bad input gets -32602 naming the field and stores nothing', async () => {
  const before = await node(1).client.call('kv.stats', {})
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ key: 'big', value: 'x'.repeat(1024 * 1024 + 10) }, 'value'],
    [{ key: '', value: 1 }, 'key'],
    [{ key: 'a\u0000b', value: 1 }, 'key'],
    [{ key: 42, value: 1 }, 'key'],
    [{ key: 'k', value: 1, acks: 0 }, 'acks'],
    [{ key: 'k', value: 1, acks: 'most' }, 'acks'],
    [{ key: 'k' }, 'value'],
    [{ key: 'k', value: 1, colour: 'red' }, 'colour']
  ]
  for (const [params, field] of cases) {
    try {
      await node(1).client.call('kv.put', params as never)
      assert.unreachable(`${JSON.stringify(params).slice(0, 60)} must be refused`)
    } catch (err) {
      assert.instance(err, RpcError)
      assert.is((err as RpcError).code, -32602, `${field}: ${(err as Error).message}`)
      assert.match((err as Error).message + JSON.stringify((err as RpcError).data ?? {}), field)
    }
  }
  const after = await node(1).client.call('kv.stats', {})
  assert.is(after.keys, before.keys, 'nothing stored')
  assert.is(after.lastChange, before.lastChange, 'no change applied')
})

function compare (a: { wall: number, logical: number, node: string }, b: { wall: number, logical: number, node: string }): number {
  return a.wall - b.wall || a.logical - b.logical || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
}

test.run()
