/**
 * A restored identity learns its last seq from peers before it publishes (docs/protocols/events.md,
 * "Publishing and sequence numbers"). `shoal restore` brings back a node's identity from a backup, but not how
 * far it published after the backup: signing from seq 1 again would put a second, different event under seqs
 * peers hold, which they refuse as equivocation (fault kind 3). So while the reservation says `learnFromPeers`,
 * own writes fail with ERR_UNAVAILABLE (-32003) and the node asks live peers for their digest, once a second:
 * - a peer whose digest lists this origin tells how far it holds it in order (the highest such answer counts);
 * - when no peer is expected (no bootstrap, no mDNS, no member or peer remembered), or at least
 *   min(3, live peers) peers answered over 3 rounds and none lists this origin, nobody holds its events.
 * Then, once the node's own events up to that seq have come back by repair (the digest exchange pulls them; it
 * waits up to 10 rounds), it continues a whole reservation block (SEQ_RESERVATION_BLOCK) above the highest seq
 * it knows of, which also clears up to that many seqs the original signed that only a peer out of reach holds;
 * peers skip that gap on its signed event at the new start, as after a lost log.
 */
import { UnavailableError } from '@shoal/core'
import type { Logger } from '@shoal/core'
import { SEQ_RESERVATION_BLOCK } from './seq-reservation.js'
import type { SeqReservation } from './seq-reservation.js'

/** Peers asked per round, and the time between rounds until the node has learned. */
const PEERS_PER_ROUND = 3
export const OWN_SEQ_LEARN_INTERVAL_MS = 1000
/** Distinct peers (at most the live ones) and rounds after which "nobody lists this origin" is an answer. */
const SILENT_PEERS = 3
const SILENT_ROUNDS = 3
/** Rounds to wait, once decided, for the own events a peer holds to come back by repair. */
const PULL_ROUNDS = 10

export interface OwnSeqLearningInit {
  self: string
  reservation: SeqReservation
  /** Whether any peer can be expected: bootstrap addresses or mDNS configured, or members or peers remembered. */
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
  private rounds = 0
  /** The highest seq of this origin a peer listed in its digest. */
  private heard: number | undefined
  /** Peers that answered with a digest that does not list this origin. */
  private readonly silent = new Set<string>()
  private decidedAt: number | undefined

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

  /** One round: asks a few live peers, and ends the learning once it can (see the module's comment). */
  async round (): Promise<void> {
    if (!this.pending || this.busy) return
    this.busy = true
    try {
      this.rounds++
      const live = this.init.peers()
      for (const peer of live.slice(0, PEERS_PER_ROUND)) {
        const heads = await this.init.digest(peer)
        if (heads === undefined) continue
        const own = heads[this.init.self]
        if (own === undefined) this.silent.add(peer)
        else this.heard = Math.max(this.heard ?? 0, own)
      }
      const nobodyHolds = !this.init.peersExpected ||
        (this.silent.size > 0 && this.silent.size >= Math.min(SILENT_PEERS, live.length) && this.rounds >= SILENT_ROUNDS)
      if (this.heard === undefined && !nobodyHolds) return
      this.decidedAt ??= this.rounds
      const heard = this.heard ?? 0
      if (this.init.ownHighest() < heard && this.rounds < this.decidedAt + PULL_ROUNDS) return
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
