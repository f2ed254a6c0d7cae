/**
 * The leaf index: `<leaf id>/<key>` -> { version, h } (h = the record's Merkle digest), so anti-entropy can list
 * one Merkle leaf's keys, and the tree recompute one leaf's hash, with a range read instead of a scan of the
 * whole store. Leaf ids are 4 hex digits, and '/' sorts before every hex digit, so one leaf's entries form one
 * contiguous range.
 */
import { LEAF_DEPTH, leafOf } from '@shoal/core'
import type { LeafEntry } from '@shoal/core'
import type { BucketHandle } from './store.js'
import { isDigest } from './kv-records.js'
import type { KvVersion, LeafValue } from './kv-records.js'

/** Leaves of the Merkle tree: 16^LEAF_DEPTH. */
const LEAF_COUNT = 16 ** LEAF_DEPTH

/** A record's digest for an entry written before digests were kept (read from the record itself). */
export type DigestOf = (key: string) => Promise<string | undefined>

/** One leaf's records as the Merkle tree hashes them. */
export async function readLeafDigests (index: BucketHandle<LeafValue>, leaf: string, digestOf: DigestOf): Promise<LeafEntry[]> {
  const out: LeafEntry[] = []
  const start = `${leaf}/`
  for await (const [k, v] of index.entries({ gte: start, lt: `${leaf}0` })) {
    const key = k.slice(start.length)
    const digest = isDigest(v?.h) ? v.h : await digestOf(key)
    if (digest !== undefined) out.push({ key, digest })
  }
  return out
}

/** Every non-empty leaf with its records, in leaf order (building the tree at start). */
export async function * readAllLeaves (index: BucketHandle<LeafValue>, digestOf: DigestOf): AsyncGenerator<{ leaf: string, entries: LeafEntry[] }> {
  let leaf: string | undefined
  let entries: LeafEntry[] = []
  for await (const [k, v] of index.entries()) {
    const slash = k.indexOf('/')
    const id = k.slice(0, slash)
    const key = k.slice(slash + 1)
    if (id !== leaf) {
      if (leaf !== undefined && entries.length > 0) yield { leaf, entries }
      leaf = id
      entries = []
    }
    const digest = isDigest(v?.h) ? v.h : await digestOf(key)
    if (digest !== undefined) entries.push({ key, digest })
  }
  if (leaf !== undefined && entries.length > 0) yield { leaf, entries }
}

export function leafKey (key: string): string {
  return `${leafOf(key)}/${key}`
}

/**
 * Unasked entries a leaf listing would rather read and drop than open another LevelDB iterator (one iterator
 * costs several round trips to LevelDB's thread pool; an entry in an open one, a fraction of one).
 */
export const LEAF_RUN_SKIP_ENTRIES = 8

/**
 * How many leaf numbers apart two asked leaves may be and still be read with one range read, for a store of
 * `records` records (tombstones included) spread over LEAF_COUNT leaves: the leaves in between hold about
 * LEAF_RUN_SKIP_ENTRIES records. A full catch-up asks for nearly every non-empty leaf, and a batch of 256 leaves
 * is then one or a few reads instead of 256 (docs/benchmarks.md, anti-entropy); a big store with a few
 * differences still reads each leaf alone.
 */
export function leafRunGap (records: number): number {
  return Math.max(1, Math.floor(LEAF_RUN_SKIP_ENTRIES * LEAF_COUNT / Math.max(1, records)))
}

/**
 * The entries (key and version, in leaf then key order) of the given leaves, at most `limit`; `after` (the last
 * key of the previous page) resumes a page cut with `more`. Asked leaves at most `gap` leaf numbers apart share
 * one range read (see leafRunGap).
 */
export async function readLeafEntries (
  index: BucketHandle<LeafValue>, leaves: string[], opts: { after?: string | undefined, limit: number, gap: number }
): Promise<{ entries: Array<{ key: string, version: KvVersion }>, more: boolean }> {
  const sorted = [...new Set(leaves)].sort()
  const asked = new Set(sorted)
  const resume = opts.after === undefined ? undefined : leafKey(opts.after)
  const entries: Array<{ key: string, version: KvVersion }> = []
  for (const run of leafRuns(sorted, opts.gap)) {
    const start = `${run[0]!}/`
    const end = `${run[run.length - 1]!}0`
    if (resume !== undefined && resume >= end) continue
    const range = resume !== undefined && resume >= start ? { gt: resume } : { gte: start }
    for await (const [k, version] of index.entries({ ...range, lt: end })) {
      const slash = k.indexOf('/')
      if (!asked.has(k.slice(0, slash))) continue
      if (entries.length === opts.limit) return { entries, more: true }
      entries.push({ key: k.slice(slash + 1), version: { wall: version.wall, logical: version.logical, node: version.node } })
    }
  }
  return { entries, more: false }
}

/** Sorted leaf ids cut into runs whose neighbours are at most `gap` leaf numbers apart. */
export function leafRuns (sorted: string[], gap: number): string[][] {
  const runs: string[][] = []
  let previous = -Infinity
  for (const leaf of sorted) {
    const n = parseInt(leaf, 16)
    if (n - previous > gap || runs.length === 0) runs.push([leaf])
    else runs[runs.length - 1]!.push(leaf)
    previous = n
  }
  return runs
}
