/**
 * What the put path costs now that it keeps issue 9's promises, and what each correctness fix adds to it. One
 * in-process ShoalNode (memory transport, no peers) whose store is wrapped to count every LevelDB batch, op,
 * fsync and get; raw classic-level fsync'd puts on the same disk in the same run as the baseline; and each
 * fix's own piece of work timed alone (HLC observe, the record digest, the seq reservation's file write, the
 * clock-skew guard). Prints one Markdown section.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'
import { ClockOffsets, HybridClock, recordDigest } from '@shoal/core'
import { SEQ_RESERVATION_BLOCK, SeqReservation } from '@shoal/node'
import type { ShoalNode, ShoalNodeInit } from '@shoal/node'
import { SMOKE, log } from './common.js'
import { MemoryNodes, drive, kvValue } from './kv-common.js'
import { median, percentile, rate, ratioRange, table } from './stats.js'

const N = SMOKE ? 300 : 5000
const WRITERS = [1, 4, 64]
/** Shoal and raw rounds per writer count, alternating. */
const ROUNDS = SMOKE ? 2 : 5

type Store = Parameters<NonNullable<ShoalNodeInit['wrapStore']>>[0]

/** Store calls counted since the last reset: batches, ops by bucket, fsync'd batches, gets. */
class Counting {
  batches = 0
  synced = 0
  ops = 0
  gets = 0
  readonly byBucket = new Map<string, number>()

  reset (): void {
    this.batches = this.synced = this.ops = this.gets = 0
    this.byBucket.clear()
  }

  wrap (store: Store): Store {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counts = this
    return {
      get path () { return store.path },
      get created () { return store.created },
      bucket<V>(name: Parameters<Store['bucket']>[0]) {
        const handle = store.bucket<V>(name)
        return {
          get: async (key: string) => { counts.gets++; return await handle.get(key) },
          getMany: async (keys: string[]) => { counts.gets++; return await handle.getMany(keys) },
          put: handle.put.bind(handle),
          del: handle.del.bind(handle),
          entries: handle.entries.bind(handle),
          keys: handle.keys.bind(handle)
        }
      },
      async batch (ops, opts) {
        counts.batches++
        if (opts?.sync === true) counts.synced++
        counts.ops += ops.length
        for (const op of ops) counts.byBucket.set(op.bucket, (counts.byBucket.get(op.bucket) ?? 0) + 1)
        await store.batch(ops, opts)
      },
      snapshot: () => store.snapshot(),
      close: async () => { await store.close() }
    }
  }
}

/** Nanoseconds per call of `fn`, over `n` calls after `n / 10` not counted. */
function nsPer (n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < n / 10; i++) fn(i)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn(i)
  return (performance.now() - t0) * 1e6 / n
}

const counts = new Counting()
const dir = await mkdtemp(join(tmpdir(), 'shoal-put-cost-'))
const nodes = await MemoryNodes.create()
const shoal = new Map<number, number>()
const perPut = new Map<number, { batches: number, synced: number, ops: number, gets: number, byBucket: Map<string, number> }>()
const raw = new Map<number, number>()
/** Per writer count, Shoal's rate / raw level's rate in each round (both measured back to back). */
const ratios = new Map<number, number[]>()
let fsyncMs: number[] = []
let node: ShoalNode
try {
  node = await nodes.start(1, undefined, store => counts.wrap(store))
  for (let i = 0; i < 50; i++) await node.kv.put(`warm/${i}`, kvValue(i))
  const db = new Level<string, unknown>(join(dir, 'level'), { valueEncoding: 'json' })
  await db.open()
  try {
    for (let i = 0; i < 50; i++) await db.put(`warm/${i}`, kvValue(i), { sync: true })
    // Rounds alternate between Shoal and raw level, so that both see the same disk: this disk's fsync time drifts
    // by 2x within minutes (measured), which skews a ratio of two phases run one after the other.
    const per = Math.ceil(N / ROUNDS)
    for (const w of WRITERS) {
      counts.reset()
      const shoalRates: number[] = []
      const rawRates: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        shoalRates.push(await drive(per, w, async i => await node.kv.put(`put/${w}/${r}/${i}`, kvValue(i))))
        rawRates.push(await drive(per, w, async i => { await db.put(`put/${w}/${r}/${i}`, kvValue(i), { sync: true }) }))
      }
      const puts = per * ROUNDS
      shoal.set(w, median(shoalRates))
      raw.set(w, median(rawRates))
      ratios.set(w, shoalRates.map((s, r) => s / rawRates[r]!))
      perPut.set(w, { batches: counts.batches / puts, synced: counts.synced / puts, ops: counts.ops / puts, gets: counts.gets / puts, byBucket: new Map([...counts.byBucket].map(([b, n]) => [b, n / puts])) })
      log(`kv-put-cost: ${w} writers: shoal ${shoalRates.map(Math.round).join(' ')} puts/s, level ${rawRates.map(Math.round).join(' ')}; ${JSON.stringify({ ...perPut.get(w), byBucket: Object.fromEntries(perPut.get(w)!.byBucket) })}`)
    }
    const sample: number[] = []
    for (let i = 0; i < (SMOKE ? 50 : 500); i++) {
      const t0 = performance.now()
      await db.put(`lat/${i}`, kvValue(i), { sync: true })
      sample.push(performance.now() - t0)
    }
    fsyncMs = sample
  } finally {
    await db.close()
  }
} finally {
  await nodes.destroy()
}

