/**
 * Protocol ids and topic names, all scoped by swarm name so two swarms on one network never mix routing
 * tables, membership or gossip. Versions end each id (docs/protocols/).
 */
import { constants } from '@shoal/core'

export interface SwarmProtocols {
  dht: string
  membership: string
  events: string
  kv: string
  /** Wall-clock samples for the clock-skew guard (clock-sync.ts). */
  time: string
  /** Status pulled on demand (status-reporter.ts). */
  status: string
  /** Chunk results from workers to a job's finisher (tasks/result-stream.ts, docs/protocols/tasks.md). */
  taskResults: string
  topics: { membership: string, events: string }
}

/**
 * The mDNS service name a swarm's members query and answer (DNS-SD style `_name._udp.local`; @libp2p/mdns's
 * default is `_p2p._udp.local`): scoped by swarm so members of other swarms on the LAN are not even offered.
 */
export function mdnsServiceName (swarm: string): string {
  return `_shoal-${swarm}._udp.local`
}

/**
 * The gossip wire: how every gossipsub message of this node is framed, and the version its topics end in.
 * gossipsub's signature policy is one per router, and a router of one policy drops (and charges the sender for)
 * every message of the other, so the policy and the topic version move together: nodes of different wires
 * subscribe to disjoint topics and never hand each other a message (decisions/0010).
 * - 2 (this release): `StrictNoSign`, message id = SHA-256 of the message bytes. Every Shoal payload that
 *   needs an author carries its own signature (events: the origin's, checked by the topic validator).
 * - 1 (earlier releases): `StrictSign`, message id = publisher and seqno.
 */
export const GOSSIP_WIRE: { readonly version: number, readonly signed: boolean } = { version: 2, signed: false }

export function swarmProtocols (swarm: string): SwarmProtocols {
  const base = `${constants.PROTOCOL_PREFIX}/${swarm}`
  return {
    dht: `${base}/kad/1.0.0`,
    membership: `${base}/membership/1.0.0`,
    events: `${base}/events/1.0.0`,
    kv: `${base}/kv/1.0.0`,
    time: `${base}/time/1.0.0`,
    status: `${base}/status/1.0.0`,
    taskResults: `${base}/task-results/1.0.0`,
    topics: {
      membership: `${base}/membership/${GOSSIP_WIRE.version}`,
      events: `${base}/events/${GOSSIP_WIRE.version}`
    }
  }
}
