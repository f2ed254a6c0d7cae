/**
 * Many nodes in one process over libp2p's memory transport (the harness for fast tests and larger simulated
 * swarms): a 10-node swarm forms from one bootstrap address, and a partition made with the connection gater
 * splits the membership views, which heal when the partition is lifted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

const SIZE = 10
let swarm: MemorySwarm

test.before(async () => {
  swarm = await MemorySwarm.create({ seed: 42 })
})

test.after(async () => {
  await swarm.destroy()
})

test(`${SIZE} in-process nodes form one swarm through a single bootstrap node`, async () => {
  await swarm.add({ bootstrap: null })
  for (let i = 1; i < SIZE; i++) await swarm.add()
  await waitUntil(`every node to see ${SIZE} alive`, () => swarm.counts('alive').every(c => c === SIZE), { timeoutMs: 30_000 })
})

test('a partition splits the views; healing it brings everyone back alive', async () => {
  const left = swarm.nodes.slice(0, 5)
  const right = swarm.nodes.slice(5)
  const ids = (nodes: typeof left): string[] => nodes.map(n => n.peerId)
  await Promise.all([
    ...left.map(async n => await n.partition(ids(right))),
    ...right.map(async n => await n.partition(ids(left)))
  ])
  const sees = (viewer: typeof left[number], others: typeof left, state: string): boolean =>
    others.every(o => viewer.members().find(m => m.id === o.peerId)?.state === state)
  await waitUntil('each side to mark the other dead', () =>
    left.every(n => sees(n, right, 'dead')) && right.every(n => sees(n, left, 'dead')), { timeoutMs: 20_000 })
  assert.ok(left.every(n => sees(n, left, 'alive')), 'the left side still sees itself alive')
  assert.ok(right.every(n => sees(n, right, 'alive')), 'the right side still sees itself alive')

  await Promise.all(swarm.nodes.map(async n => await n.partition([])))
  await waitUntil('everyone alive again after healing', () => swarm.counts('alive').every(c => c === SIZE), { timeoutMs: 30_000 })
})

test.run()
