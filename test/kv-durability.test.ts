/**
 * KV durability under crashes: an acknowledged write survives the kill -9 of its writer, and a node killed
 * during 10,000 writes catches up after restart through Merkle anti-entropy even though the event log kept
 * too little to replay them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { converged, putMany } from './helpers/kv.js'

let swarm: LocalSwarm
const node = (i: number): LocalNode => swarm.nodes.get(i)!
const all = (): LocalNode[] => [...swarm.nodes.values()]

/** Event retention so small that the event path cannot replay a long outage: only anti-entropy can. */
const CONFIG = { events: { retentionMaxEvents: 200, compactIntervalMs: 300 } }

async function start (i: number, bootstrap?: LocalNode): Promise<LocalNode> {
  await mkdir(swarm.dataDir(i), { recursive: true })
  await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify(CONFIG))
  return await swarm.start(i, bootstrap === undefined ? {} : { bootstrap: [bootstrap.addrs[0]!] })
}

async function alive (count: number): Promise<boolean> {
  const views = await Promise.all(all().map(async n => (await n.client.call('swarm.members', { state: 'alive' })).length))
  return views.every(c => c === count)
}

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  const first = await start(1)
  await start(2, first)
  await start(3, first)
  await waitUntil('a formed swarm of 3', async () => await alive(3))
})

test.after(async () => {
  await swarm.destroy()
})

test('with acks: 2, killing the writer right after each acknowledged write loses none of them', async () => {
  const acknowledged: string[] = []
  for (let round = 0; round < 6; round++) {
    const key = `acked/${round}`
    const r = await node(3).client.call('kv.put', { key, value: round, acks: 2 })
    assert.ok(r.acked >= 2, `${key} acknowledged by ${r.acked}`)
    acknowledged.push(key)
    // The instant the acknowledgement arrives: no goodbye, no chance to gossip more.
    await swarm.kill(3)
    // The write is on at least one survivor, so both survivors end up with it (and every earlier one).
    await waitUntil(`every acknowledged write on both survivors (round ${round})`, async () => {
      const found = await Promise.all([node(1), node(2)].flatMap(n => acknowledged.map(async key => await n.client.call('kv.get', { key }).then(() => true, () => false))))
      return found.every(Boolean)
    }, { timeoutMs: 20_000 })
    await swarm.restart(3)
    await waitUntil('node 3 back', async () => await alive(3))
  }
})

test('acks it cannot get fail clearly and keep the write', async () => {
  try {
    await node(1).client.call('kv.put', { key: 'too-many', value: 1, acks: 10, timeoutMs: 500 })
    assert.unreachable('10 acks from a swarm of 3 must time out')
  } catch (err) {
    assert.is((err as { code?: number }).code, -32001)
    const data = (err as { data?: { acked: number, required: number } }).data!
    assert.is(data.required, 10)
    assert.ok(data.acked >= 1 && data.acked <= 3, `acked ${data.acked}`)
  }
  assert.is((await node(1).client.call('kv.get', { key: 'too-many' })).value, 1, 'the write stays')
})

test('a node killed during 10,000 writes catches up through anti-entropy after restart', async () => {
  const writing = putMany(node(1), 'bulk/', 0, 10_000, { batch: 100 })
  await waitUntil('some writes to land on node 2', async () => (await node(2).client.call('kv.stats', {})).keys > 1000, { timeoutMs: 60_000 })
  await swarm.kill(2)
  await writing
  // Compaction runs every 300 ms: the last writes may still be above the retention for a moment.
  await waitUntil('node 1\'s event log to keep only a few hundred events', async () => (await node(1).client.call('events.stats', {})).stored <= 1000, { timeoutMs: 10_000 })
  const restarted = await swarm.restart(2)
  await waitUntil('all three replicas equal', async () => await converged(all()), { timeoutMs: 120_000, intervalMs: 500 })
  const stats = await restarted.client.call('kv.stats', {})
  assert.ok(stats.keys >= 10_000, `node 2 holds ${stats.keys} keys`)
  for (const key of ['bulk/0', 'bulk/4999', 'bulk/9999']) assert.is((await restarted.client.call('kv.get', { key })).value, Number(key.split('/')[1]))
  // The event path cannot replay the outage (compacted away): anti-entropy did it. The gap is skipped on the
  // origin's signed evidence once no peer can serve it for a grace period (docs/protocols/events.md).
  await waitUntil('the event path skipped the compacted gap', async () => (await restarted.client.call('events.stats', {})).gapsSkipped > 0, { timeoutMs: 60_000, intervalMs: 500 })
})

test.run()
