/**
 * Merkle anti-entropy for the KV store (docs/protocols/kv.md): compare roots, walk down only the subtrees
 * that differ, list the differing leaves and fetch the records that are newer remotely, one bounded batch at
 * a time. Also carries `store` pushes, with which a writer collects acknowledgements.
 */
import pMap from 'p-map'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { LEAF_DEPTH, ZERO_HASH, compareVersions, constants, validateKvSyncRequest, validateKvSyncResponse } from '@shoal/core'
import type { Clock, KvLimits, KvSyncRequest, KvSyncResponse, Logger, ShoalEvent, TimerHandle } from '@shoal/core'
import type { KvRepository } from '@shoal/store'
import type { EventService } from '../events/event-service.js'
import type { ShoalLibp2p } from '../libp2p.js'
import { request } from '../frames.js'
import { noopTracing } from '../tracing.js'
import type { Tracing } from '../tracing.js'

/**
 * What anti-entropy needs from the replica it repairs (KvService provides it). A narrow view, so the sync loop
 * does not import the service that owns it.
 */
export interface KvReplica {
  readonly limits: KvLimits
  /** Aborts when the replica stops. */
  readonly signal: AbortSignal
  /** Brings root() and treeChildren() up to date with every committed write. */
  freshTree: () => Promise<void>
  root: () => string
  treeChildren: (id: string) => Array<{ id: string, hash: string }>
  /** True when the replica surely holds no record of `key` (KvTree.absent); false means it may. */
  absent: (key: string) => boolean
  applyEvents: (events: ShoalEvent[], opts?: { lsn?: number, sync?: boolean }) => Promise<number>
  /** Whether the event log's delivery of `event` merges it into the replica (KvService.mergedOnDelivery). */
  mergedOnDelivery: (event: ShoalEvent) => boolean
  /** Peer ids of the live members other than this node. */
  livePeers: () => string[]
}

export interface KvSyncComponents {
  libp2p: ShoalLibp2p
  clock: Clock
  logger: Logger
  eventService: EventService
  repo: KvRepository
  kv: KvReplica
  tracing?: Tracing
}

/**
 * Batches (of KV_SYNC_BATCH node ids or leaves) one anti-entropy round works on at once, in the tree walk and in
 * the leaves. Memory stays bounded by a few batches; 3 keeps the peer, the wire and this node busy at once
 * (10,000 keys behind: see docs/benchmarks.md).
 */
const LEAF_BATCHES_IN_FLIGHT = 3
/** Members pushed to beyond the acks a write needs, so that one slow or failed member does not hold it up. */
const ACK_PUSH_SPARES = 1
/** The shortest time between two rounds one peer's `pull` requests start here (ms). */
const PULL_INVITE_MIN_GAP_MS = 1000
/** After timeoutMs / this without enough acks, the write is pushed to every remaining live member. */
const ACK_HEDGE_DIVISOR = 4

interface PeerStatus { root?: string, match: boolean, lastRound?: number, lastMatch?: number, lastError?: string }

