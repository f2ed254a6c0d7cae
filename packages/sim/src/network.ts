/**
 * The simulated network: one-way latency drawn from a distribution, loss, partitions, crashed hosts, and the
 * accounting of messages and bytes per node. No sockets: a message is a callback scheduled on the World.
 */
import type { Rng } from '@shoal/core'
import type { World } from './world.js'

export interface LatencyModel {
  /** Fixed one-way part (propagation, the receiver's stack), ms. */
  baseMs: number
  /** Mean of the exponential queueing part, ms (a long right tail, like a busy host's). */
  jitterMs: number
}

export interface NetworkConfig {
  latency: LatencyModel
  /** Probability that one transmission of a message is lost. */
  loss: number
  /**
   * 'tcp': a lost transmission is retransmitted after an RTO (200 ms, doubling), as libp2p over TCP does; the
   * message arrives late. 'drop': lost for good (memberlist's UDP probes).
   */
  lossMode: 'tcp' | 'drop'
}

/** Linux's minimum TCP retransmission timeout. */
const TCP_MIN_RTO_MS = 200
/** Retransmissions before TCP gives up on a segment (far beyond any timeout here). */
const TCP_MAX_RETRIES = 6

/** Message categories counted separately in the report. */
export type Category = 'swim' | 'sync' | 'gossip' | 'repair' | 'connect'
export const CATEGORIES: readonly Category[] = ['swim', 'sync', 'gossip', 'repair', 'connect']

export class Network {
  /** Partition group per node; messages between different groups are dropped. */
  readonly group: Int32Array
  readonly up: Uint8Array
  /** A hung process (SIGSTOP): not up, yet its host neither resets nor refuses. */
  readonly hung: Uint8Array
  /** Bumped at each crash and restart: a message sent to an earlier life is not delivered. */
  readonly life: Int32Array
  counting = false
  readonly sentMessages: Record<Category, Float64Array>
  readonly sentBytes: Record<Category, Float64Array>

  constructor (private readonly world: World, readonly config: NetworkConfig, readonly size: number, private readonly rng: Rng) {
    this.group = new Int32Array(size)
    this.up = new Uint8Array(size)
    this.hung = new Uint8Array(size)
    this.life = new Int32Array(size)
    this.sentMessages = Object.fromEntries(CATEGORIES.map(c => [c, new Float64Array(size)])) as Record<Category, Float64Array>
    this.sentBytes = Object.fromEntries(CATEGORIES.map(c => [c, new Float64Array(size)])) as Record<Category, Float64Array>
  }

  reachable (from: number, to: number): boolean {
    return this.up[from] === 1 && this.up[to] === 1 && this.group[from] === this.group[to]
  }

  /** One-way delay of one transmission, or undefined if it is lost for good. */
  delay (): number | undefined {
    const { baseMs, jitterMs } = this.config.latency
    let d = baseMs + (jitterMs > 0 ? -Math.log(1 - this.rng()) * jitterMs : 0)
    if (this.config.loss > 0) {
      let rto = TCP_MIN_RTO_MS
      for (let i = 0; this.rng() < this.config.loss; i++) {
        if (this.config.lossMode === 'drop' || i >= TCP_MAX_RETRIES) return undefined
        d += rto
        rto *= 2
      }
    }
    return d
  }

  /**
   * Sends a message; `deliver` runs at the receiver if it arrives (receiver up, same life, same side of any
   * partition, not lost). `refused` runs at the sender when the receiver's host answers that nothing listens (a
   * killed process: the kernel refuses at once), one round trip later.
   */
  send (from: number, to: number, category: Category, bytes: number, deliver: () => void, refused?: () => void): void {
    if (this.up[from] !== 1) return
    if (this.counting) {
      this.sentMessages[category][from]!++
      this.sentBytes[category][from]! += bytes
    }
    const d = this.delay()
    if (d === undefined) return
    const life = this.life[to]!
    const fromLife = this.life[from]!
    const crossed = this.group[from] !== this.group[to]
    this.world.after(d, () => {
      if (crossed || this.group[from] !== this.group[to]) return
      if (this.up[to] === 1 && this.life[to] === life) { deliver(); return }
      if (refused !== undefined && this.up[to] !== 1 && this.hung[to] !== 1) {
        this.world.after(d, () => { if (this.up[from] === 1 && this.life[from] === fromLife) refused() })
      }
    })
  }

  resetCounters (): void {
    for (const c of CATEGORIES) { this.sentMessages[c].fill(0); this.sentBytes[c].fill(0) }
  }
}
