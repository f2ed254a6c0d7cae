/**
 * The hash-range Merkle tree of the KV store (docs/protocols/kv.md). A key's leaf is the first 4 hex digits of
 * sha256(key); node ids are hex prefixes ('' = root, 'a3f0' = a leaf); a node's hash is the XOR of the record
 * hashes under it. XOR makes an update O(depth) with no reads: the old record hash goes out and the new one in,
 * along the leaf-to-root path. The tree lives in memory; apply() returns the changed nodes so the store writes
 * them in the same batch as the record.
 *
 * Hashing uses node:crypto's createHash. Core is pure (no I/O, clock or randomness); sha256 is a deterministic
 * function of its input, so using the platform's implementation keeps that property.
 */
import { createHash } from 'node:crypto'
import { fail } from '../validate.js'
import { versionString } from './record.js'
import type { KvVersion } from './record.js'

/** Hex digits in a leaf id: 16^4 = 65 536 leaves. */
export const LEAF_DEPTH = 4
export const HASH_BYTES = 32
/** Hash of an empty subtree. */
export const ZERO_HASH = '0'.repeat(2 * HASH_BYTES)
const HEX = '0123456789abcdef'
const NODE_ID_PATTERN = /^[0-9a-f]{0,4}$/
const HASH_PATTERN = /^[0-9a-f]{64}$/

export interface MerkleNode {
  id: string
  /** Hex; ZERO_HASH when nothing is under the node. */
  hash: string
}

/** The leaf id of a key: the first LEAF_DEPTH hex digits of sha256(utf8(key)). */
export function leafOf (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, LEAF_DEPTH)
}

/** sha256(utf8(key) || 0x00 || utf8(versionString(version))), 32 bytes. */
export function recordHash (key: string, version: KvVersion): Uint8Array {
  const h = createHash('sha256')
  h.update(key, 'utf8')
  h.update(SEPARATOR)
  h.update(versionString(version), 'utf8')
  return new Uint8Array(h.digest())
}
const SEPARATOR = Uint8Array.of(0)

/** target ^= h, byte by byte (both HASH_BYTES long). */
export function xorInto (target: Uint8Array, h: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! ^ h[i]!
}

/** True for a valid node id: 0..LEAF_DEPTH lowercase hex digits. */
export function isNodeId (id: unknown): id is string {
  return typeof id === 'string' && NODE_ID_PATTERN.test(id)
}

/** The ids from the root down to `leaf`: '', 'a', 'a3', 'a3f', 'a3f0'. */
export function pathOf (leaf: string): string[] {
  const ids: string[] = []
  for (let i = 0; i <= LEAF_DEPTH; i++) ids.push(leaf.slice(0, i))
  return ids
}

export class MerkleTree {
  /** Only non-zero nodes; a missing id hashes to ZERO_HASH. */
  private readonly nodes = new Map<string, Uint8Array>()
  private records = 0

  /** Number of records (tombstones included) in the tree. */
  get count (): number {
    return this.records
  }

  /**
   * Replaces the record of `key` at `oldVersion` (undefined: a new key, count + 1) by the one at `newVersion`.
   * Returns the LEAF_DEPTH + 1 nodes of the path, root first, with their new hashes; ZERO_HASH means the store
   * may delete the node.
   */
  apply (key: string, oldVersion: KvVersion | undefined, newVersion: KvVersion): Array<[string, string]> {
    const delta = recordHash(key, newVersion)
    if (oldVersion !== undefined) xorInto(delta, recordHash(key, oldVersion))
    else this.records++
    return this.xorPath(leafOf(key), delta)
  }

  /** Takes the record of `key` at `version` out (tombstone garbage collection): count - 1. Same return as apply. */
  remove (key: string, version: KvVersion): Array<[string, string]> {
    if (this.records === 0) fail('tree.count', 0, 'a record to remove')
    this.records--
    return this.xorPath(leafOf(key), recordHash(key, version))
  }

  /** Hex hash of a node; ZERO_HASH when empty. */
  hash (nodeId: string): string {
    const h = this.nodes.get(nodeId)
    return h === undefined ? ZERO_HASH : toHex(h)
  }

  root (): string {
    return this.hash('')
  }

  /** The 16 children of an internal node (id of 0..LEAF_DEPTH-1 hex digits), in hex order. */
  children (nodeId: string): MerkleNode[] {
    if (!isNodeId(nodeId) || nodeId.length >= LEAF_DEPTH) fail('nodeId', nodeId, `an internal node id (0-${LEAF_DEPTH - 1} hex digits)`)
    const out: MerkleNode[] = []
    for (const d of HEX) out.push({ id: nodeId + d, hash: this.hash(nodeId + d) })
    return out
  }

  /** Every non-zero node, sorted by id: what a store holds, and what fromNodes restores. */
  entries (): Array<[string, string]> {
    return [...this.nodes.keys()].sort().map(id => [id, this.hash(id)])
  }

  /** Restores a tree persisted node by node. Zero hashes are skipped; ids and hashes are checked. */
  static fromNodes (entries: Iterable<[string, string]>, count: number): MerkleTree {
    if (!Number.isSafeInteger(count) || count < 0) fail('count', count, 'a non-negative integer')
    const tree = new MerkleTree()
    tree.records = count
    for (const [id, hex] of entries) {
      if (!isNodeId(id)) fail('nodes.id', id, `a node id (0-${LEAF_DEPTH} hex digits)`)
      if (typeof hex !== 'string' || !HASH_PATTERN.test(hex)) fail(`nodes.${id}`, hex, '64 lowercase hex digits')
      if (hex !== ZERO_HASH) tree.nodes.set(id, fromHex(hex))
    }
    return tree
  }

  private xorPath (leaf: string, delta: Uint8Array): Array<[string, string]> {
    const changed: Array<[string, string]> = []
    for (const id of pathOf(leaf)) {
      let h = this.nodes.get(id)
      if (h === undefined) {
        h = new Uint8Array(HASH_BYTES)
        this.nodes.set(id, h)
      }
      xorInto(h, delta)
      if (isZero(h)) {
        this.nodes.delete(id)
        changed.push([id, ZERO_HASH])
      } else {
        changed.push([id, toHex(h)])
      }
    }
    return changed
  }
}

/** Ids whose hashes differ between two child lists (a missing id counts as ZERO_HASH), sorted. */
export function diffChildren (local: readonly MerkleNode[], remote: readonly MerkleNode[]): string[] {
  const theirs = new Map<string, string>()
  for (const n of remote) theirs.set(n.id, n.hash)
  const out = new Set<string>()
  for (const n of local) {
    if ((theirs.get(n.id) ?? ZERO_HASH) !== n.hash) out.add(n.id)
    theirs.delete(n.id)
  }
  for (const [id, hash] of theirs) if (hash !== ZERO_HASH) out.add(id)
  return [...out].sort()
}

function isZero (h: Uint8Array): boolean {
  for (const b of h) if (b !== 0) return false
  return true
}

function toHex (h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex')
}

function fromHex (hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
