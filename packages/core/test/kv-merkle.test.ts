/**
 * The KV hash-range Merkle tree: leaf-by-leaf updates equal a from-scratch build, order does not matter, the
 * root covers value and tombstone (through the signature), a reconcile walk driven only by the tree API brings
 * two replicas to equal roots, and the chosen-input attack on the previous XOR digest (fault kind 7: two
 * different states, one root) does not work on it.
 */
import { createHash } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidInputError } from '../src/errors.js'
import { diffChildren, LEAF_DEPTH, leafHash, leafOf, MerkleTree, pathOf, recordDigest, ZERO_HASH } from '../src/kv/merkle.js'
import { compareVersions, versionString } from '../src/kv/record.js'
import type { KvVersion } from '../src/kv/record.js'
import { seededRng, shuffled } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const int = (rng: Rng, n: number): number => Math.floor(rng() * n)
const NODES = ['peer-a', 'peer-b', 'peer-c']
const randomVersion = (rng: Rng): KvVersion => ({ wall: 1_700_000_000_000 + int(rng, 50), logical: int(rng, 3), node: NODES[int(rng, 3)]! })
const sigOf = (key: string, v: KvVersion, value = ''): string => `sig:${key}:${versionString(v)}:${value}`

/** A replica as the node keeps it: key -> (version, sig) of the winning record, and its tree over the leaves. */
class Replica {
  readonly tree = new MerkleTree()
  readonly records = new Map<string, { version: KvVersion, sig: string }>()

  write (key: string, version: KvVersion, sig = sigOf(key, version)): boolean {
    const old = this.records.get(key)
    if (old !== undefined && compareVersions(version, old.version) <= 0) return false
    this.records.set(key, { version, sig })
    this.refresh(leafOf(key))
    return true
  }

  remove (key: string): void {
    this.records.delete(key)
    this.refresh(leafOf(key))
  }

  /** What the node does for a dirty leaf: read its records, hash them, set the leaf. */
  refresh (leaf: string): void {
    const entries = [...this.records].filter(([k]) => leafOf(k) === leaf).map(([key, r]) => ({ key, digest: recordDigest(key, r.version, r.sig) }))
    this.tree.setLeaf(leaf, leafHash(entries))
  }
}

const t = suite('kv-merkle')

