/** The many-node tests' common start: node 1 first, the others given only its address, then a formed swarm. */
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

/** How many members each running node sees alive. */
export async function aliveCounts (swarm: LocalSwarm): Promise<number[]> {
  return await Promise.all([...swarm.nodes.values()].map(async n => (await n.client.call('swarm.members', { state: 'alive' })).length))
}

/** Starts `count` daemons that bootstrap through node 1 and waits until every one sees all of them alive. */
export async function startSwarm (count: number, args: string[] = []): Promise<{ swarm: LocalSwarm, node: (i: number) => LocalNode, all: () => LocalNode[] }> {
  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn', ...args] })
  try {
    const first = await swarm.start(1)
    await Promise.all(Array.from({ length: count - 1 }, async (_, i) => await swarm.start(i + 2, { bootstrap: [first.addrs[0]!] })))
    await waitUntil('a formed swarm', async () => (await aliveCounts(swarm)).every(c => c === count))
  } catch (err) {
    // A suite whose `before` fails never runs its `after`: stop the daemons here, or they outlive the test.
    await swarm.destroy()
    throw err
  }
  return { swarm, node: i => swarm.nodes.get(i)!, all: () => [...swarm.nodes.values()] }
}

/** Splits the swarm in two with debug.partition (daemons started with --debug); `heal` lifts it. */
export async function partition (node: (i: number) => LocalNode, left: number[], right: number[]): Promise<void> {
  const ids = (xs: number[]): string[] => xs.map(i => node(i).peerId)
  await Promise.all([
    ...left.map(async i => await node(i).client.call('debug.partition', { deny: ids(right) })),
    ...right.map(async i => await node(i).client.call('debug.partition', { deny: ids(left) }))
  ])
}

export async function heal (nodes: LocalNode[]): Promise<void> {
  await Promise.all(nodes.map(async n => await n.client.call('debug.partition', { deny: [] })))
}
