/** The KV service's public shapes: write options and results, and what kv.stats reports. */
import type { KvVersion } from '@shoal/core'

export type Acks = number | 'quorum' | 'all'

export interface WriteOptions {
  acks?: Acks
  timeoutMs?: number
  signal?: AbortSignal
  /** Shoal's own records under SYSTEM_PREFIX; never set from user input. */
  system?: boolean
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
