/**
 * The leaf index: `<leaf id>/<key>` -> { version, h } (h = the record's Merkle digest), so anti-entropy can list
 * one Merkle leaf's keys, and the tree recompute one leaf's hash, with a range read instead of a scan of the
 * whole store. Leaf ids are 4 hex digits, and '/' sorts before every hex digit, so one leaf's entries form one
 * contiguous range.
 */
import { leafOf } from '@shoal/core'
import type { LeafEntry } from '@shoal/core'
import type { BucketHandle } from './store.js'
import { isDigest } from './kv-records.js'
import type { KvVersion, LeafValue } from './kv-records.js'

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

export async function readLeafEntries (
  index: BucketHandle<LeafValue>, leaves: string[], opts: { after?: string | undefined, limit: number }
): Promise<{ entries: Array<{ key: string, version: KvVersion }>, more: boolean }> {
  const sorted = [...new Set(leaves)].sort()
  const resume = opts.after === undefined ? undefined : leafKey(opts.after)
  const entries: Array<{ key: string, version: KvVersion }> = []
  for (const leaf of sorted) {
    const start = `${leaf}/`
    if (resume !== undefined && resume >= `${leaf}0`) continue
    const range = resume !== undefined && resume.startsWith(start) ? { gt: resume } : { gte: start }
    for await (const [k, version] of index.entries({ ...range, lt: `${leaf}0`, limit: opts.limit - entries.length + 1 })) {
      if (entries.length === opts.limit) return { entries, more: true }
      entries.push({ key: k.slice(start.length), version: { wall: version.wall, logical: version.logical, node: version.node } })
    }
  }
  return { entries, more: false }
}
