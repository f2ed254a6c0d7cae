/** What every bench file shares: the --smoke flag, bounded waits, a formed LocalSwarm, payloads. */
import { LocalSwarm, waitFor } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'

export const SMOKE = process.argv.includes('--smoke')

/** Bytes of JSON in each event's `data` (and the size a baseline message is padded to match). */
export const DATA_BYTES = 256

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Progress for whoever runs the bench by hand; stdout is kept for the Markdown section. */
export function log (msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`)
}

/** `data` for an event: the bench's id and send time, padded to DATA_BYTES of JSON. */
export function eventData (run: string, n: number): { run: string, n: number, t: number, pad: string } {
  const t = Date.now()
  const head = JSON.stringify({ run, n, t, pad: '' }).length
  return { run, n, t, pad: 'x'.repeat(Math.max(0, DATA_BYTES - head)) }
}

/**
 * Starts `n` daemons on 127.0.0.1, bootstrapped through node 1, and waits until every node sees `n` alive
 * members. Destroys the swarm itself if forming fails.
 */
export async function formSwarm (n: number, timeoutMs = 60_000): Promise<LocalSwarm> {
  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  try {
    const first = await swarm.start(1)
    // A few at a time: a burst of simultaneous starts on 2 cores slows every one of them past its deadline.
    for (let i = 2; i <= n; i += 3) {
      const batch = [i, i + 1, i + 2].filter(j => j <= n)
      await Promise.all(batch.map(async j => await swarm.start(j, { bootstrap: [first.addrs[0]!], timeoutMs: 30_000 })))
    }
    await waitFor(async () => {
      const counts = await Promise.all(nodes(swarm).map(async node => (await node.client.call('swarm.members', { state: 'alive' }, { timeoutMs: 3000 })).length))
      return counts.every(c => c === n) ? true : undefined
    }, timeoutMs, `${n} daemons to see each other alive`)
    return swarm
  } catch (err) {
    await swarm.destroy()
    throw err
  }
}

export function nodes (swarm: LocalSwarm): LocalNode[] {
  return [...swarm.nodes.values()].sort((a, b) => a.index - b.index)
}

/** Runs `fn` on a formed swarm and destroys it afterwards, whatever happens. */
export async function withSwarm<T> (n: number, fn: (swarm: LocalSwarm) => Promise<T>): Promise<T> {
  const swarm = await formSwarm(n)
  try {
    return await fn(swarm)
  } finally {
    await swarm.destroy()
  }
}