t('leaf ids, paths and input checks', () => {
  assert.is(leafOf('a').length, LEAF_DEPTH)
  assert.is(leafOf('a'), createHash('sha256').update('a').digest('hex').slice(0, 4))
  assert.equal(pathOf('a3f0'), ['', 'a', 'a3', 'a3f', 'a3f0'])
  const tree = new MerkleTree()
  assert.is(tree.root(), ZERO_HASH)
  assert.throws(() => { tree.setLeaf('abc', 'f'.repeat(64)) }, (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => { tree.setLeaf('abcd', 'nothex') }, (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => tree.children('abcd'), (e: unknown) => e instanceof InvalidInputError)
  assert.is(leafHash([]), ZERO_HASH)
  // Order of entries in does not matter.
  const a = { key: 'a', digest: '1'.repeat(64) }
  const b = { key: 'b', digest: '2'.repeat(64) }
  assert.is(leafHash([a, b]), leafHash([b, a]))
})

t('setting a leaf back to empty empties its path: the root of an empty tree again', () => {
  const r = new Replica()
  r.write('k', { wall: 1, logical: 0, node: 'n' })
  assert.is.not(r.tree.root(), ZERO_HASH)
  r.remove('k')
  assert.is(r.tree.root(), ZERO_HASH)
  for (const id of pathOf(leafOf('k'))) assert.is(r.tree.hash(id), ZERO_HASH)
})

t('any order of the same writes gives the same root, and equals a from-scratch build', () => {
  const rng = seededRng(7)
  const writes = Array.from({ length: 2000 }, () => ({ key: `k${int(rng, 400)}`, version: randomVersion(rng) }))
  const a = new Replica()
  const b = new Replica()
  for (const w of writes) a.write(w.key, w.version)
  for (const w of shuffled(writes, seededRng(8))) b.write(w.key, w.version)
  assert.is(a.tree.root(), b.tree.root())
  const scratch = new Replica()
  for (const [key, r] of a.records) scratch.records.set(key, r)
  for (const leaf of new Set([...a.records.keys()].map(leafOf))) scratch.refresh(leaf)
  assert.is(scratch.tree.root(), a.tree.root())
})

/**
 * docs/protocols/kv.md "Digest", written out literally with a hash object fed piece by piece: the bytes every
 * release must agree on (replicas of different versions compare roots), whatever the implementation's layout.
 */
const spec = {
  leafOf: (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex').slice(0, LEAF_DEPTH),
  digest: (key: string, v: KvVersion, sig: string): string =>
    createHash('sha256').update(key, 'utf8').update(Uint8Array.of(0)).update(versionString(v), 'utf8').update(Uint8Array.of(0)).update(sig, 'utf8').digest('hex'),
  leaf: (entries: Array<{ key: string, digest: string }>): string => {
    if (entries.length === 0) return ZERO_HASH
    const h = createHash('sha256')
    for (const e of [...entries].sort((a, b) => a.key < b.key ? -1 : 1)) h.update(e.key, 'utf8').update(Uint8Array.of(0)).update(e.digest, 'utf8').update(Uint8Array.of(0))
    return h.digest('hex')
  },
  /** The hash of node `id`, from scratch: a leaf's records, or its 16 children (zeros for empty ones). */
  node: (id: string, leaves: Map<string, string>): string => {
    if (id.length === LEAF_DEPTH) return leaves.get(id) ?? ZERO_HASH
    const children = [...'0123456789abcdef'].map(d => spec.node(id + d, leaves))
    if (children.every(c => c === ZERO_HASH)) return ZERO_HASH
    const h = createHash('sha256')
    for (const c of children) h.update(Buffer.from(c, 'hex'))
    return h.digest('hex')
  }
}

t('digests, leaf hashes and roots are the bytes the protocol spells out, through writes and removals', () => {
  const rng = seededRng(11)
  const replica = new Replica()
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 300; i++) {
      const key = `k/${int(rng, 500)}/ü${int(rng, 3)}`
      if (rng() < 0.2) replica.remove(key)
      else replica.write(key, randomVersion(rng), `sig-${int(rng, 1e6)}`)
    }
    const byLeaf = new Map<string, Array<{ key: string, digest: string }>>()
    for (const [key, r] of replica.records) {
      assert.is(leafOf(key), spec.leafOf(key))
      const digest = spec.digest(key, r.version, r.sig)
      assert.is(recordDigest(key, r.version, r.sig), digest)
      byLeaf.set(spec.leafOf(key), [...byLeaf.get(spec.leafOf(key)) ?? [], { key, digest }])
    }
    const leaves = new Map([...byLeaf].map(([leaf, entries]) => [leaf, spec.leaf(entries)]))
    for (const [leaf, entries] of byLeaf) assert.is(leafHash(entries), leaves.get(leaf))
    // Only a few subtrees are walked from scratch (the whole tree is 69,905 nodes); the root covers all.
    assert.is(replica.tree.root(), spec.node('', leaves), `root after round ${round}`)
    for (const id of ['a', '3f', 'c0d']) assert.is(replica.tree.children(id).map(c => c.hash).join(), [...'0123456789abcdef'].map(d => spec.node(id + d, leaves)).join(), id)
  }
})

t('the root covers the value and the tombstone flag: same key and version, another signed event, another root', () => {
  const v = { wall: 5, logical: 0, node: 'n' }
  const put = new Replica()
  const del = new Replica()
  put.write('k', v, sigOf('k', v, 'value-1'))
  del.write('k', v, sigOf('k', v, 'tombstone'))
  assert.is.not(put.tree.root(), del.tree.root())
})

t('kind 7: 300 chosen keys with two versions each collide under the old XOR digest but not under this tree', () => {
  // The old digest: a node's hash was the XOR of sha256(key || 0 || version) over the records under it.
  const xorHash = (key: string, v: KvVersion): Buffer => createHash('sha256').update(key).update(Uint8Array.of(0)).update(versionString(v)).digest()
  const v1 = { wall: 1, logical: 0, node: 'attacker' }
  const v2 = { wall: 2, logical: 0, node: 'attacker' }
  const keys = Array.from({ length: 300 }, (_, i) => `chosen/${i}`)
  // Find a non-empty set S of keys with XOR over S of (h(k,v1) ^ h(k,v2)) = 0 (Gaussian elimination over GF(2)).
  const rows = keys.map((k, i) => ({ bits: BigInt('0x' + Buffer.from(xorHash(k, v1).map((b, j) => b ^ xorHash(k, v2)[j]!)).toString('hex')), set: 1n << BigInt(i) }))
  const pivots = new Map<number, { bits: bigint, set: bigint }>()
  let subset: bigint | undefined
  for (const row of rows) {
    let { bits, set } = row
    for (let bit = 255; bit >= 0 && bits !== 0n; bit--) {
      if (((bits >> BigInt(bit)) & 1n) === 0n) continue
      const p = pivots.get(bit)
      if (p === undefined) { pivots.set(bit, { bits, set }); bits = -1n; break }
      bits ^= p.bits
      set ^= p.set
    }
    if (bits === 0n) { subset = set; break }
  }
  assert.ok(subset !== undefined, 'more than 256 vectors in 256 dimensions are linearly dependent')
  const flipped = new Set(keys.filter((_, i) => ((subset! >> BigInt(i)) & 1n) === 1n))
  assert.ok(flipped.size > 0)
  // State A: every key at v1. State B: the keys in S at v2. Different states...
  const xorRoot = (state: Map<string, KvVersion>): string => {
    const acc = Buffer.alloc(32)
    for (const [k, v] of state) xorHash(k, v).forEach((b, j) => { acc[j] = acc[j]! ^ b })
    return acc.toString('hex')
  }
  const stateA = new Map(keys.map(k => [k, v1]))
  const stateB = new Map(keys.map(k => [k, flipped.has(k) ? v2 : v1]))
  // ...one XOR root: replicas in these two states would have reported "converged".
  assert.is(xorRoot(stateA), xorRoot(stateB))
  const a = new Replica()
  const b = new Replica()
  for (const [k, v] of stateA) a.write(k, v)
  for (const [k, v] of stateB) b.write(k, v)
  assert.is.not(a.tree.root(), b.tree.root())
})

t('a reconcile walk driven by the tree API alone brings two replicas to equal roots', () => {
  const rng = seededRng(11)
  const a = new Replica()
  const b = new Replica()
  for (let i = 0; i < 3000; i++) {
    const key = `k${int(rng, 1500)}`
    const v = randomVersion(rng)
    if (rng() < 0.5) a.write(key, v)
    else b.write(key, v)
  }
  assert.is.not(a.tree.root(), b.tree.root())
  // b pulls from a: walk differing children level by level, then take a's newer records in differing leaves.
  let differing = ['']
  for (let depth = 0; depth < LEAF_DEPTH; depth++) {
    differing = differing.flatMap(id => diffChildren(b.tree.children(id), a.tree.children(id)))
  }
  for (const leaf of differing) {
    for (const [key, r] of a.records) if (leafOf(key) === leaf) b.write(key, r.version, r.sig)
  }
  // and a pulls from b the same way
  differing = ['']
  for (let depth = 0; depth < LEAF_DEPTH; depth++) {
    differing = differing.flatMap(id => diffChildren(a.tree.children(id), b.tree.children(id)))
  }
  for (const leaf of differing) {
    for (const [key, r] of b.records) if (leafOf(key) === leaf) a.write(key, r.version, r.sig)
  }
  assert.is(a.tree.root(), b.tree.root())
})

t.run()
