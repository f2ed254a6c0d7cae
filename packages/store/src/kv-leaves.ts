/**
 * The leaf index: `<leaf id>/<key>` -> version, so anti-entropy can list one Merkle leaf's keys with a range
 * read instead of a scan of the whole store. Leaf ids are 4 hex digits, and '/' sorts before every hex digit,
 * so one leaf's entries form one contiguous range.
 */
import { leafOf } from '@shoal/core'
import type { BucketHandle } from './store.js'
import type { KvVersion } from './kv-records.js'

export function leafKey (key: string): string {
  return `${leafOf(key)}/${key}`
}

export async function readLeafEntries (
  index: BucketHandle<KvVersion>, leaves: string[], opts: { after?: string | undefined, limit: number }
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
      entries.push({ key: k.slice(start.length), version })
    }
  }
  return { entries, more: false }
}
