/**
 * Bounded-degree overlay (membership/overlay.ts): seeded swarms of up to 2,000 ids. The union of every node's
 * chosen neighbours is connected with a small diameter, each node chooses at most `degree`, plans are stable
 * while nothing changes, and after a third of the nodes die one maintenance round re-plans a connected overlay.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { planNeighbours, ringNeighbours, ringPosition } from '../src/membership/overlay.js'
import { seededRng, shuffled } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const t = suite('membership overlay')

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `12D3KooW${(Math.imul(i + 1, 2654435761) >>> 0).toString(36)}x${i}`)

/** One maintenance round for every node: plans from the same live set, keeping each node's current choice. */
function round (live: string[], current: Map<string, string[]>, degree: number, rng: Rng): Map<string, string[]> {
  const next = new Map<string, string[]>()
  for (const self of live) {
    next.set(self, planNeighbours({ self, live, current: current.get(self) ?? [], degree, ringNeighbours: 1, rng }).desired)
  }
  return next
}

/** Undirected graph of chosen links; BFS from the first node: how many reached, and the eccentricity. */
function reach (live: string[], chosen: Map<string, string[]>): { reached: number, diameterFromFirst: number, maxDegree: number } {
  const adj = new Map<string, Set<string>>(live.map(id => [id, new Set()]))
  for (const [a, list] of chosen) {
    for (const b of list) {
      if (!adj.has(a) || !adj.has(b)) continue
      adj.get(a)!.add(b)
      adj.get(b)!.add(a)
    }
  }
  const dist = new Map<string, number>([[live[0]!, 0]])
  const queue = [live[0]!]
  for (let i = 0; i < queue.length; i++) {
    const x = queue[i]!
    for (const y of adj.get(x)!) if (!dist.has(y)) { dist.set(y, dist.get(x)! + 1); queue.push(y) }
  }
  return { reached: dist.size, diameterFromFirst: Math.max(...dist.values()), maxDegree: Math.max(...[...adj.values()].map(s => s.size)) }
}

t('every node chooses at most degree live peers, never itself; a small swarm is fully connected', () => {
  const rng = seededRng(1)
  const all = ids(200)
  for (const self of all.slice(0, 20)) {
    const plan = planNeighbours({ self, live: [...all, self, all[3]!], current: [], degree: 8, ringNeighbours: 1, rng })
    assert.is(plan.desired.length, 8)
    assert.is(new Set(plan.desired).size, 8)
    assert.not.ok(plan.desired.includes(self))
    assert.equal(plan.dial, plan.desired)
  }
  const small = ids(6)
  const plan = planNeighbours({ self: small[0]!, live: small, current: [], degree: 8, ringNeighbours: 1, rng })
  assert.equal([...plan.desired].sort(), small.slice(1).sort())
})

t('the ring neighbours are the nearest successor and predecessor by hash position, whatever the input order', () => {
  const rng = seededRng(2)
  const all = ids(500)
  const self = all[0]!
  const sorted = [...all].sort((a, b) => ringPosition(a) - ringPosition(b))
  const i = sorted.indexOf(self)
  const want = [sorted[(i + 1) % sorted.length]!, sorted[(i - 1 + sorted.length) % sorted.length]!]
  assert.equal(ringNeighbours(self, shuffled(all, rng), 1), want)
  assert.equal(ringNeighbours(self, [self], 1), [])
})

t('the union of choices is connected with a small diameter (200, 1000, 2000 nodes)', () => {
  for (const n of [200, 1000, 2000]) {
    const rng = seededRng(n)
    const live = ids(n)
    const chosen = round(live, new Map(), 8, rng)
    const r = reach(live, chosen)
    assert.is(r.reached, n, `connected at ${n}`)
    // A random 8-out graph has diameter ~log(n)/log(15); allow generous room (5 at 2000 measured).
    assert.ok(r.diameterFromFirst <= Math.ceil(Math.log2(n)), `eccentricity ${r.diameterFromFirst} at ${n}`)
    // Links others chose add to a node's own 8; bounded, and independent of n.
    assert.ok(r.maxDegree <= 40, `max degree ${r.maxDegree} at ${n}`)
  }
})

t('stable: re-planning with nothing changed dials and drops nothing', () => {
  const rng = seededRng(3)
  const live = ids(300)
  const first = round(live, new Map(), 8, rng)
  for (const self of live) {
    const plan = planNeighbours({ self, live, current: first.get(self)!, degree: 8, ringNeighbours: 1, rng })
    assert.equal(plan.dial, [])
    assert.equal(plan.drop, [])
  }
})

t('repairs itself: after a third of the nodes die, one round drops the dead and the overlay is connected again', () => {
  const rng = seededRng(4)
  const all = ids(1000)
  const before = round(all, new Map(), 8, rng)
  const dead = new Set(shuffled(all, rng).slice(0, 333))
  const live = all.filter(id => !dead.has(id))
  // Without repair the survivors' old links may leave some of them cut off or short of neighbours.
  const after = round(live, before, 8, rng)
  for (const self of live) {
    const plan = after.get(self)!
    assert.is(plan.length, 8)
    assert.ok(plan.every(id => !dead.has(id)), 'no dead neighbour kept')
    // Links to survivors are kept (no needless churn).
    const keptBefore = before.get(self)!.filter(id => !dead.has(id))
    assert.ok(keptBefore.every(id => plan.includes(id)), 'surviving links kept')
  }
  const r = reach(live, after)
  assert.is(r.reached, live.length)
  // The planner's drop list names exactly the dead (and only those) for a node that had dead neighbours.
  const self = live.find(id => before.get(id)!.some(x => dead.has(x)))!
  const plan = planNeighbours({ self, live, current: before.get(self)!, degree: 8, ringNeighbours: 1, rng })
  assert.equal([...plan.drop].sort(), before.get(self)!.filter(x => dead.has(x)).sort())
})

t('repeated failures: ten rounds of 10% deaths, the overlay stays connected every round', () => {
  const rng = seededRng(5)
  let live = ids(1000)
  let chosen = round(live, new Map(), 8, rng)
  for (let k = 0; k < 10; k++) {
    const dead = new Set(shuffled(live, rng).slice(0, Math.floor(live.length / 10)))
    live = live.filter(id => !dead.has(id))
    chosen = round(live, chosen, 8, rng)
    assert.is(reach(live, chosen).reached, live.length, `round ${k}`)
  }
})

t.run()
