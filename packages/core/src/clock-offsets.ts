/**
 * How far this node's wall clock is from the swarm's (docs/protocols/clock.md). Pure: samples and times come in
 * as arguments.
 *
 * Each sample is one request/response with a peer (Cristian's algorithm, 1989): we send at monotonic time m0,
 * the peer answers with its wall time R, we receive at m1; the peer's wall clock at our monotonic time m is then
 * about R + (m - (m0 + m1) / 2), within ±(m1 - m0) / 2. Samples are kept on the MONOTONIC time line, so a jump of
 * our own wall clock (an operator, a bad NTP step, faketime) shows at once, without a new sample.
 *
 * The node's offset from the swarm is the median of its offsets to the peers sampled recently, with itself
 * counted as 0: a node that is alone, or whose clock agrees with most others, is at about 0. The median
 * ignores a minority of wrong clocks (CockroachDB's RemoteClockMonitor uses the same idea, with a majority rule
 * that makes a node whose clock is off the cluster's stop itself; Shoal refuses that node's writes instead).
 *
 * Why it matters: last-writer-wins orders writes by their HLC, whose physical part is the writer's wall clock.
 * A writer whose clock is D ahead of the others makes writes that beat, for D, everything written after them.
 * Refusing writes while |offset| > maxClockDriftMs / 2 keeps any two accepting writers within maxClockDriftMs
 * of each other (both within half of it from the same median), which is what invariant 2 needs.
 */
import { ShoalError } from './errors.js'

/**
 * This node's clock is too far from the swarm's to stamp writes (ERR_CLOCK_SKEW): its wall clock (`offsetMs`), or
 * its hybrid clock, when `hlcAheadMs` is given: the HLC's last time is that far ahead of the swarm's time, because
 * this node stamped or stored a time while a clock ran fast. Its next stamp would be at least that far ahead, so
 * writes wait until the swarm's time has caught up.
 */
export class ClockSkewError extends ShoalError {
  static readonly code = 'ERR_CLOCK_SKEW'
  constructor (data: { offsetMs: number, limitMs: number, peers: number, hlcAheadMs?: number }) {
    const s = (ms: number): string => `${(Math.abs(ms) / 1000).toFixed(1)} s`
    const message = data.hlcAheadMs !== undefined
      ? `this node's hybrid clock is ${s(data.hlcAheadMs)} ahead of the swarm's time (a time stamped or stored while a clock ran fast); writes are refused while it is more than ${s(data.limitMs)} ahead, so they cannot overrule later writes elsewhere. Retry in ${s(data.hlcAheadMs - data.limitMs)}`
      : `this node's clock is ${s(data.offsetMs)} ${data.offsetMs > 0 ? 'ahead of' : 'behind'} the swarm's (median of ${data.peers} peers); writes are refused beyond ±${s(data.limitMs)} so they cannot overrule later writes elsewhere. Fix this machine's time (NTP) and retry`
    super(ClockSkewError.code, message, data)
  }
}

/**
 * How far a hybrid clock's last time (`lastWall`, ms) is ahead of the swarm's time now: this node's wall clock
 * `wall` corrected by its offset from the swarm (`offsetMs`, positive = ahead). Negative when it is behind. A
 * write stamped now would be at least this far ahead of every honest node's clock, so invariant 2 (a write
 * acknowledged more than maxClockDriftMs before another was invoked never wins) needs it bounded as the wall
 * clock's offset is: by half the drift bound.
 */
export function hlcLeadMs (lastWall: number | undefined, wall: number, offsetMs: number): number {
  return lastWall === undefined ? -Infinity : lastWall - (wall - offsetMs)
}

export interface ClockSample {
  /** Our monotonic time when the request left, ms. */
  sentMono: number
  /** Our monotonic time when the answer arrived, ms. */
  receivedMono: number
  /** The peer's wall clock in its answer, ms since the epoch. */
  remoteWall: number
}

export interface ClockOffsetsInit {
  /** Samples older than this (monotonic ms) no longer count. */
  maxAgeMs: number
  /** Samples whose round trip took longer than this are dropped: their error bound is too wide. */
  maxRttMs: number
}

interface Kept { base: number, at: number, rtt: number }

export class ClockOffsets {
  private readonly peers = new Map<string, Kept>()

  constructor (private readonly init: ClockOffsetsInit) {}

  /** Records a sample from `peer`; returns false (and keeps nothing) for one that is malformed or too slow. */
  add (peer: string, s: ClockSample): boolean {
    const rtt = s.receivedMono - s.sentMono
    if (![s.sentMono, s.receivedMono, s.remoteWall].every(Number.isFinite) || rtt < 0 || rtt > this.init.maxRttMs) return false
    // The peer's wall clock minus our monotonic clock, at the midpoint of the round trip.
    this.peers.set(peer, { base: s.remoteWall - (s.sentMono + s.receivedMono) / 2, at: s.receivedMono, rtt })
    return true
  }

  /** Forgets a peer (it left or died). */
  forget (peer: string): void {
    this.peers.delete(peer)
  }

  /**
   * Our wall clock minus each recently sampled peer's, now (ms; positive = we are ahead), keyed by peer.
   * `wall` and `mono` are our clocks read now.
   */
  offsets (wall: number, mono: number): Map<string, number> {
    const out = new Map<string, number>()
    for (const [peer, k] of this.peers) {
      if (mono - k.at > this.init.maxAgeMs) { this.peers.delete(peer); continue }
      out.set(peer, wall - (k.base + mono))
    }
    return out
  }

  /**
   * Our offset from the swarm: the median of our offsets to recent peers and 0 for ourselves (ms; positive = our
   * clock is ahead), and how many peers it rests on. 0 with no recent samples.
   */
  swarmOffset (wall: number, mono: number): { offsetMs: number, peers: number } {
    const values = [...this.offsets(wall, mono).values(), 0].sort((a, b) => a - b)
    const mid = values.length >> 1
    const offsetMs = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2
    return { offsetMs, peers: values.length - 1 }
  }
}
