/**
 * Version mixing (docs/protocols/README.md#versions): each Shoal protocol id ends in its version, and two nodes
 * talk over a protocol only when they share one id exactly (multistream-select matches ids byte for byte).
 * A release that changes a wire format gives it a new id and keeps handling the previous one for a release,
 * so version N talks to N-1 and N+1; nodes further apart cannot talk, and this says so.
 */
import type { SwarmProtocols } from './protocols.js'

export interface Incompatibility {
  /** Which protocol: 'membership', 'events' or 'kv'. */
  protocol: string
  /** The version this node speaks, e.g. '1.0.0'. */
  ours: string
  /** The versions of it the peer announced (identify), e.g. ['2.0.0']. */
  theirs: string[]
}

const CHECKED = ['membership', 'events', 'kv'] as const

/**
 * The Shoal protocols of our swarm that the peer announces only in other versions. Empty when it shares every
 * one it announces, and for a peer that announces none of them (not a Shoal node of this swarm: nothing to say
 * about versions).
 */
export function incompatibilities (ours: SwarmProtocols, theirs: readonly string[]): Incompatibility[] {
  const out: Incompatibility[] = []
  for (const name of CHECKED) {
    const id = ours[name]
    if (theirs.includes(id)) continue
    const prefix = id.slice(0, id.lastIndexOf('/') + 1)
    const versions = theirs.filter(p => p.startsWith(prefix)).map(p => p.slice(prefix.length))
    if (versions.length > 0) out.push({ protocol: name, ours: id.slice(prefix.length), theirs: versions.sort() })
  }
  return out
}

/** A peer that gossips one of our topics on another gossip wire (protocols.ts GOSSIP_WIRE). */
export interface GossipMismatch {
  /** The topic's name without its version, e.g. '/shoal/lab/events'. */
  topic: string
  /** Our wire version, e.g. '2'. */
  ours: string
  /** The version the peer subscribed to, e.g. '1'. */
  theirs: string
}

/**
 * Whether a topic a peer subscribed to is one of ours on another gossip wire: same name, other version suffix.
 * Topics are not in identify, so this is read from the peer's gossipsub subscriptions. Undefined for our own
 * topics and for topics that are not ours at all (other swarms, other software).
 */
export function gossipMismatch (ourTopics: readonly string[], theirTopic: string): GossipMismatch | undefined {
  const cut = theirTopic.lastIndexOf('/')
  if (cut <= 0 || ourTopics.includes(theirTopic)) return undefined
  const name = theirTopic.slice(0, cut)
  const ours = ourTopics.find(t => t.lastIndexOf('/') === cut && t.startsWith(name + '/'))
  if (ours === undefined) return undefined
  return { topic: name, ours: ours.slice(cut + 1), theirs: theirTopic.slice(cut + 1) }
}
