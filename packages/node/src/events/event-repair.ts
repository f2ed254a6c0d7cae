/**
 * The pull side of reliable events (docs/protocols/events.md, "Repair protocol"): heads digests, and pulls of
 * an origin's missing range, batch by batch, from a peer that has it. Every pulled event goes through the same
 * checks and the same queue as gossip, by way of the host (the event service).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { constants, validateRepairMessage } from '@shoal/core'
import type { Logger, RepairMessage, ShoalEvent } from '@shoal/core'
import type { EventLog } from '@shoal/store'
import type { ShoalLibp2p } from '../libp2p.js'
import { request } from '../frames.js'

/** What the repair side needs from the event service. */
export interface RepairHost {
  log: EventLog
  libp2p: ShoalLibp2p
  logger: Logger
  protocol: string
  signal: AbortSignal
  running: () => boolean
  /** A reject reason, or undefined for a good event. */
  check: (raw: unknown) => Promise<string | undefined>
  /** Applies checked events; resolves with how many were new. */
  apply: (events: ShoalEvent[]) => Promise<number>
  /** Treats everything of `origin` below `below` as compacted away and delivers what that unblocks. */
  skipTo: (origin: string, below: number) => Promise<void>
  repaired: (count: number) => void
  /** Live members to ask when a peer cannot serve a gap (in a random order). */
  peers: () => string[]
  /** Members in the view that are not live now (suspect or dead, not left): holders this node cannot ask. */
  unreachable: () => number
  /** The node's clock (ms). */
  now: () => number
  /**
   * A gap reported compacted is skipped only if it is still unserved this long after the first report: time for
   * membership and digests to find a peer that holds it (a newcomer may know only the origin at first).
   */
  skipGraceMs: number
}

/**
 * Before skipping a gap that a peer says it compacted, every live peer is asked for it, up to this many: one
 * peer's compaction, or an origin whose own log was lost and restarted above a reservation, is not everyone's.
 * (It was 4: after disk losses the holders of an epoch are often a minority, and four peers that lacked it
 * skipped it for good; found by the 30-minute chaos run.) A skip is rare (a lost log, compaction), so asking up
 * to this many costs little; past it, a swarm's holders are assumed to be among any 16.
 */
export const MAX_PEERS_ASKED_BEFORE_SKIP = 16

/**
 * While some members cannot be asked (suspect or dead: paused, partitioned, restarting), a gap is skipped no
 * sooner than this after it was first found unservable: long enough for such a holder to answer again. When
 * every member was asked, skipGraceMs alone applies (a node that lost its log and meets origins restarted
 * several times must not wait this long per epoch).
 */
export const MIN_SKIP_GRACE_MS = 10_000

/** Gaps whose first `compacted` report is remembered at most (a flood of them only restarts the grace). */
const MAX_GAPS_REMEMBERED = 4096

/** Pulls never loop forever: at most this many batches per pull (256 events each). */
const MAX_PULL_ROUNDS = 10_000

export class EventRepair {
  private readonly pulling = new Set<string>()
  /** `<origin>/<from>` -> when a peer first said that gap was compacted (bounded: cleared on skip, capped). */
  private readonly firstCompacted = new Map<string, number>()

  constructor (private readonly host: RepairHost) {}

