/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014). Pure: the wall time comes in as an
 * argument, so a test can replay any schedule, including clocks that jump backwards.
 *
 * Order is (wall, logical, node) and never ties for distinct nodes. A remote time further ahead of our wall
 * clock than `maxDriftMs` is refused with ClockDriftError and leaves the clock as it was, so one far-future peer
 * cannot drag every HLC in the swarm into the future.
 */
import { ShoalError } from './errors.js'
import { fail } from './schema/index.js'

export interface Hlc {
  /** Milliseconds since the epoch: the largest wall time this clock has seen. */
  wall: number
  /** Counts events within one `wall` value. */
  logical: number
  /** Tie-breaker: the clock owner's id (for events, the origin's peer id). */
  node: string
}

/** 12 hex digits of milliseconds reach the year 10889; larger walls cannot be written by hlcToString. */
export const HLC_MAX_WALL = 0xffff_ffff_ffff
/**
 * The logical counter stays below 2^31. When a tick would pass it, the clock moves `wall` on by 1 ms and resets
 * `logical` to 0 instead of failing: 2^31 ticks in one millisecond only happen when a peer sends a counter
 * near the limit (larger ones are refused as input), and one extra millisecond of drift per 2^31 ticks is a
 * smaller harm than a clock that stops.
 */
export const HLC_MAX_LOGICAL = 0x7fff_ffff

export class ClockDriftError extends ShoalError {
  static readonly code = 'ERR_CLOCK_DRIFT'
  constructor (data: { remoteWall: number, localWall: number, maxDriftMs: number }) {
    super(ClockDriftError.code, `remote clock ${data.remoteWall - data.localWall} ms ahead of ours (limit ${data.maxDriftMs} ms)`, data)
  }
}

/** Total order by (wall, logical, node); 0 only when all three are equal. */
export function compareHlc (a: Hlc, b: Hlc): -1 | 0 | 1 {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  return 0
}

export interface HybridClockInit {
  node: string
  /** Remote wall times further ahead of our wall clock than this are refused. */
  maxDriftMs: number
  /** The last time issued before a restart, so the clock never goes back across one. */
  last?: { wall: number, logical: number }
}

export class HybridClock {
  readonly node: string
  readonly maxDriftMs: number
  private wall: number | undefined
  private logical = 0

  constructor (init: HybridClockInit) {
    if (typeof init.node !== 'string' || init.node.length === 0) fail('clock.node', init.node, 'a non-empty string')
    if (!(init.maxDriftMs >= 0)) fail('clock.maxDriftMs', init.maxDriftMs, 'a non-negative number')
    this.node = init.node
    this.maxDriftMs = init.maxDriftMs
    if (init.last !== undefined) {
      checkTime(init.last.wall, init.last.logical, 'clock.last')
      this.wall = init.last.wall
      this.logical = init.last.logical
    }
  }

  /** The last time issued (or restored), or undefined before the first. */
  get last (): Hlc | undefined {
    return this.wall === undefined ? undefined : { wall: this.wall, logical: this.logical, node: this.node }
  }

  /** A time for a local event or a send: greater than every time this clock issued before. */
  now (wall: number): Hlc {
    checkWall(wall, 'wall')
    const last = this.wall
    if (last === undefined || wall > last) return this.set(wall, 0)
    return this.set(last, this.logical + 1)
  }

  /**
   * Merges a remote time on receive: the result is greater than both the remote time and every time this clock
   * issued before. Throws ClockDriftError, changing nothing, when `remote.wall > wall + maxDriftMs`.
   */
  receive (remote: Hlc, wall: number): Hlc {
    checkWall(wall, 'wall')
    checkTime(remote.wall, remote.logical, 'remote')
    if (remote.wall > wall + this.maxDriftMs) {
      throw new ClockDriftError({ remoteWall: remote.wall, localWall: wall, maxDriftMs: this.maxDriftMs })
    }
    const last = this.wall ?? -1
    const next = Math.max(last, remote.wall, wall)
    if (next === last && next === remote.wall) return this.set(next, Math.max(this.logical, remote.logical) + 1)
    if (next === last) return this.set(next, this.logical + 1)
    if (next === remote.wall) return this.set(next, remote.logical + 1)
    return this.set(next, 0)
  }

  /**
   * Takes in a time this node has stored (a KV record from any path: gossip, repair, anti-entropy, a store push,
   * its own disk after a restart), so that every later `now()` is greater than it: a write issued after a node
   * applied version w is ordered after w (docs/protocols/kv.md, "Causality"). Unlike `receive` it applies no
   * drift bound (what is stored was checked on arrival, and the clock must pass it whatever the wall clock says)
   * and never throws: a malformed time is ignored. Returns the clock's last time.
   */
  observe (stored: { wall: number, logical: number }): Hlc | undefined {
    if (!Number.isSafeInteger(stored.wall) || stored.wall < 0 || stored.wall > HLC_MAX_WALL) return this.last
    if (!Number.isSafeInteger(stored.logical) || stored.logical < 0 || stored.logical > HLC_MAX_LOGICAL) return this.last
    if (this.wall === undefined || stored.wall > this.wall || (stored.wall === this.wall && stored.logical > this.logical)) {
      this.wall = stored.wall
      this.logical = stored.logical
    }
    return this.last
  }

  private set (wall: number, logical: number): Hlc {
    if (logical > HLC_MAX_LOGICAL) {
      wall += 1
      logical = 0
    }
    this.wall = wall
    this.logical = logical
    return { wall, logical, node: this.node }
  }
}

const WALL_DIGITS = 12
const LOGICAL_DIGITS = 8
const HLC_STRING = /^([0-9a-f]{12})-([0-9a-f]{8})-(.+)$/s

/**
 * Fixed-width, sortable text form: `<wall, 12 hex>-<logical, 8 hex>-<node>`. Sorting the strings by code unit
 * (Array.prototype.sort, LevelDB keys of ASCII nodes) gives the same order as compareHlc.
 */
export function hlcToString (h: Hlc): string {
  checkTime(h.wall, h.logical, 'hlc')
  if (typeof h.node !== 'string' || h.node.length === 0) fail('hlc.node', h.node, 'a non-empty string')
  return `${h.wall.toString(16).padStart(WALL_DIGITS, '0')}-${h.logical.toString(16).padStart(LOGICAL_DIGITS, '0')}-${h.node}`
}

export function parseHlc (text: string): Hlc {
  const m = typeof text === 'string' ? HLC_STRING.exec(text) : null
  if (m === null) fail('hlc', text, 'text of the form <12 hex>-<8 hex>-<node>')
  const h = { wall: parseInt(m[1]!, 16), logical: parseInt(m[2]!, 16), node: m[3]! }
  checkTime(h.wall, h.logical, 'hlc')
  return h
}

function checkWall (wall: number, path: string): void {
  if (!Number.isSafeInteger(wall) || wall < 0 || wall > HLC_MAX_WALL) fail(path, wall, `an integer from 0 to ${HLC_MAX_WALL}`)
}

function checkTime (wall: number, logical: number, path: string): void {
  checkWall(wall, `${path}.wall`)
  if (!Number.isSafeInteger(logical) || logical < 0 || logical > HLC_MAX_LOGICAL) fail(`${path}.logical`, logical, `an integer from 0 to ${HLC_MAX_LOGICAL}`)
}
