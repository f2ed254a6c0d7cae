/** Send and delivery times, taken in the bench process with one clock for Shoal and the baseline alike. */
import { performance } from 'node:perf_hooks'
import { percentile } from './stats.js'

/** Latency of the ids from..to to all nodes and to one node (ms), and the shares delivered (0..1). */
export interface Latency { allP50: number, allP99: number, nodeP50: number, nodeP99: number, delivered: number, deliveredToAll: number }

export class Recorder {
  readonly sent = new Map<number, number>()
  private readonly recv = new Map<number, Float64Array>()
  /** Per id, when the last of the n nodes got it. */
  private readonly all = new Map<number, number>()
  private readonly remaining = new Map<number, number>()

  constructor (readonly n: number) {}

  markSent (id: number): void {
    this.sent.set(id, performance.now())
  }

  markReceived (node: number, id: number): void {
    const now = performance.now()
    let row = this.recv.get(id)
    if (row === undefined) {
      row = new Float64Array(this.n).fill(Number.NaN)
      this.recv.set(id, row)
      this.remaining.set(id, this.n)
    }
    if (node < 0 || node >= this.n || !Number.isNaN(row[node]!)) return
    row[node] = now
    const left = this.remaining.get(id)! - 1
    this.remaining.set(id, left)
    if (left === 0) this.all.set(id, now)
  }

  /** Whether every node has every id in [from, to]. */
  complete (from: number, to: number): boolean {
    for (let id = from; id <= to; id++) if (!this.all.has(id)) return false
    return true
  }

  countAll (from: number, to: number): number {
    let c = 0
    for (let id = from; id <= to; id++) if (this.all.has(id)) c++
    return c
  }

  lastAll (from: number, to: number): number {
    let last = Number.NaN
    for (let id = from; id <= to; id++) {
      const t = this.all.get(id)
      if (t !== undefined && !(t <= last)) last = t
    }
    return last
  }

  /**
   * Latency of ids [from, to]: to all nodes (max over nodes, events every node got), to one node (every
   * (event, node) pair except the publisher, node 0), and the share of (event, node) pairs delivered.
   */
  latency (from: number, to: number): Latency {
    const toAll: number[] = []
    const toOne: number[] = []
    let pairs = 0
    for (let id = from; id <= to; id++) {
      const t0 = this.sent.get(id)
      const row = this.recv.get(id)
      if (t0 === undefined || row === undefined) continue
      for (let i = 0; i < this.n; i++) {
        if (Number.isNaN(row[i]!)) continue
        pairs++
        if (i > 0) toOne.push(row[i]! - t0)
      }
      const done = this.all.get(id)
      if (done !== undefined) toAll.push(done - t0)
    }
    const count = to - from + 1
    return {
      allP50: percentile(toAll, 50),
      allP99: percentile(toAll, 99),
      nodeP50: percentile(toOne, 50),
      nodeP99: percentile(toOne, 99),
      delivered: pairs / (count * this.n),
      deliveredToAll: toAll.length / count
    }
  }
}