  /**
   * Pulls `origin`'s events after our contiguous head from `peer`, batch by batch, while it has more. A peer that
   * cannot serve the next seq (it answers `compacted`, or holds nothing there) is not the last word: up to
   * MAX_PEERS_ASKED_BEFORE_SKIP peers are asked in turn, and the gap is skipped only on the origin's signed
   * evidence, once it is still unserved skipGraceMs after it was first found unservable.
   */
  async pull (peer: string, origin: string): Promise<void> {
    const { host } = this
    if (this.pulling.has(origin) || !host.running()) return
    this.pulling.add(origin)
    const cannotServe = new Set<string>()
    let evidence: { peer: string, compactedBelow: number, first: unknown } | undefined
    // The next batch, asked for as soon as this one arrives, and checked as soon as it arrives itself, while this
    // one is checked and stored (used only if it starts where we then are): the peer's read, the transfer, the
    // checks and our append of consecutive batches overlap.
    let ahead: { peer: string, from: number, batch: Fetched } | undefined
    const ask = (to: string, from: number): Fetched => fetchChecked(this.send(to, { v: 1, type: 'pull', origin, from, limit: constants.EVENT_PULL_BATCH }), async raw => await host.check(raw))
    try {
      for (let rounds = 0; host.running() && rounds < MAX_PULL_ROUNDS; rounds++) {
        const from = host.log.head(origin) + 1
        const batch = ahead !== undefined && ahead.peer === peer && ahead.from === from ? ahead.batch : ask(peer, from)
        ahead = undefined
        const reply = await batch.reply
        if (reply.type === 'error' && reply.code !== 'compacted') throw new Error(`peer refused the pull: ${reply.code}`)
        if (reply.type !== 'error' && reply.type !== 'events') throw new Error(`unexpected ${reply.type} reply to pull`)
        if (reply.type === 'events' && reply.events.length > 0) {
          if (reply.more) {
            // From the unchecked seqs: a batch that fails its checks throws below, and the next one goes unused.
            const next = reply.events.reduce<number>((max, e) => Math.max(max, typeof (e as { seq?: unknown }).seq === 'number' ? (e as { seq: number }).seq : 0), 0) + 1
            ahead = { peer, from: next, batch: ask(peer, next) }
          }
          const bad = await batch.bad
          if (bad !== undefined) throw new Error(`peer sent an invalid event (${bad})`)
          const accepted = reply.events as ShoalEvent[]
          cannotServe.clear()
          evidence = undefined
          const before = host.log.head(origin)
          host.repaired(await host.apply(accepted))
          if (!reply.more || host.log.head(origin) <= before) break
          continue
        }
        // This peer cannot serve `from`.
        cannotServe.add(peer)
        if (reply.type === 'error' && reply.first !== undefined && (evidence === undefined || reply.compactedBelow < evidence.compactedBelow)) {
          evidence = { peer, compactedBelow: reply.compactedBelow, first: reply.first }
        }
        const other = host.peers().find(p => !cannotServe.has(p))
        if (other !== undefined && cannotServe.size < MAX_PEERS_ASKED_BEFORE_SKIP) { peer = other; continue }
        if (evidence === undefined) break
        const key = `${origin}/${from}`
        const since = this.firstCompacted.get(key) ?? host.now()
        if (this.firstCompacted.size >= MAX_GAPS_REMEMBERED) this.firstCompacted.clear()
        this.firstCompacted.set(key, since)
        const everyoneAsked = other === undefined && host.unreachable() === 0
        if (host.now() - since < (everyoneAsked ? host.skipGraceMs : Math.max(host.skipGraceMs, MIN_SKIP_GRACE_MS))) break
        if (!await this.skipWithEvidence(evidence.peer, origin, from, evidence.compactedBelow, evidence.first)) break
        this.firstCompacted.delete(key)
        cannotServe.clear()
        evidence = undefined
      }
    } catch (err) {
      if (host.running()) host.logger.debug({ peer, origin, err: (err as Error).message }, 'pull failed')
    } finally {
      this.pulling.delete(origin)
    }
  }

