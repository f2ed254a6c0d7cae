/**
 * The shapes every part of the harness shares: one operation of the history, a fault of the nemesis, the final
 * state read from every node, and a violation a checker reports.
 */

/** A KV version as the daemon reports it: last writer wins by (wall, logical, node). */
export interface Version { wall: number, logical: number, node: string }

export type OpKind = 'kv.put' | 'kv.get' | 'kv.delete' | 'events.publish' | 'events.list' | 'task.submit' | 'task.result'

/**
 * ok: the call answered with a result. fail: the call definitely had no effect (refused before it could act,
 * or an error documented as "nothing was written"). unknown: it may or may not have taken effect (timeout,
 * connection lost mid-call, internal error).
 */
export type Outcome = 'ok' | 'fail' | 'unknown'

export interface Op {
  /** Unique in one run, in invoke order. */
  id: number
  /** The client (worker) that issued it; each client is bound to one node for the whole run. */
  client: number
  /** The node index the call went to. */
  node: number
  kind: OpKind
  args: Record<string, unknown>
  /** Harness wall time (ms since the epoch, real clock, never skewed). */
  invokeAt: number
  completeAt: number
  outcome: Outcome
  result?: any
  error?: { code?: number | string, message: string }
}

export type FaultKind = 'kill' | 'pause' | 'partition' | 'skew' | 'disk' | 'wipe'
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition', 'skew', 'disk', 'wipe']

/** How a partition splits the nodes: a minority from a majority, two sides joined by one bridge node, or one node alone. */
export type PartitionShape = 'majority-minority' | 'bridge' | 'isolate'
export const PARTITION_SHAPES: readonly PartitionShape[] = ['majority-minority', 'bridge', 'isolate']

/** One scheduled fault: starts at `at` ms after the workload starts, lasts `durationMs`, then is healed. */
export interface Fault {
  kind: FaultKind
  at: number
  durationMs: number
  /** Nodes it hits (kill/pause/skew/disk/wipe) or, for partitions, the sides. */
  nodes: number[]
  /** partition: the groups that can talk only inside themselves (a bridge node may sit in two). */
  groups?: number[][]
  shape?: PartitionShape
  /** skew: offset in ms; `jumpMs` set = the running clock jumps by that much halfway. */
  offsetMs?: number
  jumpMs?: number
}

/** What one node holds at the end: live keys with versions, and the events it delivered per origin. */
export interface NodeState {
  index: number
  peerId: string
  kv: Record<string, { value: unknown, version: Version }>
  events: Record<string, StoredEvent[]>
}

export interface StoredEvent { seq: number, topic: string, type: string, hlc: { wall: number, logical: number }, data: unknown }

export interface Violation {
  invariant: InvariantId
  message: string
  /** The ops of the history that show it (ids and full records). */
  ops: Op[]
  detail?: Record<string, unknown>
}

export type InvariantId = 'inv1-causal' | 'inv2-bounded-skew' | 'inv3-durability' | 'inv4-no-resurrection' | 'inv5-convergence' | 'inv6-events' | 'inv7-quorum' | 'inv8-jobs' | 'inv9-failed-no-effect' | 'inv10-closed-topics' | 'inv11-no-internal-error'
export const INVARIANTS: readonly InvariantId[] = ['inv1-causal', 'inv2-bounded-skew', 'inv3-durability', 'inv4-no-resurrection', 'inv5-convergence', 'inv6-events', 'inv7-quorum', 'inv8-jobs', 'inv9-failed-no-effect', 'inv10-closed-topics', 'inv11-no-internal-error']

/** Everything a checker reads. */
export interface CheckInput {
  ops: Op[]
  /** Swarm size: every member the run started (the members last known). */
  members: number
  peerIds: Record<number, string>
  maxClockDriftMs: number
  /** Dumps of the nodes left after kill -9 of a minority that includes recent writers (invariant 3). */
  survivors?: NodeState[]
  /** The nodes killed before `survivors` was read. */
  killed?: number[]
  /**
   * When a node's db/ was moved aside (harness time). A wipe is a lost disk, not a crash: what the node applied
   * before it is no longer evidence of what it knows (invariants 1 and 4b), and its own unreplicated publishes
   * may be gone (invariant 6's "every ok publish is everywhere").
   */
  wipes?: Array<{ node: number, at: number }>
  /** Dumps of every node after the final heal and restart. */
  final: NodeState[]
  /** Whether the final dumps became equal before the deadline, and when (ms after the last heal). */
  convergence?: { converged: boolean, afterMs?: number, deadlineMs: number, budgetMs: number, differences?: string[] }
}

export type Checker = (input: CheckInput) => Violation[]
