/**
 * Lifeguard's local health multiplier in the SWIM machine (machine.ts `health`): a node whose own probes fail
 * without relays' nacks, or that is suspected itself, probes less often with a longer timeout; successes bring it
 * back. Nacks (relays that could not reach the target either) put the blame on the target, not on this node.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LOCAL_HEALTH_MAX } from '../src/constants.js'
import type { MembershipEffect } from '../src/membership/types.js'
import { alive, machine, suspect, tick, updates } from './membership-helpers.js'

type Probe = Extract<MembershipEffect, { type: 'probe' }>
const probes = (effects: MembershipEffect[]): Probe[] => effects.filter((e): e is Probe => e.type === 'probe')

/** A machine that knows b, c, d and e, all alive. */
function fourPeers (): ReturnType<typeof machine> {
  const m = machine()
  m.step(updates(0, alive('b', 1), alive('c', 1), alive('d', 1), alive('e', 1)))
  return m
}

test('a failed probe with no nack raises local health by the missing nacks; the next probe waits and times out longer', () => {
  const m = fourPeers()
  const [first] = probes(m.step(tick(0)))
  assert.ok(first)
  assert.is(first.timeoutMs, 500)
  assert.is(first.via.length, 3)
  m.step({ type: 'probe-result', now: 600, target: first.target, seq: first.seq, ok: false, nacks: 0 })
  assert.is(m.localHealth, 3, 'three relays asked, none answered: three missing nacks')
  // Probe interval x (3 + 1): nothing at 1 s, 2 s or 3.9 s; the next probe at 4 s with a 2 s timeout.
  for (const now of [1000, 2000, 3900]) assert.equal(probes(m.step(tick(now))), [], `no probe at ${now} ms`)
  const [next] = probes(m.step(tick(4000)))
  assert.ok(next, 'a probe at 4 s')
  assert.is(next.timeoutMs, 2000)
})

test('nacks from every relay leave local health alone: the target is the one that failed', () => {
  const m = fourPeers()
  const [p] = probes(m.step(tick(0)))
  m.step({ type: 'probe-result', now: 600, target: p!.target, seq: p!.seq, ok: false, nacks: p!.via.length })
  assert.is(m.localHealth, 0)
  assert.ok(probes(m.step(tick(1000))).length === 1, 'probing goes on at the base interval')
})

test('successful probes bring local health back to 0, one step each; it never exceeds LOCAL_HEALTH_MAX', () => {
  const m = fourPeers()
  let now = 0
  for (let i = 0; i < 10; i++) {
    now += 10_000
    const [p] = probes(m.step(tick(now)))
    assert.ok(p, `probe ${i}`)
    m.step({ type: 'probe-result', now: now + 1, target: p.target, seq: p.seq, ok: false })
    // A failed probe makes its target suspect; a fresh alive keeps all four probe-able.
    m.step(updates(now + 2, alive(p.target, 10 + i)))
  }
  assert.is(m.localHealth, LOCAL_HEALTH_MAX)
  for (let expected = LOCAL_HEALTH_MAX - 1; expected >= 0; expected--) {
    now += 10_000
    const [p] = probes(m.step(tick(now)))
    m.step({ type: 'probe-result', now: now + 1, target: p!.target, seq: p!.seq, ok: true })
    assert.is(m.localHealth, expected)
  }
  now += 10_000
  const [p] = probes(m.step(tick(now)))
  assert.is(p!.timeoutMs, 500, 'healthy again: the base timeout')
})

test('a node with nobody to relay through counts each failed probe once', () => {
  const m = machine()
  m.step(updates(0, alive('b', 1)))
  const [p] = probes(m.step(tick(0)))
  assert.equal(p!.via, [])
  m.step({ type: 'probe-result', now: 600, target: 'b', seq: p!.seq, ok: false })
  assert.is(m.localHealth, 1)
})

test('being suspected raises local health (the refutation still goes out at once: flooded, and in a gossip round)', () => {
  const m = fourPeers()
  const effects = m.step(updates(100, suspect('a', 1)))
  assert.ok(effects.some(e => e.type === 'broadcast' && e.update.kind === 'alive' && e.update.id === 'a'), 'flooded')
  assert.is(m.localHealth, 1)
  assert.ok(m.nextTickAt()! <= 100, 'a gossip round is due now')
  assert.ok(m.step(tick(100)).some(e => e.type === 'gossip' && e.peers.length > 0), 'gossip round')
  assert.ok(m.takePiggyback(16).some(u => u.kind === 'alive' && u.id === 'a' && u.incarnation === 2), 'refuted')
})

test.run()
