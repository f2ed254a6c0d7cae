/**
 * Waiting for replicas to agree after the last heal: polls full dumps of the given nodes until they agree
 * (statesAgree) or the deadline passes, and times each key (when it last became equal on every node,
 * measured from `since`), which gives the convergence p50/p99 of the report.
 */
import type { ChaosCluster } from './cluster.js'
import { dumpNode, keyFingerprints, statesAgree } from './state.js'
import { kvDifferences } from './checkers/index.js'
import type { NodeState } from './types.js'

export interface Convergence {
  converged: boolean
  /** ms from `since` to the poll that found every dump equal. */
  afterMs?: number
  /** Per key: ms from `since` until the key was equal on every node (for the keys that ever were). */
  perKeyMs: number[]
  states: NodeState[]
  differences: string[]
}

const POLL_MS = 250

export async function waitForConvergence (cluster: ChaosCluster, nodes: number[], since: number, deadlineMs: number): Promise<Convergence> {
  const equalSince = new Map<string, number>()
  let states: NodeState[] = []
  for (;;) {
    const polled = Date.now()
    const dumps = await Promise.all(nodes.map(async i => {
      const c = cluster.client(i)
      return c === undefined ? undefined : await dumpNode(i, cluster.peerIds[i]!, c).catch(() => undefined)
    }))
    if (dumps.every(d => d !== undefined)) {
      states = dumps as NodeState[]
      const prints = states.map(keyFingerprints)
      const keys = new Set(prints.flatMap(p => [...p.keys()]))
      for (const k of keys) {
        const equal = new Set(prints.map(p => p.get(k) ?? '')).size === 1
        if (!equal) equalSince.delete(k)
        else if (!equalSince.has(k)) equalSince.set(k, polled)
      }
      for (const k of [...equalSince.keys()]) if (!keys.has(k)) equalSince.delete(k)
      if (statesAgree(states, new Set(cluster.wipeLog.map(w => w.node)))) {
        return { converged: true, afterMs: polled - since, perKeyMs: [...equalSince.values()].map(t => Math.max(0, t - since)), states, differences: [] }
      }
    }
    if (Date.now() - since > deadlineMs) {
      return { converged: false, perKeyMs: [...equalSince.values()].map(t => Math.max(0, t - since)), states, differences: states.length > 0 ? kvDifferences(states) : ['could not read every node'] }
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

export function percentile (xs: number[], p: number): number | undefined {
  if (xs.length === 0) return undefined
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}
