/**
 * Peer choice for periodic background exchanges (event digests, KV anti-entropy rounds): prefer members this node
 * already holds a connection to. With a bounded-degree overlay those are its neighbours, so a round costs no dial,
 * no Noise handshake and no link that discovery must close again later; and a member just declared alive by gossip
 * but not yet reachable is not picked over one that is. Falls back to every live member when none is connected
 * (a node that just started), so a round always has someone to go to.
 */
import type { ShoalLibp2p } from './libp2p.js'

/** The ids in `live` with an open connection, or all of `live` when none has one. Order kept. */
export function connectedFirst (live: readonly string[], libp2p: Pick<ShoalLibp2p, 'getConnections'>): string[] {
  const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
  const reachable = live.filter(p => connected.has(p))
  return reachable.length > 0 ? reachable : [...live]
}
