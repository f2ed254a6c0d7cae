/**
 * The own-write pipeline (docs/performance.md, "kv.put"): while one group of a node's own writes is being written
 * (KV merge, batch, fsync), what arrives meanwhile is stamped and signed as the next group. Checked on a real
 * in-process node (real LevelDB) whose fsync'd batches are held at a gate, as a slow disk would hold them:
 * - the next group is stamped during the write before it, and still acknowledged only after its own fsync;
 * - when the write before it fails (a full disk), the prepared group is signed again under the seqs that are
 *   free: no gap in the node's own seqs, nothing of it lost;
 * - writes of one key issued in order keep their order across the group boundary.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Store } from '@shoal/store'
import { MemorySwarm, hookBatches, waitUntil } from '@shoal/test-utils'

const FAST = { membership: { probeIntervalMs: 200, probeTimeoutMs: 150, suspicionTimeoutMs: 600 } }
/** How long the gate holds a batch once released late: long enough that stamps before and after differ in ms. */
const SLOW_FSYNC_MS = 40

interface Gate {
  /** Hold the next fsync'd batches until release(). */
  armed: boolean
  held: number
  /** Fail the held batch on release, as a full disk would. */
  fail: boolean
  release: () => void
  /** Own-event keys of each fsync'd batch that completed, with when it completed (Date.now()). */
  done: Array<{ keys: string[], at: number }>
}

function gatedStore (store: Store, gate: Gate): Store {
  let open: () => void = () => {}
  gate.release = () => { open() }
  return hookBatches(store, {
    before: async (_ops, opts) => {
      if (opts?.sync !== true || !gate.armed) return
      gate.armed = false
      const opened = new Promise<void>(resolve => { open = resolve })
      gate.held++
      await opened
      await new Promise(resolve => setTimeout(resolve, SLOW_FSYNC_MS))
      if (gate.fail) throw Object.assign(new Error('injected: no space left on device'), { code: 'ENOSPC' })
    },
    after: (ops, opts) => {
      if (opts?.sync === true) gate.done.push({ keys: ops.filter(o => o.bucket === 'events' && o.type === 'put').map(o => o.key), at: Date.now() })
    }
  })
}

function newGate (): Gate {
  return { armed: false, held: 0, fail: false, release: () => {}, done: [] }
}

test('the next group is stamped while the one before is being fsync\'d, and acknowledged only after its own fsync', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const gate = newGate()
  try {
    const a = await swarm.add({ bootstrap: null, wrapStore: s => gatedStore(s, gate) })
    await a.kv.put('warm', 0)
    gate.armed = true
    const first = a.kv.put('k1', 1)
    await waitUntil('the first group\'s batch to be held', () => gate.held === 1)
    const resolvedAt = new Map<string, number>()
    const later = ['k2', 'k3'].map(async (key, i) => await a.kv.put(key, i + 2).then(r => { resolvedAt.set(key, Date.now()); return r }))
    // Give the pipeline the turn of the event loop it needs to take them (a condition on public state is not
    // available: stamping is internal, so the release time below is what tells before from after).
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
    const releasedAt = Date.now()
    gate.release()
    await first
    const [k2, k3] = await Promise.all(later)
    assert.ok(k2!.version.wall < releasedAt + SLOW_FSYNC_MS && k3!.version.wall < releasedAt + SLOW_FSYNC_MS,
      `stamped at ${k2!.version.wall} and ${k3!.version.wall}, during the write that ended after ${releasedAt + SLOW_FSYNC_MS}`)
    assert.ok(k2!.version.wall <= releasedAt, `k2 stamped at ${k2!.version.wall}, before the held batch was released at ${releasedAt}`)
    // Their own batch: one fsync for both, after the first group's, and before either call returned.
    const own = gate.done.filter(d => d.keys.length > 0)
    const theirs = own.find(d => d.keys.length === 2)
    assert.ok(theirs !== undefined, `k2 and k3 share one fsync'd batch: ${JSON.stringify(own.map(d => d.keys.length))}`)
    assert.ok(own.indexOf(theirs!) > own.findIndex(d => d.keys.length === 1 && d.at >= releasedAt), 'written after the first group')
    for (const key of ['k2', 'k3']) assert.ok(resolvedAt.get(key)! >= theirs!.at, `${key} acknowledged after its batch was durable`)
    assert.is(a.events.stats().heads[a.peerId], 4)
  } finally {
    await swarm.destroy()
  }
})

test('when the write before fails, the prepared group is signed again under the free seqs: no gap, nothing lost', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const gate = newGate()
  try {
    const a = await swarm.add({ bootstrap: null, wrapStore: s => gatedStore(s, gate) })
    gate.armed = true
    gate.fail = true
    const lost = a.kv.put('x', 1).then(() => 'stored', (err: Error) => err.message)
    await waitUntil('the first group\'s batch to be held', () => gate.held === 1)
    const later = Promise.all([a.kv.put('y', 2), a.kv.put('z', 3)])
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
    gate.release()
    assert.match(await lost, /no space/)
    await later
    assert.is(a.events.stats().heads[a.peerId], 2, 'seqs 1 and 2 are held and contiguous')
    assert.is((await a.kv.get('y')).value, 2)
    assert.is((await a.kv.get('z')).value, 3)
    await a.kv.get('x').then(() => assert.unreachable('the failed put is visible'), () => {})
    const { events } = await a.events.list({ topic: 'kv', limit: 10 })
    assert.equal(events.map(d => d.event.seq), [1, 2])
  } finally {
    await swarm.destroy()
  }
})

test('writes of one key issued in order keep their order across the group boundary', async () => {
  const swarm = await MemorySwarm.create({ config: FAST })
  const gate = newGate()
  try {
    const a = await swarm.add({ bootstrap: null, wrapStore: s => gatedStore(s, gate) })
    gate.armed = true
    const puts = [a.kv.put('k', 'a')]
    await waitUntil('the first group\'s batch to be held', () => gate.held === 1)
    puts.push(a.kv.put('k', 'b'))
    await new Promise(resolve => setImmediate(resolve))
    puts.push(a.kv.put('k', 'c'))
    gate.release()
    await Promise.all(puts)
    assert.is((await a.kv.get('k')).value, 'c')
  } finally {
    await swarm.destroy()
  }
})

test.run()
