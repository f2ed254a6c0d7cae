/** Peers this node has been connected to, so a restart can redial them without any bootstrap address. */
import { BUCKETS } from './buckets.js'
import type { BucketHandle, Store } from './store.js'

export interface KnownPeer {
  addrs: string[]
  lastSeen: number
}

/** Bounds what a restart redials; the oldest beyond it are forgotten. */
export const MAX_KNOWN_PEERS = 256

export class PeerRepository {
  private readonly bucket: BucketHandle<KnownPeer>

  constructor (store: Store) {
    this.bucket = store.bucket<KnownPeer>(BUCKETS.peers)
  }

  async remember (peerId: string, peer: KnownPeer): Promise<void> {
    await this.bucket.put(peerId, peer)
  }

  async forget (peerId: string): Promise<void> {
    await this.bucket.del(peerId)
  }

  /** Most recently seen first. Entries that fail to parse are skipped, not fatal. */
  async list (): Promise<Array<KnownPeer & { peerId: string }>> {
    const out: Array<KnownPeer & { peerId: string }> = []
    for await (const [peerId, value] of this.bucket.entries()) {
      if (Array.isArray(value?.addrs) && typeof value.lastSeen === 'number') out.push({ peerId, addrs: value.addrs.filter(a => typeof a === 'string'), lastSeen: value.lastSeen })
    }
    out.sort((a, b) => b.lastSeen - a.lastSeen)
    for (const stale of out.splice(MAX_KNOWN_PEERS)) await this.forget(stale.peerId)
    return out
  }
}
