/**
 * Event dissemination and repair, modelled on docs/protocols/events.md: an event is pushed over gossip; a node
 * that receives seq > contiguous + 1 from an origin pulls the gap from the peer that forwarded it; every
 * EVENT_DIGEST_INTERVAL_MS a node swaps heads digests ({origin: contiguous}) with a random neighbour and pulls
 * wherever the neighbour is ahead. Core exposes this protocol only as codecs (events/repair-codec.ts), not as a
 * pure machine, so this file re-implements its rules; it is a model of the protocol, not its code.
 * Event logs survive a crash (they are on disk), as in the daemon.
 */
import { constants } from '@shoal/core'
import type { Network } from './network.js'
import type { SimNode } from './node.js'
import type { World } from './world.js'
import { DIGEST_ENTRY_BYTES, EVENT_BYTES, TRANSPORT_OVERHEAD_BYTES } from './sizes.js'

interface Log {
  contiguous: Map<number, number>
  ahead: Map<number, Set<number>>
}

export interface EventRecord { origin: number, seq: number, publishedAt: number, deliveredAt: Float64Array }

export class EventModel {
  private readonly logs: Log[]
  private readonly published = new Map<string, EventRecord>()
  private readonly nextSeq: Int32Array

  constructor (private readonly world: World, private readonly net: Network, private readonly nodes: SimNode[]) {
    this.logs = nodes.map(() => ({ contiguous: new Map(), ahead: new Map() }))
    this.nextSeq = new Int32Array(nodes.length)
  }

  /** Starts a node's digest timer (call at each start of the node). */
  startDigests (node: number): void {
    const life = this.net.life[node]
    const round = (): void => {
      if (this.net.up[node] !== 1 || this.net.life[node] !== life) return
      const peers = [...this.nodes[node]!.conns.keys()]
      if (peers.length > 0) this.digest(node, peers[Math.floor(this.world.rng() * peers.length)]!)
      this.world.after(constants.EVENT_DIGEST_INTERVAL_MS, round)
    }
    this.world.after(constants.EVENT_DIGEST_INTERVAL_MS * this.world.rng(), round)
  }

  publish (origin: number): EventRecord {
    const seq = ++this.nextSeq[origin]!
    const rec: EventRecord = { origin, seq, publishedAt: this.world.now, deliveredAt: new Float64Array(this.nodes.length).fill(NaN) }
    this.published.set(`${origin}:${seq}`, rec)
    this.store(origin, origin, seq)
    this.nodes[origin]!.publish({ kind: 'event', origin, seq })
    return rec
  }

  records (): EventRecord[] {
    return [...this.published.values()]
  }

  /** Gossip hook: an event arrived at `node`, forwarded by `via`. */
  received (node: number, via: number, origin: number, seq: number): void {
    const c = this.logs[node]!.contiguous.get(origin) ?? 0
    const had = this.has(node, origin, seq)
    this.store(node, origin, seq)
    if (!had && seq > c + 1) this.pull(node, via, origin, c + 1, seq - 1)
  }

  private has (node: number, origin: number, seq: number): boolean {
    const log = this.logs[node]!
    return seq <= (log.contiguous.get(origin) ?? 0) || (log.ahead.get(origin)?.has(seq) ?? false)
  }

  private store (node: number, origin: number, seq: number): void {
    if (this.has(node, origin, seq)) return
    const log = this.logs[node]!
    const rec = this.published.get(`${origin}:${seq}`)
    if (rec !== undefined && Number.isNaN(rec.deliveredAt[node]!)) rec.deliveredAt[node] = this.world.now
    let c = log.contiguous.get(origin) ?? 0
    if (seq === c + 1) {
      c = seq
      const ahead = log.ahead.get(origin)
      while (ahead?.delete(c + 1) === true) c++
      log.contiguous.set(origin, c)
    } else {
      let ahead = log.ahead.get(origin)
      if (ahead === undefined) log.ahead.set(origin, ahead = new Set())
      ahead.add(seq)
    }
  }

  /** Asks `peer` for origin's events from..to; it answers with those it holds. */
  private pull (node: number, peer: number, origin: number, from: number, to: number): void {
    this.net.send(node, peer, 'repair', TRANSPORT_OVERHEAD_BYTES + 120, () => {
      const have: number[] = []
      for (let s = from; s <= to && have.length < constants.EVENT_PULL_BATCH; s++) if (this.has(peer, origin, s)) have.push(s)
      this.net.send(peer, node, 'repair', TRANSPORT_OVERHEAD_BYTES + 40 + have.length * EVENT_BYTES, () => {
        for (const s of have) this.store(node, origin, s)
      })
    })
  }

  /** Heads digest both ways; each side pulls where the other is ahead. */
  private digest (node: number, peer: number): void {
    const mine = this.logs[node]!.contiguous
    this.net.send(node, peer, 'repair', TRANSPORT_OVERHEAD_BYTES + 30 + mine.size * DIGEST_ENTRY_BYTES, () => {
      const theirs = this.logs[peer]!.contiguous
      for (const [origin, c] of mine) {
        const t = theirs.get(origin) ?? 0
        if (c > t) this.pull(peer, node, origin, t + 1, c)
      }
      this.net.send(peer, node, 'repair', TRANSPORT_OVERHEAD_BYTES + 30 + theirs.size * DIGEST_ENTRY_BYTES, () => {
        for (const [origin, t] of theirs) {
          const c = this.logs[node]!.contiguous.get(origin) ?? 0
          if (t > c) this.pull(node, peer, origin, c + 1, t)
        }
      })
    })
  }
}
