/** SWIM membership: the member view and the updates that travel between nodes (docs/protocols/membership.md). */

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'
export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']

/** What a member says about itself; travels with every `alive` update. */
export interface MemberMeta {
  addrs: string[]
  version: string
  capabilities: string[]
}

export interface Member extends MemberMeta {
  id: string
  state: MemberState
  /** Only the member itself raises its incarnation (to refute suspicion or rejoin). */
  incarnation: number
  /** Last time this node heard from the member directly (ms); 0 if never. */
  lastSeen: number
  /** When the member entered its current state (ms). */
  stateSince: number
}

export type MemberUpdate =
  | { kind: 'alive', id: string, incarnation: number, addrs: string[], version: string, capabilities: string[] }
  | { kind: 'suspect', id: string, incarnation: number, from: string }
  | { kind: 'dead', id: string, incarnation: number, from: string }
  | { kind: 'left', id: string, incarnation: number }

export interface MembershipTimings {
  probeIntervalMs: number
  probeTimeoutMs: number
  indirectProbes: number
  suspicionTimeoutMs: number
  pushPullIntervalMs: number
  deadMemberRetentionMs: number
  /** How often queued updates go out to GOSSIP_FANOUT neighbours (default GOSSIP_INTERVAL_MS). */
  gossipIntervalMs?: number
}

export type MembershipInput =
  /** Time passes: the driver ticks at `nextTickAt()` (an earlier tick does nothing); the machine decides what to do. */
  | { type: 'tick', now: number }
  /**
   * Outcome of a probe effect (direct ping, then indirect through `via`). `nacks`: relays in `via` that answered
   * but could not reach the target either (Lifeguard's nacks; they show the failure is the target's, not ours).
   */
  | { type: 'probe-result', now: number, target: string, seq: number, ok: boolean, nacks?: number }
  /** Updates received from `from` (piggybacked, gossiped or a full-state exchange). */
  | { type: 'updates', now: number, from?: string, updates: MemberUpdate[] }
  /** Direct evidence that `peer` is up (it sent us something). */
  | { type: 'heard-from', now: number, peer: string }
  /** The transport lost its connection to `peer`: a hint, not proof; probe it now. */
  | { type: 'connection-lost', now: number, peer: string }
  /** This node is leaving the swarm gracefully. */
  | { type: 'leave', now: number }
  /**
   * The members this node is connected to in a bounded-degree overlay: probing and push-pull stay among them
   * (each member is still probed about once per probe interval by its own neighbours). Empty: every live member.
   */
  | { type: 'neighbours', now: number, peers: string[] }
  /** This node's addresses or capabilities changed. */
  | { type: 'set-meta', now: number, meta: Partial<MemberMeta> }

export type MembershipEffect =
  | { type: 'probe', target: string, seq: number, via: string[], timeoutMs: number }
  /** Publish an update this node originated on the gossip topic: a death, a departure, a refutation. */
  | { type: 'broadcast', update: MemberUpdate }
  /**
   * Send the queued updates (`takePiggyback`, one batch per peer) to these neighbours now, on a ping: memberlist's
   * gossip round. Suspicions, confirmations and address changes travel only this way and on probes.
   */
  | { type: 'gossip', peers: string[] }
  | { type: 'push-pull', peer: string }
  | { type: 'changed', member: Member, previous: MemberState | undefined }
  | { type: 'removed', id: string }
