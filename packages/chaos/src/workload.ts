/**
 * The clients: one per node, each bound to its node for the whole run, issuing a seeded mix of KV reads and
 * writes over a small keyspace (so writes conflict), event publishes and reads; plus one jobs client that
 * submits jobs with answers the harness can compute and waits for their results. Every value written embeds
 * the op id, so each write is told apart from every other.
 */
import { seededRng } from '@shoal/core'
import type { Rng } from '@shoal/core'
import type { ChaosCluster } from './cluster.js'
import type { History } from './history.js'

export interface WorkloadOptions {
  seed: number
  keys: number
  /** Pause between one client's ops (keeps 2 cores usable). */
  thinkMs: number
  /** HTTP deadline of one call; past it the op is unknown. */
  callTimeoutMs: number
  /** The node the jobs client submits to. */
  jobNode: number
  /** Handler installed on only some nodes (mixed fleet), or undefined. */
  partialHandler?: string
}

const ACKS = [1, 2, 'quorum', 'all'] as const
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!

export async function runClients (cluster: ChaosCluster, history: History, o: WorkloadOptions, signal: AbortSignal): Promise<void> {
  const clients = cluster.indexes.map(async (node, i) => await kvClient(cluster, history, o, i + 1, node, signal))
  await Promise.all([...clients, jobsClient(cluster, history, o, cluster.indexes.length + 1, signal)])
}

async function pause (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

async function kvClient (cluster: ChaosCluster, history: History, o: WorkloadOptions, id: number, node: number, signal: AbortSignal): Promise<void> {
  const rng = seededRng(o.seed * 7919 + id)
  let cursor = 0
  const opts = { timeoutMs: o.callTimeoutMs }
  while (!signal.aborted) {
    await pause(o.thinkMs / 2 + rng() * o.thinkMs)
    const client = cluster.client(node)
    const r = rng()
    const key = `k${Math.floor(rng() * o.keys)}`
    const acks = pick(rng, ACKS)
    if (client === undefined) continue
    const opId = history.reserve()
    if (r < 0.4) {
      const args = { key, value: `w${opId}`, acks, timeoutMs: 5000 }
      await history.invoke(opId, id, node, 'kv.put', args, async () => await client.call('kv.put', args, opts))
    } else if (r < 0.65) {
      await history.invoke(opId, id, node, 'kv.get', { key }, async () => await client.call('kv.get', { key }, opts))
    } else if (r < 0.73) {
      const args = { key, acks, timeoutMs: 5000 }
      await history.invoke(opId, id, node, 'kv.delete', args, async () => await client.call('kv.delete', args, opts))
    } else if (r < 0.75) {
      // A forged store write through the generic events API (fault kind 6): must be refused, never take effect.
      const args = { topic: 'kv', type: 'kv.put', data: { key, value: `forged${opId}` } }
      await history.invoke(opId, id, node, 'events.publish', args, async () => await client.call('events.publish', args, opts))
    } else if (r < 0.93) {
      const args = { topic: 'chaos', data: { p: opId } }
      await history.invoke(opId, id, node, 'events.publish', args, async () => await client.call('events.publish', args, opts))
    } else {
      const args = { since: cursor, limit: 100 }
      const op = await history.invoke(opId, id, node, 'events.list', args, async () => await client.call('events.list', args, opts))
      if (op.outcome === 'ok') cursor = Number(op.result.next)
      else cursor = 0
    }
  }
}

async function jobsClient (cluster: ChaosCluster, history: History, o: WorkloadOptions, id: number, signal: AbortSignal): Promise<void> {
  const rng = seededRng(o.seed * 104729 + id)
  const node = o.jobNode
  while (!signal.aborted) {
    await pause(1000 + rng() * 2000)
    const client = cluster.client(node)
    if (client === undefined) continue
    const opId = history.reserve()
    const usePartial = o.partialHandler !== undefined && rng() < 0.5
    const spec = usePartial
      ? { handler: o.partialHandler!, inputs: Array.from({ length: 3 + Math.floor(rng() * 4) }, () => Array.from({ length: 3 }, () => Math.floor(rng() * 1000))), reduce: 'list' as const }
      : (() => { const from = Math.floor(rng() * 100_000); return { handler: 'primes', input: { from, to: from + 50_000 + Math.floor(rng() * 50_000) }, split: 2 + Math.floor(rng() * 4) } })()
    const submit = await history.invoke(opId, id, node, 'task.submit', spec, async () => await client.call('task.submit', spec as never, { timeoutMs: o.callTimeoutMs }))
    if (submit.outcome !== 'ok') continue
    const args = { jobId: String(submit.result.jobId), wait: true, timeoutMs: 30_000 }
    // Read the result on the node it was submitted to, or on another one if that one is down right now.
    const reader = cluster.isUp(node) ? node : cluster.indexes.find(i => cluster.isUp(i)) ?? node
    const rc = cluster.client(reader)
    if (rc === undefined) continue
    await history.invoke(history.reserve(), id, reader, 'task.result', args, async () => await rc.call('task.result', args, { timeoutMs: 35_000, signal }))
  }
}
