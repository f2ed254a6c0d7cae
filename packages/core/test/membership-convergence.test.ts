/**
 * Order independence of the membership merge (seeded property tests): machines that end up with the same set
 * of updates, whatever the order, batching, duplication or relaying, hold the same view, and that view is the
 * greatest update per member by (incarnation, alive < suspect < dead < left).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MembershipMachine } from '../src/membership/machine.js'
import type { MemberState, MemberUpdate } from '../src/membership/types.js'
import { seededRng, shuffled } from '../src/rng.js'
import type { Rng } from '../src/rng.js'
import { alive, dead, left, machine, suspect, updates } from './membership-helpers.js'

const converge = suite('membership: convergence (seeded property)')

const RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 }

/** The reference answer: the greatest update by (incarnation, alive < suspect < dead < left). */
function expectedView (all: MemberUpdate[]): Record<string, string> {
  const best = new Map<string, MemberUpdate>()
  for (const u of all) {
    const cur = best.get(u.id)
    if (cur === undefined || u.incarnation > cur.incarnation || (u.incarnation === cur.incarnation && RANK[u.kind] > RANK[cur.kind])) best.set(u.id, u)
  }
  return Object.fromEntries([...best].map(([id, u]) => [id, `${u.kind}@${u.incarnation}${u.kind === 'alive' ? ' ' + u.addrs.join() : ''}`]))
}

function viewOf (m: MembershipMachine, ids: string[]): Record<string, string> {
  return Object.fromEntries(ids.map(id => {
    const x = m.get(id)
    return [id, x === undefined ? 'unknown' : `${x.state}@${x.incarnation}${x.state === 'alive' ? ' ' + x.addrs.join() : ''}`]
  }))
}

function randomUpdate (rng: Rng, ids: string[]): MemberUpdate {
  const id = ids[Math.floor(rng() * ids.length)]!
  const inc = Math.floor(rng() * 4)
  switch (Math.floor(rng() * 4)) {
    // The member alone originates alive(id, inc), so its meta is a function of (id, inc).
    case 0: return alive(id, inc, [`/dns4/${id}/tcp/${inc}`])
    case 1: return suspect(id, inc, 'n0')
    case 2: return dead(id, inc, 'n1')
    default: return left(id, inc)
  }
}

converge('machines that receive the same updates in any order, directly or relayed, agree', () => {
  const memberIds = ['m0', 'm1', 'm2', 'm3']
  for (let iteration = 0; iteration < 300; iteration++) {
    const rng = seededRng(1000 + iteration)
    const nodes = Array.from({ length: 2 + Math.floor(rng() * 4) }, (_, i) => machine({ self: `n${i}`, seed: iteration * 10 + i }))
    // Every machine knows every member from its first announcement (only alive introduces a member).
    const intro = memberIds.map(id => alive(id, 0, [`/dns4/${id}/tcp/0`]))
    for (const n of nodes) n.step(updates(0, ...shuffled(intro, rng)))
    const universe = Array.from({ length: 5 + Math.floor(rng() * 20) }, () => randomUpdate(rng, memberIds))
    const pending = nodes.map(() => shuffled(universe, rng))
    let now = 1
    while (pending.some(p => p.length > 0)) {
      now++
      const i = Math.floor(rng() * nodes.length)
      const r = rng()
      if (r < 0.6) {
        // Direct delivery of a random batch, possibly with duplicates of what was already seen.
        const batch = pending[i]!.splice(0, 1 + Math.floor(rng() * 3))
        if (rng() < 0.2) batch.push(universe[Math.floor(rng() * universe.length)]!)
        nodes[i]!.step(updates(now, ...batch))
      } else {
        // Relay: another node's piggyback or full state (whose dead entries arrive as suspect).
        const j = Math.floor(rng() * nodes.length)
        const relayed = r < 0.8 ? nodes[j]!.takePiggyback(1 + Math.floor(rng() * 4)) : nodes[j]!.fullState()
        nodes[i]!.step({ type: 'updates', now, from: `n${j}`, updates: relayed })
      }
    }
    const expected = expectedView([...intro, ...universe])
    for (const [k, n] of nodes.entries()) {
      assert.equal(viewOf(n, memberIds), expected, `iteration ${iteration}, node n${k}; universe ${JSON.stringify(universe)}`)
    }
  }
})

converge('the merge is idempotent and commutative for any pair of updates', () => {
  const ids = ['m0']
  const rng = seededRng(77)
  for (let i = 0; i < 2000; i++) {
    const u = randomUpdate(rng, ids)
    const v = randomUpdate(rng, ids)
    const base = alive('m0', 0, ['/dns4/m0/tcp/0'])
    const x = machine({ self: 'x' })
    const y = machine({ self: 'y' })
    x.step(updates(0, base, u, v, u, v))
    y.step(updates(0, base, v, u))
    assert.equal(viewOf(x, ids), viewOf(y, ids), `${JSON.stringify(u)} / ${JSON.stringify(v)}`)
    assert.equal(viewOf(x, ids), expectedView([base, u, v]))
  }
})

converge.run()