// Each fix's own piece of work, alone.
const hlc = new HybridClock({ node: 'a1b2c3d4', maxDriftMs: 5000 })
const LOOP = SMOKE ? 10_000 : 1_000_000
const observeNs = nsPer(LOOP, i => hlc.observe({ wall: 1_700_000_000_000 + i, logical: i % 7 }))
const nowNs = nsPer(LOOP, i => hlc.now(1_700_000_000_000 + i))
const sig = 'A'.repeat(86)
const digestNs = nsPer(LOOP / 5, i => recordDigest(`user/key/${i}`, { wall: 1_700_000_000_000 + i, logical: 0, node: 'a1b2c3d4' }, sig))
const offsets = new ClockOffsets({ maxAgeMs: 60_000, maxRttMs: 1000 })
for (let p = 0; p < 7; p++) offsets.add(`peer${p}`, { sentMono: 100, receivedMono: 102, remoteWall: 1_700_000_000_000 + p * 10 - 30 })
const guardNs = nsPer(LOOP / 5, () => offsets.swarmOffset(1_700_000_000_000, 1000))
const reservation = await SeqReservation.open(dir)
const covers: number[] = []
for (let i = 1; i <= (SMOKE ? 5 : 20); i++) {
  const t0 = performance.now()
  await reservation.cover(i * (SEQ_RESERVATION_BLOCK + 1))
  covers.push(performance.now() - t0)
}
await rm(dir, { recursive: true, force: true })

const coverMs = percentile(covers, 50)
const p50fsync = percentile(fsyncMs, 50)
const f = (v: number, digits = 2): string => v.toLocaleString('en-US', { maximumFractionDigits: digits })
const per4 = perPut.get(4)!
const bucket = (w: number, b: string): string => f(perPut.get(w)!.byBucket.get(b) ?? 0)

process.stdout.write(`## KV put path: what issue 9's correctness fixes cost${SMOKE ? ' (smoke)' : ''}

Method: one ShoalNode in the bench process (memory transport, no peers, a temp data dir) whose store is wrapped
to count what reaches LevelDB; N = ${N.toLocaleString('en-US')} puts of about 256 B of JSON on fresh keys from 1, 4 and
64 concurrent writers, beside raw classic-level puts with \`sync: true\` on the same disk, same run, same values
(the fair baseline: an acknowledged Shoal put is fsync'd). The two alternate in ${ROUNDS} rounds of ${Math.ceil(N / ROUNDS).toLocaleString('en-US')} puts each
(Shoal, then level, back to back), because this disk's fsync time drifts by 2x within minutes; a rate is the median
of its rounds, and "Shoal / level" is the median of the rounds' ratios, with the lowest and highest in brackets.
Each fix's own work is then timed alone in a loop
(after a tenth of the loop as warm-up). Before issue 9 (issue 11's profile of the old path, 2026-11-25): per
put 2 Ed25519 signs, 3 LevelDB batches with 22 ops, 2 gets, and 0.19x (1 writer) / 0.20x (4 writers) of raw.

${table(['writers', 'Shoal put', 'classic-level fsync\'d put', 'Shoal / level', 'batches per put', 'fsyncs per put', 'ops per put', 'gets per put'],
  WRITERS.map(w => {
    const c = perPut.get(w)!
    const q = ratios.get(w)!
    return [String(w), rate(shoal.get(w)!, 'puts/s'), rate(raw.get(w)!, 'puts/s'), ratioRange(q), f(c.batches), f(c.synced), f(c.ops), f(c.gets)]
  }))}

Ops per put by bucket, 4 writers: ${[...per4.byBucket].sort((a, b) => b[1] - a[1]).map(([b, n]) => `${b} ${f(n)}`).join(', ')}.

${table(['fix (issue 9 kind)', 'what it adds to a put', 'measured here'], [
  ['one write path (group commit, shared with issue 11)', 'sign once, one fsync\'d batch per group for the event and its KV records, gossip after', `${f(perPut.get(1)!.batches)} batch per put alone, ${f(perPut.get(64)!.batches, 3)} with 64 writers`],
  ['1 causal', 'HLC observe of every stored version; the greatest version, inside the one kv-state meta key of each batch', `observe ${f(observeNs, 0)} ns (now() ${f(nowNs, 0)} ns); meta ops per put: ${bucket(4, 'meta')} (4 writers)`],
  ['2 future-dated records', 'nothing on an own put (receivers compare the HLC wall time with the drift bound)', '0'],
  ['3 crash-safe seqs', `one fsync'd file write (write, fsync, rename, fsync dir) per ${SEQ_RESERVATION_BLOCK.toLocaleString('en-US')} own events`, `${f(coverMs)} ms each, ${f(coverMs * 1000 / SEQ_RESERVATION_BLOCK, 3)} µs per put`],
  ['4 no resurrection', 'nothing on an own put (receivers check the tombstone horizon)', '0'],
  ['5 repair trust', 'repair replies only', '0'],
  ['6 closed topics', 'one prefix check on events.publish', 'not measurable'],
  ['7 Merkle digest', 'sha256 of key, version and signature per record, kept in the leaf index (the tree is rebuilt in memory at most every 250 ms)', `${f(digestNs / 1000)} µs per record; leaf-index ops per put: ${bucket(4, 'kv-leaf')}`],
  ['8 fencing, 10 job retention', 'jobs only', '0'],
  ['9 failed write has no effect', 'gossip waits for the fsync', `no CPU; adds the fsync to write-to-visible latency: p50 ${f(p50fsync)} ms, p99 ${f(percentile(fsyncMs, 99))} ms (raw sequential fsync'd put)`],
  ['11 AE key limit', 'anti-entropy only', '0'],
  ['clock-skew guard (kinds 1, 2)', 'the swarm offset from the peers\' /time samples, once per group', `${f(guardNs, 0)} ns with 7 peers`],
  ['quorum over known members (invariant 7)', 'counts the view\'s members on puts with acks quorum or all', 'O(members) per put; not on this table\'s acks 1 puts']
])}
`)
