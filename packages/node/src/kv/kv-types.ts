/** The KV service's public shapes (write options and results, what kv.stats reports) and two pure rules over them. */
import { InvalidInputError } from '@shoal/core'
import type { KvVersion } from '@shoal/core'

export type Acks = number | 'quorum' | 'all'

export interface WriteOptions {
  acks?: Acks
  timeoutMs?: number
  signal?: AbortSignal
  /** Shoal's own records under SYSTEM_PREFIX; never set from user input. */
  system?: boolean
  /** W3C traceparent of the caller's span: the write's span becomes its child. */
  trace?: string
}

export interface WriteResult {
  key: string
  version: KvVersion
  acked: number
  required: number
}

export interface KvStats {
  keys: number
  tombstones: number
  bytes: number
  root: string
  lastChange: number
  appliedLsn: number
  rejected: number
  /**
   * Replication lag: how long since this replica was last known equal to every live peer's (0 = the last
   * round with each of them ended with equal roots). Undefined until a round with each has run.
   */
  lagMs?: number
  /** Bytes of anti-entropy messages this node sent and received since it started. */
  traffic: { sent: number, received: number }
  peers: Record<string, { root?: string, match: boolean, lastRound?: number, lastMatch?: number, lastError?: string }>
}

/**
 * `acks` as a count of nodes, self included, against the `known` members: every member of the last known view
 * that has not left, self included, whether alive, suspect or dead now. A quorum of the members visible now
 * would let a minority cut off by a partition acknowledge "quorum" writes on its own (invariant 7).
 */
export function requiredAcks (acks: Acks, known: number): number {
  if (acks === 'all') return known
  if (acks === 'quorum') return Math.floor(known / 2) + 1
  if (!Number.isSafeInteger(acks) || acks < 1) throw new InvalidInputError('acks must be a whole number >= 1, "quorum" or "all"', { field: 'acks' })
  return acks
}

/** Replication lag (see KvStats.lagMs) from the last anti-entropy round with each live peer. */
export function replicationLagMs (live: string[], peers: KvStats['peers'], now: number): number | undefined {
  let lagMs = 0
  for (const id of live) {
    const p = peers[id]
    if (p?.lastRound === undefined) return undefined
    if (!p.match) lagMs = Math.max(lagMs, now - (p.lastMatch ?? 0))
  }
  return lagMs
}
