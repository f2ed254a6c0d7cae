/**
 * The hash-range Merkle tree of the KV store (docs/protocols/kv.md, "Digest"). A key's leaf is the first 4 hex
 * digits of sha256(key); node ids are hex prefixes ('' = root, 'a3f0' = a leaf).
 *
 * - A record's digest covers the whole record: sha256(key || 0 || version || 0 || sig), where `sig` is the
 *   origin's signature over the event, which covers the type (put or delete), the key and the value.
 * - A leaf's hash is sha256 over its records, sorted by key: (key || 0 || digest || 0) each.
 * - An internal node's hash is sha256 of its 16 children's hashes, in hex order; a node with nothing under it is
 *   ZERO_HASH.
 *
 * A real Merkle tree, not a sum: replicas with different records cannot report equal roots unless sha256
 * collides. (The previous XOR of leaf hashes was linear: about 300 chosen keys with two versions each gave two
 * different states one root, and it left out values and the tombstone flag.) Updates are lazy: the store keeps
 * each record's digest in its leaf index, a write marks its leaf dirty, and the owner recomputes dirty leaves
 * (one range read each) before it answers with a hash.
 *
 * Hashing uses node:crypto's one-shot hash() over each input laid out whole (a string, or the 16 children in one
 * buffer): the same bytes as a hash object fed piece by piece, at about half the cost. Core is pure (no I/O,
 * clock or randomness); sha256 is a deterministic function of its input, so using the platform's implementation
 * keeps that property.
 */
import { hash } from 'node:crypto'
import { fail } from '../schema/index.js'
import { versionString } from './record.js'
import type { KvVersion } from './record.js'

/** Hex digits in a leaf id: 16^4 = 65 536 leaves. */
export const LEAF_DEPTH = 4
export const HASH_BYTES = 32
/** Hash of an empty subtree. */
export const ZERO_HASH = '0'.repeat(2 * HASH_BYTES)
const HEX = '0123456789abcdef'
const NODE_ID_PATTERN = /^[0-9a-f]{0,4}$/

export interface MerkleNode {
  id: string
  /** Hex; ZERO_HASH when nothing is under the node. */
  hash: string
}

/** One record of a leaf, as the leaf hash reads it. */
export interface LeafEntry { key: string, digest: string }

/** The leaf id of a key: the first LEAF_DEPTH hex digits of sha256(utf8(key)). */
export function leafOf (key: string): string {
  return hash('sha256', key, 'hex').slice(0, LEAF_DEPTH)
}

/** sha256(utf8(key) || 0x00 || utf8(versionString(version)) || 0x00 || utf8(sig)), as 64 hex digits. */
export function recordDigest (key: string, version: KvVersion, sig: string): string {
  return hash('sha256', `${key}\0${versionString(version)}\0${sig}`, 'hex')
}

/** The hash of one leaf's records (any order in; sorted by key here); ZERO_HASH for none. */
export function leafHash (entries: readonly LeafEntry[]): string {
  if (entries.length === 0) return ZERO_HASH
  let text = ''
  for (const e of [...entries].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) text += `${e.key}\0${e.digest}\0`
  return hash('sha256', text, 'hex')
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
  /** Only non-empty nodes; a missing id hashes to ZERO_HASH. */
  private readonly nodes = new Map<string, Uint8Array>()
  /**
   * The input of each internal node's hash, kept laid out: its 16 children's hashes in hex order (zeros for an
   * empty child), and how many are non-empty. Only nodes with a non-empty child are kept.
   */
  private readonly kids = new Map<string, { bytes: Buffer, count: number }>()

  /**
   * Sets a leaf's hash (leafHash of its records) and recomputes its ancestors: LEAF_DEPTH hashes of 16 children.
   * Throws InvalidInputError for a malformed leaf id or hash.
   */
  setLeaf (leaf: string, hash: string): void {
    this.setLeaves(new Map([[leaf, hash]]))
  }

  /** Sets many leaves, then recomputes each affected ancestor once, bottom up. Same checks as setLeaf. */
  setLeaves (hashes: ReadonlyMap<string, string>): void {
    for (const [leaf, hash] of hashes) {
      if (!isNodeId(leaf) || leaf.length !== LEAF_DEPTH) fail('leaf', leaf, `a leaf id (${LEAF_DEPTH} hex digits)`)
      if (!/^[0-9a-f]{64}$/.test(hash)) fail('hash', hash, '64 lowercase hex digits')
    }
    let level = new Set<string>()
    for (const [leaf, hash] of hashes) {
      this.place(leaf, hash === ZERO_HASH ? undefined : Buffer.from(hash, 'hex'))
      level.add(leaf.slice(0, LEAF_DEPTH - 1))
    }
    for (let depth = LEAF_DEPTH - 1; depth >= 0; depth--) {
      const parents = new Set<string>()
      for (const id of level) {
        const kids = this.kids.get(id)
        this.place(id, kids === undefined ? undefined : hash('sha256', kids.bytes, 'buffer'))
        if (depth > 0) parents.add(id.slice(0, depth - 1))
      }
      level = parents
    }
  }

  /** Sets node `id`'s hash (undefined: empty) and its slot among its parent's children. */
  private place (id: string, h: Uint8Array | undefined): void {
    const had = this.nodes.has(id)
    if (h === undefined) this.nodes.delete(id)
    else this.nodes.set(id, h)
    if (id === '') return
    const parent = id.slice(0, -1)
    const at = Number.parseInt(id[id.length - 1]!, 16) * HASH_BYTES
    let kids = this.kids.get(parent)
    if (kids === undefined) {
      if (h === undefined) return
      kids = { bytes: Buffer.alloc(16 * HASH_BYTES), count: 0 }
      this.kids.set(parent, kids)
    }
    if (h === undefined) {
      kids.bytes.fill(0, at, at + HASH_BYTES)
      if (had) kids.count--
    } else {
      kids.bytes.set(h, at)
      if (!had) kids.count++
    }
    if (kids.count === 0) this.kids.delete(parent)
  }

  /** Hex hash of a node; ZERO_HASH when empty. */
  hash (nodeId: string): string {
    const h = this.nodes.get(nodeId)
    return h === undefined ? ZERO_HASH : Buffer.from(h).toString('hex')
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
