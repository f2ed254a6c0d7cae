/** Result shapes shared by several methods. */
import { s } from '../schema.js'

export const MULTIADDR = s.string({ minLength: 1, maxLength: 1024, pattern: '^/', description: 'a multiaddr, e.g. /ip4/127.0.0.1/tcp/7700/p2p/12D3Koo…' })
export const PEER_ID = s.string({ minLength: 1, maxLength: 128, description: 'a libp2p peer id' })

export const MEMBER = s.object({
  id: PEER_ID,
  state: s.string({ enum: ['alive', 'suspect', 'dead', 'left'] as const }),
  incarnation: s.integer({ min: 0 }),
  addrs: s.array(s.string()),
  version: s.string(),
  capabilities: s.array(s.string()),
  lastSeen: s.integer({ min: 0, description: 'ms since the epoch this node last heard from the member directly; 0 if never' }),
  stateSince: s.integer({ min: 0 })
})

export const PEER = s.object({
  peerId: PEER_ID,
  addresses: s.array(s.string()),
  direction: s.string(),
  member: s.boolean({ description: 'whether the peer is a live member of this swarm' })
})
