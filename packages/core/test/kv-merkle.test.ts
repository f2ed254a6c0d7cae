/**
 * The KV hash-range Merkle tree: incremental XOR updates equal a from-scratch build, order does not matter, and
 * a reconcile walk driven only by the tree API brings two replicas to equal roots in O(d log n) hashes.
 */
import { createHash } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidInputError } from '../src/errors.js'
import { diffChildren, LEAF_DEPTH, leafOf, MerkleTree, recordHash, xorInto, ZERO_HASH } from '../src/kv/merkle.js'
import { compareVersions, versionString } from '../src/kv/record.js'
import type { KvVersion } from '../src/kv/record.js'
import { seededRng, shuffled } from '../src/rng.js'
import type { Rng } from '../src/rng.js'
import { KV_SYNC_BATCH } from '../src/constants.js'

const int = (rng: Rng, n: number): number => Math.floor(rng() * n)
const NODES = ['peer-a', 'peer-b', 'peer-c']
const randomVersion = (rng: Rng): KvVersion => ({ wall: 1_700_000_000_000 + int(rng, 50), logical: int(rng, 3), node: NODES[int(rng, 3)]! })

/** A replica as the store keeps it: key -> version of the winning record (tombstones are versions too), plus its tree. */
class Replica {
  readonly tree = new MerkleTree()
  readonly records = new Map<string, KvVersion>()
  readonly byLeaf = new Map<string, Set<string>>()

  /** Merges a write; true when it won. */
  write (key: string, version: KvVersion): boolean {
    const old = this.records.get(key)
    if (old !== undefined && compareVersions(version, old) <= 0) return false
    this.tree.apply(key, old, version)
    this.records.set(key, version)
    const leaf = leafOf(key)
    let keys = this.byLeaf.get(leaf)
    if (keys === undefined) this.byLeaf.set(leaf, keys = new Set())
    keys.add(key)
    return true
  }

  /** Garbage-collects a key. */
  drop (key: string): void {
    const old = this.records.get(key)
    if (old === undefined) return
    this.tree.remove(key, old)
    this.records.delete(key)
    this.byLeaf.get(leafOf(key))!.delete(key)
  }

  leafEntries (leaf: string): Array<{ key: string, version: KvVersion }> {
    return [...this.byLeaf.get(leaf) ?? []].sort().map(key => ({ key, version: this.records.get(key)! }))
  }
}

function fromScratch (records: Map<string, KvVersion>): MerkleTree {
  const t = new MerkleTree()
  for (const [k, v] of records) t.apply(k, undefined, v)
  return t
}

// ---------------------------------------------------------------------------------------------------------
const basics = suite('kv merkle: hashing and apply')

basics('leafOf and recordHash are the documented sha256 forms', () => {
  for (const key of ['a', 'user/1', 'ünï', '😀']) {
    const full = createHash('sha256').update(Buffer.from(key, 'utf8')).digest('hex')
    assert.is(leafOf(key), full.slice(0, LEAF_DEPTH))
    const v = { wall: 5, logical: 1, node: 'peer-a' }
    const expected = createHash('sha256').update(Buffer.concat([Buffer.from(key, 'utf8'), Buffer.of(0), Buffer.from(versionString(v), 'utf8')])).digest()
    assert.equal(recordHash(key, v), new Uint8Array(expected))
    assert.is(recordHash(key, v).length, 32)
  }
})

basics('an empty tree is all zero; one record puts its hash on every node of its path', () => {
  const t = new MerkleTree()
  assert.is(t.root(), ZERO_HASH)
  assert.is(t.count, 0)
  const v = { wall: 1, logical: 0, node: 'peer-a' }
  const changed = t.apply('k', undefined, v)
  const leaf = leafOf('k')
  const h = Buffer.from(recordHash('k', v)).toString('hex')
  assert.equal(changed, [['', h], [leaf.slice(0, 1), h], [leaf.slice(0, 2), h], [leaf.slice(0, 3), h], [leaf, h]])
  assert.is(t.count, 1)
  assert.is(t.hash(leaf), h)
  assert.is(t.children('').filter(c => c.hash !== ZERO_HASH).length, 1)
  // Removing it empties the tree again, and reports the zeroed path.
  assert.equal(t.remove('k', v).map(([, hash]) => hash), Array(LEAF_DEPTH + 1).fill(ZERO_HASH))
  assert.equal(t.entries(), [])
  assert.is(t.count, 0)
})

