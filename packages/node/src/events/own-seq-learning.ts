/**
 * A restored identity learns its last seq from peers before it publishes (docs/protocols/events.md,
 * "Publishing and sequence numbers"). `shoal restore` brings back a node's identity from a backup, but not how
 * far it published after the backup: signing from seq 1 again would put a second, different event under seqs
 * peers hold, which they refuse as equivocation (fault kind 3). So while the reservation says `learnFromPeers`,
 * own writes fail with ERR_UNAVAILABLE (-32003) and the node asks live peers for their digest. Once one answers,
 * the node continues a whole reservation block (SEQ_RESERVATION_BLOCK) above the highest seq of its own that any
 * answering peer holds in order, which also clears seqs the original signed that only a peer out of reach holds;
 * peers skip that gap on its signed event at the new start, as after a lost log. A node with nobody to ask (no
 * bootstrap, no mDNS) continues a block above its reservation at once.
 */
import { UnavailableError } from '@shoal/core'
import type { Logger } from '@shoal/core'
import { SEQ_RESERVATION_BLOCK } from './seq-reservation.js'
import type { SeqReservation } from './seq-reservation.js'

/** Peers asked per round, and the time between rounds until one answers. */
const PEERS_PER_ROUND = 3
export const OWN_SEQ_LEARN_INTERVAL_MS = 1000

export interface OwnSeqLearningInit {
  self: string
  reservation: SeqReservation
  /** Whether any peer can be expected (bootstrap addresses or mDNS configured). */
  peersExpected: boolean
  /** The highest seq of ours held here (repair may have brought some back). */
  ownHighest: () => number
  /** A digest exchange with `peer`: its heads, or undefined when it did not answer. */
  digest: (peer: string) => Promise<Record<string, number> | undefined>
  /** Live peers, in the order to ask them. */
  peers: () => string[]
  /** Makes the own log continue at `next` (EventLog.skipTo through the write queue). */
  continueAt: (next: number) => Promise<void>
  logger: Logger
}

export class OwnSeqLearning {
  private pending: boolean
  private busy = false

  constructor (private readonly init: OwnSeqLearningInit) {
    this.pending = init.reservation.mustLearn
  }

  /** Throws ERR_UNAVAILABLE while the node has not learned its last seq (own writes call it before stamping). */
  guard (): void {
    if (!this.pending) return
    throw new UnavailableError('this node was restored from a backup and has not yet learned from a peer how far its identity published; writes resume once a peer answers (check --bootstrap and the network)', { reason: 'own-seq-unknown' })
  }

  get learning (): boolean {
    return this.pending
  }

  /** One round: asks a few live peers; done once one answers (or at once when no peer can be expected). */
  async round (): Promise<void> {
    if (!this.pending || this.busy) return
    this.busy = true
    try {
      let heard: number | undefined
      if (!this.init.peersExpected) heard = 0
      for (const peer of this.init.peers().slice(0, PEERS_PER_ROUND)) {
        const heads = await this.init.digest(peer)
        if (heads !== undefined) heard = Math.max(heard ?? 0, heads[this.init.self] ?? 0)
      }
      if (heard === undefined) return
      const next = Math.max(heard, this.init.ownHighest(), this.init.reservation.highest) + SEQ_RESERVATION_BLOCK + 1
      await this.init.continueAt(next)
      await this.init.reservation.learned(next)
      this.pending = false
      this.init.logger.warn({ heard, next }, 'restored identity: learned its last seq from peers; its own events continue above it')
    } finally {
      this.busy = false
    }
  }
}
