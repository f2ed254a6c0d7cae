/**
 * The connection gater: refuses peers on the deny list (from config, or from debug.partition in fault tests),
 * inbound and outbound. Closing connections already open is the caller's job (ShoalNode.partition does it).
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'

export class DenyList {
  private readonly denied = new Set<string>()

  constructor (initial: Iterable<string> = []) {
    for (const id of initial) this.denied.add(id)
  }

  has (peer: PeerId | string): boolean {
    return this.denied.has(peer.toString())
  }

  set (peers: Iterable<string>): void {
    this.denied.clear()
    for (const id of peers) this.denied.add(id)
  }

  list (): string[] {
    return [...this.denied]
  }

  gater (): ConnectionGater {
    return {
      // Loopback and LAN addresses are where a private swarm lives; the default gater may refuse them.
      denyDialMultiaddr: () => false,
      denyDialPeer: peer => this.has(peer),
      denyInboundEncryptedConnection: peer => this.has(peer),
      denyOutboundEncryptedConnection: peer => this.has(peer)
    }
  }
}