  /**
   * Skips `origin`'s gap below `compactedBelow` only on signed evidence: the origin's own event at that seq,
   * which the peer must send with its `compacted` answer. A bare claim (or one that does not check out) moves
   * nothing: a peer cannot make this node skip an origin's events, its own included. Returns whether it skipped.
   */
  private async skipWithEvidence (peer: string, origin: string, from: number, compactedBelow: number, first: unknown): Promise<boolean> {
    const { host } = this
    if (first === undefined || compactedBelow <= from) {
      host.logger.debug({ origin, peer, compactedBelow }, 'peer says the events were compacted but shows no signed event there; not skipping')
      return false
    }
    const reason = await host.check(first)
    const event = first as ShoalEvent
    if (reason !== undefined || event.origin !== origin || event.seq !== compactedBelow) {
      throw new Error(`peer sent no valid evidence for a compacted gap (${reason ?? 'another origin or seq'})`)
    }
    await host.skipTo(origin, compactedBelow)
    await host.apply([event])
    host.logger.warn({ origin, peer, compactedBelow }, 'events were compacted before we got them; skipped the gap up to the origin\'s signed event')
    return true
  }

  /**
   * Exchanges heads with `peer` and pulls every origin it is ahead on. Returns the peer's heads (origin -> its
   * contiguous seq), or undefined when it did not answer with a digest.
   */
  async exchangeDigest (peer: string): Promise<Record<string, number> | undefined> {
    try {
      const reply = await this.send(peer, { v: 1, type: 'digest', heads: this.host.log.heads() })
      if (reply.type !== 'digest') return undefined
      this.pullWhereAhead(peer, reply.heads)
      return reply.heads
    } catch (err) {
      if (this.host.running()) this.host.logger.debug({ peer, err: (err as Error).message }, 'digest exchange failed')
      return undefined
    }
  }

  /** Answers a repair request; invalid input throws, which resets the stream. */
  async answer (raw: unknown, from: string): Promise<RepairMessage> {
    const msg = validateRepairMessage(raw)
    switch (msg.type) {
      case 'digest':
        this.pullWhereAhead(from, msg.heads)
        return { v: 1, type: 'digest', heads: this.host.log.heads() }
      case 'pull': {
        const found = await this.host.log.range(msg.origin, msg.from, Math.min(msg.limit, constants.EVENT_PULL_BATCH), constants.EVENT_MAX_PULL_BYTES)
        if ('compactedBelow' in found) {
          const first = await this.host.log.get(msg.origin, found.compactedBelow)
          return { v: 1, type: 'error', code: 'compacted', compactedBelow: found.compactedBelow, ...(first !== undefined ? { first } : {}) }
        }
        return { v: 1, type: 'events', events: found.events, more: found.more }
      }
      default:
        return { v: 1, type: 'error', code: 'bad-request', message: `unexpected ${msg.type}` }
    }
  }

  private pullWhereAhead (peer: string, heads: Record<string, number>): void {
    for (const [origin, theirs] of Object.entries(heads)) {
      if (theirs > this.host.log.head(origin)) void this.pull(peer, origin)
    }
  }

  private async send (peer: string, message: RepairMessage): Promise<RepairMessage> {
    const signal = AbortSignal.any([this.host.signal, AbortSignal.timeout(constants.DEFAULT_NETWORK_TIMEOUT_MS)])
    const raw = await request(this.host.libp2p, peerIdFromString(peer), this.host.protocol, message, { signal, maxBytes: constants.EVENT_MAX_PULL_BYTES + 64 * 1024 })
    return validateRepairMessage(raw)
  }
}

/** A pull's reply, and the first reject reason among its events once they are checked (undefined: all good). */
interface Fetched { reply: Promise<RepairMessage>, bad: Promise<string | undefined> }

/**
 * Starts checking a reply's events as soon as it arrives, all together (their signatures go to a worker thread in
 * one batch, verify-pool.ts). Neither promise rejects unhandled: a batch asked for ahead may go unused.
 */
function fetchChecked (reply: Promise<RepairMessage>, check: (raw: unknown) => Promise<string | undefined>): Fetched {
  const bad = reply.then(async r => {
    if (r.type !== 'events') return undefined
    const reasons = await Promise.all(r.events.map(async raw => await check(raw)))
    return reasons.find(x => x !== undefined)
  })
  reply.catch(() => {})
  bad.catch(() => {})
  return { reply, bad }
}