basics('apply always reports exactly depth + 1 nodes whose hashes match the tree', () => {
  const rng = seededRng(10)
  const r = new Replica()
  for (let i = 0; i < 500; i++) {
    const key = `k${int(rng, 100)}`
    const old = r.records.get(key)
    const v = randomVersion(rng)
    if (old !== undefined && compareVersions(v, old) <= 0) continue
    const changed = r.tree.apply(key, old, v)
    r.records.set(key, v)
    assert.is(changed.length, LEAF_DEPTH + 1)
    assert.equal(changed.map(([id]) => id.length), [0, 1, 2, 3, 4])
    for (const [id, hash] of changed) assert.is(r.tree.hash(id), hash)
  }
})

basics('xorInto is its own inverse', () => {
  const a = recordHash('a', { wall: 1, logical: 0, node: 'n' })
  const b = recordHash('b', { wall: 1, logical: 0, node: 'n' })
  const t = a.slice()
  xorInto(t, b)
  xorInto(t, b)
  assert.equal(t, a)
})

basics('children and fromNodes refuse bad input', () => {
  const t = new MerkleTree()
  for (const id of ['abcd', 'x', 'ABC', 'abcde']) assert.throws(() => t.children(id), (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => MerkleTree.fromNodes([['g', ZERO_HASH]], 0), (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => MerkleTree.fromNodes([['a', 'zz']], 0), (e: unknown) => e instanceof InvalidInputError)
  assert.throws(() => MerkleTree.fromNodes([], -1), (e: unknown) => e instanceof InvalidInputError)
})

// ---------------------------------------------------------------------------------------------------------
const props = suite('kv merkle: incremental equals from scratch')

props('random insert / update / tombstone / gc sequences', () => {
  const rng = seededRng(11)
  for (let round = 0; round < 20; round++) {
    const r = new Replica()
    for (let i = 0; i < 400; i++) {
      const key = `key-${int(rng, 80)}`
      // A tombstone is just a newer version of the key; gc removes the record.
      if (rng() < 0.05) r.drop(key)
      else r.write(key, randomVersion(rng))
    }
    const scratch = fromScratch(r.records)
    assert.is(r.tree.root(), scratch.root())
    assert.equal(r.tree.entries(), scratch.entries())
    assert.is(r.tree.count, r.records.size)
    assert.is(scratch.count, r.records.size)
  }
})

props('the same record set in any order gives equal roots and nodes', () => {
  const rng = seededRng(12)
  const records = new Map<string, KvVersion>()
  for (let i = 0; i < 3000; i++) records.set(`k/${i}`, randomVersion(rng))
  const a = fromScratch(records)
  const b = new MerkleTree()
  // Different order, and through superseded versions first.
  for (const [k, v] of shuffled([...records], rng)) {
    const older = { ...v, wall: v.wall - 1 }
    b.apply(k, undefined, older)
    b.apply(k, older, v)
  }
  assert.is(a.root(), b.root())
  assert.equal(a.entries(), b.entries())
  assert.ok(a.root() !== ZERO_HASH)
})

props('fromNodes restores an equal tree that keeps updating the same way', () => {
  const rng = seededRng(13)
  const r = new Replica()
  for (let i = 0; i < 1000; i++) r.write(`k${i}`, randomVersion(rng))
  const restored = MerkleTree.fromNodes([...r.tree.entries(), ['0123', ZERO_HASH]], r.tree.count)
  assert.equal(restored.entries(), r.tree.entries())
  assert.is(restored.count, 1000)
  const v = { wall: 1_800_000_000_000, logical: 0, node: 'peer-z' }
  assert.equal(restored.apply('k7', r.records.get('k7'), v), r.tree.apply('k7', r.records.get('k7'), v))
  assert.is(restored.root(), r.tree.root())
})

// ---------------------------------------------------------------------------------------------------------
const sync = suite('kv merkle: reconcile round trip')

interface WalkStats { messages: number, idsExpanded: number, hashes: number, leaves: number, keysPulled: number }

/**
 * One anti-entropy exchange in both directions, using only the tree API and the record maps: compare roots,
 * descend level by level into differing children (batches of KV_SYNC_BATCH ids), list the differing leaves,
 * then each side takes the greater version of every key.
 */
function reconcile (a: Replica, b: Replica): WalkStats {
  const s: WalkStats = { messages: 1, idsExpanded: 0, hashes: 1, leaves: 0, keysPulled: 0 }
  if (a.tree.root() === b.tree.root()) return s
  let frontier = ['']
  for (let depth = 0; depth < LEAF_DEPTH; depth++) {
    const next: string[] = []
    for (let i = 0; i < frontier.length; i += KV_SYNC_BATCH) {
      const batch = frontier.slice(i, i + KV_SYNC_BATCH)
      s.messages++
      for (const id of batch) {
        const theirs = b.tree.children(id)
        s.idsExpanded++
        s.hashes += theirs.length
        next.push(...diffChildren(a.tree.children(id), theirs))
      }
    }
    frontier = next
  }
  s.leaves = frontier.length
  s.messages += Math.ceil(frontier.length / KV_SYNC_BATCH) * 2
  const wanted: Array<[Replica, string, KvVersion]> = []
  for (const leaf of frontier) {
    const mine = new Map(a.leafEntries(leaf).map(e => [e.key, e.version]))
    const theirs = new Map(b.leafEntries(leaf).map(e => [e.key, e.version]))
    for (const key of new Set([...mine.keys(), ...theirs.keys()])) {
      const va = mine.get(key)
      const vb = theirs.get(key)
      if (vb !== undefined && (va === undefined || compareVersions(vb, va) > 0)) wanted.push([a, key, vb])
      if (va !== undefined && (vb === undefined || compareVersions(va, vb) > 0)) wanted.push([b, key, va])
    }
  }
  s.keysPulled = wanted.length
  s.messages += Math.ceil(wanted.length / KV_SYNC_BATCH) * 2
  for (const [r, key, v] of wanted) assert.ok(r.write(key, v))
  return s
}

function replicas (rng: Rng, n: number, d: number): [Replica, Replica] {
  const a = new Replica()
  const b = new Replica()
  for (let i = 0; i < n; i++) {
    const v = randomVersion(rng)
    a.write(`key:${i}`, v)
    b.write(`key:${i}`, v)
  }
  for (let i = 0; i < d; i++) {
    const key = `key:${int(rng, n * 2)}`
    const kind = int(rng, 3)
    // Only on one side, or conflicting versions on both (either side may be the newer).
    if (kind === 0) a.write(key, { ...randomVersion(rng), wall: 1_900_000_000_000 + i })
    else if (kind === 1) b.write(key, { ...randomVersion(rng), wall: 1_900_000_000_000 + i })
    else {
      a.write(key, { ...randomVersion(rng), wall: 1_900_000_000_000 + i, node: 'peer-a' })
      b.write(key, { ...randomVersion(rng), wall: 1_900_000_000_000 + i, node: 'peer-b' })
    }
  }
  return [a, b]
}

sync('random overlapping replicas reach equal roots, nodes and records', () => {
  const rng = seededRng(20)
  for (let round = 0; round < 10; round++) {
    const [a, b] = replicas(rng, 200 + int(rng, 300), 1 + int(rng, 100))
    reconcile(a, b)
    assert.is(a.tree.root(), b.tree.root())
    assert.equal(a.tree.entries(), b.tree.entries())
    assert.equal(new Map([...a.records].sort()), new Map([...b.records].sort()))
    assert.is(a.tree.count, b.tree.count)
    assert.equal(reconcile(a, b), { messages: 1, idsExpanded: 0, hashes: 1, leaves: 0, keysPulled: 0 }, 'in sync: one root')
  }
})

sync('the walk costs O(d log n) hashes for d differing keys out of n = 10 000', () => {
  const rng = seededRng(21)
  const n = 10_000
  for (const d of [1, 5, 20, 100]) {
    const [a, b] = replicas(rng, n, d)
    const s = reconcile(a, b)
    assert.is(a.tree.root(), b.tree.root(), `d = ${d}`)
    // At most one node per level (1..3) per differing key, plus the root; 16 child hashes per node.
    assert.ok(s.idsExpanded <= 3 * d + 1, `d = ${d}: ${s.idsExpanded} nodes expanded`)
    assert.ok(s.hashes <= d * LEAF_DEPTH * 16 + 1, `d = ${d}: ${s.hashes} hashes`)
    assert.ok(s.leaves <= d && s.keysPulled <= d * 2, `d = ${d}: ${s.leaves} leaves, ${s.keysPulled} keys`)
    assert.ok(s.hashes < n / 2, `d = ${d}: ${s.hashes} hashes is not ~n`)
    assert.ok(s.messages <= 1 + LEAF_DEPTH + 4, `d = ${d}: ${s.messages} messages`)
  }
})

sync('diffChildren: differing and one-sided ids, sorted', () => {
  const h = (c: string): string => c.repeat(64)
  const local = [{ id: 'a', hash: h('1') }, { id: 'b', hash: h('2') }, { id: 'c', hash: h('3') }]
  const remote = [{ id: 'c', hash: h('3') }, { id: 'b', hash: h('4') }, { id: 'd', hash: h('5') }, { id: 'e', hash: ZERO_HASH }]
  assert.equal(diffChildren(local, remote), ['a', 'b', 'd'])
  assert.equal(diffChildren(remote, local), ['a', 'b', 'd'])
  assert.equal(diffChildren(local, local), [])
})

basics.run()
props.run()
sync.run()