export class KvSync {
  private readonly status = new Map<string, PeerStatus>()
  private readonly rounds = new Map<string, Promise<void>>()
  /** When we last pulled back from each peer because it pulled from us (ms, clock.now()). */
  private readonly pushedBack = new Map<string, number>()
  /** When we last pulled from each peer because it asked us to (`pull`; ms, clock.now()). */
  private readonly invited = new Map<string, number>()
  /** The round each peer's `pull` request scheduled and that has not started yet. */
  private readonly invitedSoon = new Map<string, TimerHandle>()
  private readonly bytes = { sent: 0, received: 0 }
  /** Counts the JSON bodies as the frames carry them (not re-encoded here: a catch-up reply is up to MAX_FRAME_BYTES). */
  private readonly countBytes = (sent: number, received: number): void => { this.bytes.sent += sent; this.bytes.received += received }
  /** Writes pushed for acks so far (rotates where each push starts). */
  private pushes = 0
  /** Rounds since start by outcome: 'in_sync' (equal roots), 'repaired' (equal after pulling), 'diverged', 'error'. */
  private readonly outcomes = new Map<string, number>()
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (evt.detail.protocols.includes(this.init.protocol)) void this.round(evt.detail.peerId.toString())
  }

  /**
   * `pushBackAfterMs`: a peer that walks our tree down to the leaves (its root differs from ours) gets a round
   * back from us, so one round repairs both sides (push-pull anti-entropy, Demers et al. 1987); at most one such
   * round per peer in this many ms. Default: never (pull only).
   */
  constructor (private readonly components: KvSyncComponents, private readonly init: { protocol: string, pushBackAfterMs?: number }) {}

  start (): void {
    this.components.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.components.libp2p.removeEventListener('peer:identify', this.onIdentify)
    for (const timer of this.invitedSoon.values()) timer.cancel()
    this.invitedSoon.clear()
  }

  peerStatus (): Record<string, PeerStatus> {
    return Object.fromEntries(this.status)
  }

  traffic (): { sent: number, received: number } {
    return { ...this.bytes }
  }

  roundOutcomes (): ReadonlyMap<string, number> {
    return this.outcomes
  }

  /** One anti-entropy round with `peer` (at most one at a time per peer). Never throws. */
  async round (peer: string): Promise<void> {
    const running = this.rounds.get(peer)
    if (running !== undefined) return await running
    const round = this.pullFrom(peer).finally(() => { this.rounds.delete(peer) })
    this.rounds.set(peer, round)
    await round
  }

  private async pullFrom (peer: string): Promise<void> {
    const status: PeerStatus = this.status.get(peer) ?? { match: false }
    this.status.set(peer, status)
    let outcome = 'error'
    const span = (this.components.tracing ?? noopTracing).start('kv.anti-entropy', { attributes: { 'shoal.peer': peer } })
    try {
      await this.components.kv.freshTree()
      const root = await this.send(peer, { v: 1, type: 'root' })
      if (root.type !== 'root') throw new Error(`expected root, got ${root.type}`)
      status.root = root.hash
      if (root.hash !== this.components.kv.root()) {
        // Level by level: only children of differing nodes are compared, LEAF_BATCHES_IN_FLIGHT requests at a time
        // (a replica far behind differs in thousands of nodes of the last level).
        let differing = ['']
        for (let depth = 0; depth < LEAF_DEPTH && differing.length > 0; depth++) {
          const parts = await pMap(chunks(differing, constants.KV_SYNC_BATCH), async batch => {
            const reply = await this.send(peer, { v: 1, type: 'nodes', ids: batch })
            if (reply.type !== 'nodes') throw new Error(`expected nodes, got ${reply.type}`)
            // Replies leave out empty children: an empty subtree there has nothing for us to pull.
            const remote = new Map(reply.nodes.map(n => [n.id, n.hash]))
            const found: string[] = []
            for (const id of batch) {
              for (const child of this.components.kv.treeChildren(id)) {
                const theirs = remote.get(child.id)
                if (theirs !== undefined && theirs !== child.hash) found.push(child.id)
              }
            }
            return found
          }, { concurrency: LEAF_BATCHES_IN_FLIGHT })
          differing = parts.flat()
        }
        // Leaves, a few batches at a time: list, compare versions, fetch what is newer there.
        await this.syncLeafBatches(peer, [...chunks(differing, constants.KV_SYNC_BATCH)])
        const after = await this.send(peer, { v: 1, type: 'root' })
        await this.components.kv.freshTree()
        status.match = after.type === 'root' && after.hash === this.components.kv.root()
        outcome = status.match ? 'repaired' : 'diverged'
      } else {
        // In sync: one root each way was the whole round.
        status.match = true
        outcome = 'in_sync'
      }
      status.lastRound = this.components.clock.now()
      if (status.match) status.lastMatch = status.lastRound
      delete status.lastError
    } catch (err) {
      status.lastError = (err as Error).message
      span.fail(err)
      if (!this.components.kv.signal.aborted) this.components.logger.debug({ peer, err: (err as Error).message }, 'anti-entropy round failed')
    } finally {
      this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1)
      span.setAttributes({ 'shoal.outcome': outcome })
      span.end()
    }
  }

  /**
   * Runs syncLeaves over the batches, LEAF_BATCHES_IN_FLIGHT at a time, so that the peer's reads, the wire, our
   * signature checks and our merges overlap (a full catch-up is thousands of leaves). The first failure stops the
   * others from taking another batch and fails the round.
   */
  private async syncLeafBatches (peer: string, batches: string[][]): Promise<void> {
    await pMap(batches, async batch => { await this.syncLeaves(peer, batch) }, { concurrency: LEAF_BATCHES_IN_FLIGHT })
  }

  private async syncLeaves (peer: string, leaves: string[]): Promise<void> {
    const wanted: string[] = []
    let reply = await this.send(peer, { v: 1, type: 'leaves', ids: leaves })
    for (;;) {
      if (reply.type !== 'leaves') throw new Error(`expected leaves, got ${reply.type}`)
      // Keys this replica surely lacks are wanted without a read (a node catching up lacks most of them).
      const maybe = reply.entries.map(e => e.key).filter(key => !this.components.kv.absent(key))
      const local = new Map((await this.components.repo.byKeys(maybe)).map(r => [r.key, r.version]))
      for (const e of reply.entries) {
        const mine = local.get(e.key)
        if (mine === undefined || compareVersions(e.version, mine) > 0) wanted.push(e.key)
      }
      if (reply.more !== true || reply.entries.length === 0) break
      reply = await this.send(peer, { v: 1, type: 'leaves', ids: leaves, after: reply.entries[reply.entries.length - 1]!.key })
    }
    // Pipelined: the next batch's records are on their way while this batch is checked and merged, and one merge
    // may still be running while the next batch is checked.
    const queue = [...chunks(wanted, constants.KV_SYNC_BATCH)]
    const fetch = (keys: string[]): { keys: string[], reply: Promise<KvSyncResponse> } => {
      const reply = this.send(peer, { v: 1, type: 'get', keys })
      reply.catch(() => {}) // awaited below; a round that fails early must not leave it unhandled
      return { keys, reply }
    }
    let next = queue.length > 0 ? fetch(queue.shift()!) : undefined
    let merging: Promise<unknown> = Promise.resolve()
    try {
      while (next !== undefined) {
        const { keys, reply } = next
        const got = await reply
        if (got.type !== 'records') throw new Error(`expected records, got ${got.type}`)
        const received = new Set(got.records.map(raw => keyOf(raw as ShoalEvent)))
        // A reply cut short by its size limit: the rest of its keys go round again.
        const rest = got.more === true && received.size > 0 ? keys.filter(k => !received.has(k)) : []
        if (rest.length > 0) queue.unshift(rest)
        next = queue.length > 0 ? fetch(queue.shift()!) : undefined
        const reasons = await Promise.all(got.records.map(async raw => await this.components.eventService.check(raw, { offload: true })))
        const events: ShoalEvent[] = []
        got.records.forEach((raw, i) => {
          const reason = reasons[i]
          // A record dated past our drift bound is refused for now (offered again later, it is taken once our
          // clock is within the bound); it must not cost us the rest of the round. Anything else is the peer's fault.
          if (reason === 'future') this.components.logger.debug({ peer, key: keyOf(raw as ShoalEvent) }, 'deferred a record dated past our drift bound')
          else if (reason !== undefined) throw new Error(`peer sent an invalid record (${reason})`)
          else events.push(raw as ShoalEvent)
        })
        await merging
        merging = this.components.kv.applyEvents(events)
        merging.catch(() => {}) // awaited above or in finally; not unhandled while the next reply is awaited
      }
    } finally {
      await merging
    }
  }

  /** Answers a sync request; invalid input throws, which resets the stream. */
  async answer (raw: unknown, from: string): Promise<KvSyncResponse> {
    const msg = validateKvSyncRequest(raw, this.components.kv.limits)
    const { kv, repo } = this.components
    if (msg.type === 'root' || msg.type === 'nodes') await kv.freshTree()
    switch (msg.type) {
      case 'root':
        return { v: 1, type: 'root', hash: kv.root(), count: repo.stats().keys + repo.stats().tombstones }
      case 'nodes':
        return { v: 1, type: 'nodes', nodes: msg.ids.flatMap(id => kv.treeChildren(id)).filter(n => n.hash !== ZERO_HASH) }
      case 'leaves': {
        this.pushBack(from)
        const page = await repo.leafEntries(msg.ids, { after: msg.after, limit: constants.KV_SYNC_BATCH * 4 })
        return { v: 1, type: 'leaves', entries: page.entries, more: page.more }
      }
      case 'get': {
        const records = await repo.byKeys(msg.keys)
        const events: ShoalEvent[] = []
        let size = 0
        for (const r of records) {
          size += Buffer.byteLength(JSON.stringify(r.event))
          if (events.length > 0 && size > constants.EVENT_MAX_PULL_BYTES) break
          events.push(r.event as ShoalEvent)
        }
        return { v: 1, type: 'records', records: events, more: events.length < records.length }
      }
      case 'store': {
        const event = msg.event as ShoalEvent
        const reason = await this.components.eventService.check(event)
        if (reason !== undefined) return { v: 1, type: 'stored', ok: false, reason }
        // The usual case, the next event of its origin here: one fsync'd batch stores it in the event log with its
        // KV record. Otherwise (held behind a gap, stored before by gossip without an fsync, or past the horizon)
        // the merge is made durable on its own, and the event log takes the event as any other copy.
        if (!(kv.mergedOnDelivery(event) && await this.components.eventService.storeForAck(event, from))) {
          await kv.applyEvents([event], { sync: true })
          void this.components.eventService.ingest([event], from).catch(() => {})
        }
        return { v: 1, type: 'stored', ok: true }
      }
      case 'pull':
        this.pullInvited(from)
        await kv.freshTree()
        return { v: 1, type: 'root', hash: kv.root(), count: repo.stats().keys + repo.stats().tombstones }
    }
  }

  /**
   * Asks every live member to pull from us now (`pull`), after our replica gained records no gossip carries (an
   * import). Best effort: a member that does not answer (or runs a version without `pull`) catches up at its
   * next periodic round. Resolves when every member answered or failed.
   */
  async invitePulls (): Promise<void> {
    await Promise.all(this.components.kv.livePeers().map(async peer => {
      await this.send(peer, { v: 1, type: 'pull' }).catch(() => {})
    }))
  }

  /**
   * A peer asked us to pull from it: a round with it that starts after this request (a round already running may
   * have walked past what the peer just gained), at most one per PULL_INVITE_MIN_GAP_MS per peer, so a peer cannot
   * make us run rounds back to back; requests meanwhile share the one scheduled. Only for live members.
   */
  private pullInvited (from: string): void {
    if (this.invitedSoon.has(from) || !this.components.kv.livePeers().includes(from)) return
    const { clock } = this.components
    const wait = Math.max(0, (this.invited.get(from) ?? -Infinity) + PULL_INVITE_MIN_GAP_MS - clock.now())
    this.invitedSoon.set(from, clock.setTimer(() => {
      void (async () => {
        await this.rounds.get(from)
        this.invitedSoon.delete(from)
        this.invited.set(from, clock.now())
        await this.round(from)
      })()
    }, wait))
  }

  /**
   * Pull-back for a peer that is pulling from us at the leaf level: it holds something we may lack. None while a
   * round with it runs, at most one per `pushBackAfterMs` (so two replicas whose roots differ while writes flow do
   * not bounce rounds forever), and only with live members.
   */
  private pushBack (from: string): void {
    const every = this.init.pushBackAfterMs
    if (every === undefined || this.rounds.has(from) || !this.components.kv.livePeers().includes(from)) return
    const now = this.components.clock.now()
    const last = this.pushedBack.get(from)
    if (last !== undefined && now - last < every) return
    this.pushedBack.set(from, now)
    void this.round(from)
  }

  /** Asks every live member for its root now: is the swarm converged? */
  async convergence (signal: AbortSignal): Promise<{ root: string, converged: boolean, peers: Record<string, { root?: string, match: boolean, error?: string }> }> {
    await this.components.kv.freshTree()
    const root = this.components.kv.root()
    const peers: Record<string, { root?: string, match: boolean, error?: string }> = {}
    await Promise.all(this.components.kv.livePeers().map(async peer => {
      try {
        const reply = await this.send(peer, { v: 1, type: 'root' }, AbortSignal.any([signal, AbortSignal.timeout(5000)]))
        const hash = reply.type === 'root' ? reply.hash : undefined
        peers[peer] = { ...(hash !== undefined ? { root: hash } : {}), match: hash === root }
      } catch (err) {
        peers[peer] = { match: false, error: (err as Error).message }
      }
    }))
    return { root, converged: Object.values(peers).every(p => p.match), peers }
  }

  /**
   * Pushes a write for acknowledgements: to `want` live members plus ACK_PUSH_SPARES at first (connected ones
   * first, a different starting member each write so the work spreads), one more for each that fails, and to all
   * the rest once a quarter of `timeoutMs` has passed without enough acks (a slow member must not cost the write).
   * Every member gets the write by gossip anyway; a push only makes a copy durable before the writer answers, so
   * pushing to every member (as before) made each of them fsync twice. Resolves with how many stored it durably
   * (up to `want`).
   */
  async pushForAcks (event: ShoalEvent, want: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const peers = this.pushOrder()
    const deadline = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.components.kv.signal, ...(signal !== undefined ? [signal] : [])])
    let acked = 0
    let next = 0
    let inFlight = 0
    await new Promise<void>(resolve => {
      if (peers.length === 0 || want <= 0) { resolve(); return }
      const finish = (): void => { clearTimeout(hedge); resolve() }
      const check = (): void => { if (acked >= want || (inFlight === 0 && next === peers.length) || deadline.aborted) finish() }
      const push = (): void => {
        const peer = peers[next++]
        if (peer === undefined) return
        inFlight++
        this.send(peer, { v: 1, type: 'store', event }, deadline)
          .then(reply => { if (reply.type === 'stored' && reply.ok) acked++; else push() }, () => { if (!deadline.aborted) push() })
          .finally(() => { inFlight--; check() })
      }
      const hedge = setTimeout(() => { while (acked < want && next < peers.length) push() }, timeoutMs / ACK_HEDGE_DIVISOR)
      deadline.addEventListener('abort', finish, { once: true })
      for (let i = 0; i < Math.min(peers.length, want + ACK_PUSH_SPARES); i++) push()
    })
    return Math.min(acked, want)
  }

  /** Live members for a push: connected ones first, each group rotated by one more place every write. */
  private pushOrder (): string[] {
    const live = this.components.kv.livePeers()
    const connected = new Set(this.components.libp2p.getConnections().map(c => c.remotePeer.toString()))
    const turn = this.pushes++
    const rotate = (xs: string[]): string[] => xs.length === 0 ? xs : [...xs.slice(turn % xs.length), ...xs.slice(0, turn % xs.length)]
    return [...rotate(live.filter(p => connected.has(p))), ...rotate(live.filter(p => !connected.has(p)))]
  }

  private async send (peer: string, message: KvSyncRequest, signal?: AbortSignal): Promise<KvSyncResponse> {
    const deadline = signal ?? AbortSignal.any([this.components.kv.signal, AbortSignal.timeout(constants.DEFAULT_NETWORK_TIMEOUT_MS)])
    const raw = await request(this.components.libp2p, peerIdFromString(peer), this.init.protocol, message, { signal: deadline, maxBytes: constants.MAX_FRAME_BYTES, onBytes: this.countBytes })
    return validateKvSyncResponse(raw, this.components.kv.limits)
  }
}

function keyOf (event: ShoalEvent): string {
  try {
    return (JSON.parse(event.data) as { key: string }).key
  } catch {
    return ''
  }
}

function * chunks<T> (items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size)
}

