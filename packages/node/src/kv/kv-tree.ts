/**
 * The replica's Merkle tree (core's MerkleTree, docs/protocols/kv.md "Merkle tree"), kept current lazily: a
 * committed write marks its leaf dirty, and `fresh()` recomputes the dirty leaves and their paths. A leaf's hash
 * needs all of its records' digests; an LRU cache of leaves (key -> digest) answers that from memory for the
 * leaves in use, and a miss reads the leaf with one range read of the leaf index. A small store is then served
 * from memory entirely, and a large one costs at most one read per cold leaf per refresh.
 */
import { LRUCache } from 'lru-cache'
import { MerkleTree, leafHash, leafOf, recordDigest } from '@shoal/core'
import type { Clock, LeafEntry, Logger, MerkleNode, TimerHandle } from '@shoal/core'
import type { KvRepository, StoredKvRecord } from '@shoal/store'

/** How far root() may lag the writes (ms): dirty leaves are recomputed this long after a change. */
export const TREE_REFRESH_MS = 250
/**
 * Records whose digests the leaf cache holds at most (about 150 B each: key, 64 hex digits, map overhead; so
 * about 30 MB at most). Bounds memory for large stores; a store this size or smaller never reads to hash.
 */
export const TREE_CACHE_MAX_KEYS = 200_000
/** Leaf range reads in flight at once on a cache miss (libuv's pool has 4 threads by default). */
const READS_AT_ONCE = 8

export interface KvTreeComponents {
  repo: KvRepository
  clock: Clock
  logger: Logger
}

export class KvTree {
  private readonly tree = new MerkleTree()
  private readonly cache: LRUCache<string, Map<string, string>>
  /** True while the cache holds every non-empty leaf: a miss is then an empty leaf, with nothing to read. */
  private complete = true
  /** Leaves whose hash is out of date. */
  private readonly dirty = new Set<string>()
  private refreshing?: Promise<void>
  private timer?: TimerHandle
  private running = false

  /** `maxCachedKeys`: records whose digests the leaf cache holds at most (TREE_CACHE_MAX_KEYS; tests lower it). */
  constructor (private readonly components: KvTreeComponents, maxCachedKeys = TREE_CACHE_MAX_KEYS) {
    this.cache = new LRUCache({
      maxSize: maxCachedKeys,
      sizeCalculation: m => Math.max(1, m.size),
      // Once a leaf was evicted, a leaf missing from the cache may hold records on disk.
      dispose: (_v, _k, reason) => { if (reason === 'evict') this.complete = false }
    })
  }

  /** Builds the tree from the leaf index (one scan), filling the cache as far as it goes. */
  async start (): Promise<void> {
    this.running = true
    const hashes = new Map<string, string>()
    for await (const { leaf, entries } of this.components.repo.allLeaves()) {
      hashes.set(leaf, leafHash(entries))
      this.keep(leaf, new Map(entries.map(e => [e.key, e.digest])))
    }
    this.tree.setLeaves(hashes)
  }

  stop (): void {
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
  }

  /** The root as last computed; `fresh()` first for one that covers every committed write. */
  root (): string {
    return this.tree.root()
  }

  children (id: string): MerkleNode[] {
    return this.tree.children(id)
  }

  /**
   * True when the replica surely holds no record (not even a tombstone) of `key`: the cache holds `key`'s leaf
   * and the key is not in it, or the cache holds every non-empty leaf and not this one. False means "maybe":
   * read it. Exact, not probabilistic: the cache follows every committed batch (`changed`), and each cached
   * leaf holds all of its keys. A merge skips the read of such a key (a new key's write then costs no LevelDB
   * round trip before its batch).
   */
  absent (key: string): boolean {
    const leaf = this.cache.peek(leafOf(key))
    return leaf === undefined ? this.complete : !leaf.has(key)
  }

  /** After a batch with these records is on disk (and these keys purged): their leaves are out of date. */
  changed (records: readonly StoredKvRecord[], purged: readonly string[] = []): void {
    for (const r of records) {
      const leaf = leafOf(r.key)
      const digest = recordDigest(r.key, r.version, r.event.sig)
      const cached = this.cache.get(leaf)
      if (cached !== undefined) cached.set(r.key, digest)
      else if (this.complete) this.keep(leaf, new Map([[r.key, digest]]))
      this.dirty.add(leaf)
    }
    for (const key of purged) {
      const leaf = leafOf(key)
      this.cache.get(leaf)?.delete(key)
      this.dirty.add(leaf)
    }
    if (this.dirty.size > 0) this.refreshSoon()
  }

  /** Recomputes the dirty leaves and their paths: root() and children() then cover every write committed before the call. */
  async fresh (): Promise<void> {
    while (this.refreshing !== undefined) await this.refreshing
    if (this.dirty.size === 0) return
    const leaves = [...this.dirty]
    this.dirty.clear()
    this.refreshing = this.recompute(leaves).catch(err => {
      for (const leaf of leaves) this.dirty.add(leaf)
      throw err
    }).finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async recompute (leaves: string[]): Promise<void> {
    const hashes = new Map<string, string>()
    const misses: string[] = []
    for (const leaf of leaves) {
      const cached = this.cache.get(leaf)
      if (cached === undefined) misses.push(leaf)
      else hashes.set(leaf, leafHash([...cached].map(([key, digest]) => ({ key, digest }))))
    }
    for (let i = 0; i < misses.length; i += READS_AT_ONCE) {
      const part = misses.slice(i, i + READS_AT_ONCE)
      const read = await Promise.all(part.map(async leaf => await this.components.repo.leafDigests(leaf)))
      part.forEach((leaf, j) => { this.remember(leaf, read[j]!); hashes.set(leaf, leafHash(read[j]!)) })
    }
    this.tree.setLeaves(hashes)
  }

  private remember (leaf: string, entries: LeafEntry[]): void {
    // A write that landed while this leaf was being read marked it dirty again: the next refresh reads it anew.
    if (!this.dirty.has(leaf)) this.keep(leaf, new Map(entries.map(e => [e.key, e.digest])))
  }

  /** Caches a leaf's whole map; one too large for the cache is not kept, and then the cache no longer holds every leaf. */
  private keep (leaf: string, keys: Map<string, string>): void {
    this.cache.set(leaf, keys)
    if (!this.cache.has(leaf)) this.complete = false
  }

  private refreshSoon (): void {
    if (this.timer !== undefined || !this.running) return
    this.timer = this.components.clock.setTimer(() => {
      this.timer = undefined
      this.fresh().catch(err => { this.components.logger.debug({ err: (err as Error).message }, 'Merkle refresh failed') })
    }, TREE_REFRESH_MS)
  }
}
