/**
 * Five real daemon processes on 127.0.0.1: the swarm forms through one bootstrap address, detects a kill -9
 * within the bound, takes the restarted node back under the same identity, survives the loss of the
 * bootstrap node, and marks a gracefully stopped node left at once.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

/** The bound for marking a killed node dead on every survivor (default config). */
const DEAD_BOUND_MS = 10_000

let swarm: LocalSwarm
const ids = new Map<number, string>()

async function stateOf (viewer: LocalNode, peerId: string): Promise<string | undefined> {
  const members = await viewer.client.call('swarm.members', {}, { timeoutMs: 2000 })
  return members.find(m => m.id === peerId)?.state
}

async function everyoneSees (viewers: number[], subject: number, state: string): Promise<boolean> {
  const states = await Promise.all(viewers.map(async i => await stateOf(swarm.nodes.get(i)!, ids.get(subject)!)))
  return states.every(s => s === state)
}

async function fullyAlive (viewers: number[], subjects: number[]): Promise<boolean> {
  for (const s of subjects) if (!(await everyoneSees(viewers.filter(v => v !== s), s, 'alive'))) return false
  return true
}

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'debug'] })
})

test.after(async () => {
  await swarm.destroy()
})

test('5 daemons given only node 1\'s address all see each other alive', async () => {
  const first = await swarm.start(1)
  ids.set(1, first.peerId)
  const rest = await Promise.all([2, 3, 4, 5].map(async i => await swarm.start(i, { bootstrap: [first.addrs[0]!] })))
  for (const n of rest) ids.set(n.index, n.peerId)
  await waitUntil('every node to see the other 4 alive', async () => await fullyAlive([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), { timeoutMs: 20_000 })
  // Nodes 2-5 met each other, not only node 1, and the DHT runs in server mode on loopback with every
  // other node in its routing table (kad-dht's defaults would leave it in client mode, empty).
  // Connections follow membership: discovery dials the members it chose at its next round (every 3 s), and node 3
  // may see a member alive (by gossip) a moment before it dials it.
  await waitUntil('node 3 to be connected to several members', async () =>
    (await swarm.nodes.get(3)!.client.call('swarm.peers', {})).filter(p => p.member).length >= 3, { timeoutMs: 15_000 })
  await waitUntil('every DHT routing table to hold the 4 other nodes', async () => {
    const infos = await Promise.all([1, 2, 3, 4, 5].map(async i => await swarm.nodes.get(i)!.client.call('node.info', {})))
    return infos.every(i => i.dht.mode === 'server' && i.dht.routingTableSize >= 4)
  }, { timeoutMs: 15_000 })
})

test('a node killed with SIGKILL is marked dead by every survivor within the bound', async () => {
  const started = Date.now()
  await swarm.kill(4)
  await waitUntil('survivors to mark node 4 dead', async () => await everyoneSees([1, 2, 3, 5], 4, 'dead'), { timeoutMs: DEAD_BOUND_MS + 5000, intervalMs: 100 })
  const took = Date.now() - started
  assert.ok(took <= DEAD_BOUND_MS, `dead after ${took} ms, bound is ${DEAD_BOUND_MS} ms`)
})

test('the restarted node rejoins under the same peer id, from the peers it remembered, and is alive again everywhere', async () => {
  // No --bootstrap this time: the node must find its way back through the peers it stored on disk.
  const node = await swarm.start(4)
  assert.is(node.peerId, ids.get(4), 'same identity across restarts')
  await waitUntil('node 4 alive everywhere again', async () => await fullyAlive([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), { timeoutMs: 20_000 })
})

test('without the bootstrap node the rest stay connected, and a new node joins through any member', async () => {
  await swarm.kill(1)
  await waitUntil('survivors to mark node 1 dead', async () => await everyoneSees([2, 3, 4, 5], 1, 'dead'), { timeoutMs: DEAD_BOUND_MS + 5000 })
  assert.ok(await fullyAlive([2, 3, 4, 5], [2, 3, 4, 5]), 'the survivors still see each other alive')
  const joiner = await swarm.start(6, { bootstrap: [swarm.nodes.get(3)!.addrs[0]!] })
  ids.set(6, joiner.peerId)
  await waitUntil('node 6 to be alive everywhere and see everyone', async () => await fullyAlive([2, 3, 4, 5, 6], [2, 3, 4, 5, 6]), { timeoutMs: 20_000 })
})

test('a gracefully stopped node exits 0 within 5 s and is marked left at once', async () => {
  const started = Date.now()
  const code = await swarm.kill(5, 'SIGTERM')
  assert.is(code, 0, 'exit code after SIGTERM')
  assert.ok(Date.now() - started < 5000, `exit took ${Date.now() - started} ms`)
  // "At once": well under one suspicion timeout, because the departure is announced, not detected.
  await waitUntil('node 5 marked left', async () => await everyoneSees([2, 3, 4, 6], 5, 'left'), { timeoutMs: 2000, intervalMs: 50 })
})

test.run()
