/**
 * Reliable event gossip across five real daemons: every event reaches every node in per-origin order; a node
 * killed while events are published gets all of them after restart (repair); both sides of a partition end
 * with every event once it heals.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { aliveCounts, heal, partition, startSwarm } from './helpers/swarm.js'
import { assertPerOriginOrder, caughtUp, publishMany, readAll } from './helpers/events.js'

let swarm: LocalSwarm
const expected: Record<string, number> = {}
const node = (i: number): LocalNode => swarm.nodes.get(i)!
const all = (): LocalNode[] => [...swarm.nodes.values()]

async function publish (i: number, count: number, tag: string): Promise<void> {
  await publishMany(node(i), 'load', count, 50, tag)
  expected[node(i).peerId] = (expected[node(i).peerId] ?? 0) + count
}

async function everyoneCaughtUp (what: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(what, async () => (await Promise.all(all().map(async n => await caughtUp(n, expected)))).every(Boolean), { timeoutMs, intervalMs: 250 })
}

test.before(async () => {
  ({ swarm } = await startSwarm(5, ['--debug']))
})

test.after(async () => {
  await swarm.destroy()
})

test('1,000 events from 3 origins reach all 5 nodes, in per-origin order', async () => {
  await Promise.all([publish(1, 334, 'a'), publish(2, 333, 'a'), publish(3, 333, 'a')])
  await everyoneCaughtUp('every node to hold all 1,000 events')
  for (const n of all()) {
    const events = await readAll(n, 'load')
    assert.is(events.length, 1000, `node ${n.index} delivered ${events.length}`)
    assertPerOriginOrder(events, expected)
  }
})

test('a node killed with SIGKILL while 500 events are published gets every one after restart', async () => {
  const publishing = Promise.all([publish(1, 250, 'b'), publish(2, 250, 'b')])
  await swarm.kill(5)
  await publishing
  const restarted = await swarm.restart(5)
  await waitUntil('the restarted node to catch up', async () => await caughtUp(restarted, expected), { timeoutMs: 60_000 })
  const events = await readAll(restarted, 'load')
  assert.is(events.length, 1500)
  assertPerOriginOrder(events, expected)
  const stats = await restarted.client.call('events.stats', {})
  assert.ok(stats.repaired > 0, 'the missed events came over the repair path')
})

test('a partition with publishing on both sides heals into one complete log everywhere', async () => {
  const left = [1, 2]
  const right = [3, 4, 5]
  await partition(node, left, right)
  await Promise.all([publish(1, 100, 'c'), publish(4, 100, 'c')])
  // Each side has its own side's events, and not the other's.
  await waitUntil('the left side to hold its own events', async () => await caughtUp(node(2), { [node(1).peerId]: expected[node(1).peerId]! }))
  assert.not.ok(await caughtUp(node(2), expected), 'the left side cannot have the right side\'s new events yet')
  await heal(all())
  await everyoneCaughtUp('every node to hold every event after healing')
  for (const n of all()) assertPerOriginOrder(await readAll(n, 'load'), expected)
})

test.run()
