/**
 * Lifeguard's dynamic suspicion in the SWIM machine (machine.ts `startSuspicion`, `confirm`): a suspicion starts
 * at the longest timeout (6 x 3 s) and shrinks as other members independently suspect the same member, down to
 * the 3 s minimum after k = 2 confirmations. A member falsely suspected by one slow node so has 18 s to refute;
 * one that really died, and that its other neighbours suspect too, is declared after 3 s as before.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SUSPICION_CONFIRMATIONS, SUSPICION_MAX_TIMEOUT_MULT } from '../src/constants.js'
import { suspicionTimeout } from '../src/membership/machine.js'
import type { MembershipMachine } from '../src/membership/machine.js'
import type { MemberUpdate, MembershipEffect } from '../src/membership/types.js'
import { alive, describe, stateOf, suspect, tick, updates, withMembers } from './membership-helpers.js'

const MIN = 3000
const MAX = MIN * SUSPICION_MAX_TIMEOUT_MULT

/**
 * Ticks every 100 ms from `from` to `to`, watching b; probes of `failing` fail (relays nack), others succeed.
 * When b was declared dead (or never), and every effect.
 */
function runUntil (m: MembershipMachine, failing: string, from: number, to: number): { deadAt?: number, effects: MembershipEffect[], sent: MemberUpdate[] } {
  const effects: MembershipEffect[] = []
  // What gossip rounds send, as the driver takes it from the queue (one batch per peer).
  const sent: MemberUpdate[] = []
  for (let now = from; now <= to; now += 100) {
    for (const e of m.step(tick(now))) {
      effects.push(e)
      if (e.type === 'probe') effects.push(...m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: e.target !== failing, nacks: e.via.length }))
      if (e.type === 'gossip') for (const _ of e.peers) sent.push(...m.takePiggyback(16))
      if (e.type === 'changed' && e.member.id === 'b' && e.member.state === 'dead') return { deadAt: now, effects, sent }
    }
  }
  return { effects, sent }
}

test('the timeout: max with no confirmation, min after k, memberlist\'s log curve between', () => {
  assert.is(suspicionTimeout(0, 2, MIN, MAX), MAX)
  assert.is(suspicionTimeout(1, 2, MIN, MAX), Math.floor(MAX - Math.log(2) / Math.log(3) * (MAX - MIN)))
  assert.is(suspicionTimeout(2, 2, MIN, MAX), MIN)
  assert.is(suspicionTimeout(5, 2, MIN, MAX), MIN, 'more than k changes nothing')
  assert.is(suspicionTimeout(0, 0, MIN, MAX), MIN, 'k = 0 (a small swarm): the minimum at once')
})

test('a lone suspicion (nobody confirms) lasts the longest timeout, then the member is declared dead', () => {
  const m = withMembers(['b', 'c', 'd', 'e'])
  m.step(updates(0, suspect('b', 1, 'c')))
  assert.is(stateOf(m, 'b'), 'suspect@1')
  const { deadAt } = runUntil(m, '', 100, MAX + 500)
  assert.is(deadAt, MAX, 'declared at the longest timeout, not at 3 s')
})

test('k independent confirmations bring it down to the minimum; repeats and the member itself do not count', () => {
  const m = withMembers(['b', 'c', 'd', 'e'])
  m.step(updates(0, suspect('b', 1, 'c')))
  m.step(updates(100, suspect('b', 1, 'c'), suspect('b', 1, 'b')))
  assert.is(runUntil(m, '', 200, 5000).deadAt, undefined, 'a repeat by c and a full state\'s "suspect" from b itself: still the long timeout')
  m.step(updates(5000, suspect('b', 1, 'd')))
  const one = suspicionTimeout(1, SUSPICION_CONFIRMATIONS, MIN, MAX)
  assert.is(runUntil(m, '', 5100, one + 200).deadAt, Math.ceil(one / 100) * 100, 'one confirmation: the timeout on the log curve')
})

test('a confirmation past the deadline it sets declares death at once; the count is from the first suspicion', () => {
  const m = withMembers(['b', 'c', 'd', 'e'])
  m.step(updates(0, suspect('b', 1, 'c')))
  m.step(updates(4000, suspect('b', 1, 'd'), suspect('b', 1, 'e')))
  assert.is(runUntil(m, '', 4000, 4000).deadAt, 4000)
})

test('a really dead member whose neighbours all fail to reach it: dead after the minimum, as before Lifeguard', () => {
  const m = withMembers(['b', 'c', 'd'])
  // This node's own probe fails first and starts the suspicion; c's and d's own suspicions then arrive by gossip.
  const first = runUntil(m, 'b', 0, 3000)
  assert.ok(first.sent.some(u => u.kind === 'suspect' && u.id === 'b' && u.from === 'a'), 'suspected by its own probe within a round of probes, and gossiped')
  const startedAt = m.get('b')!.stateSince
  m.step(updates(startedAt + 300, suspect('b', 1, 'c')))
  m.step(updates(startedAt + 600, suspect('b', 1, 'd')))
  assert.is(runUntil(m, 'b', startedAt + 700, startedAt + MAX).deadAt, startedAt + MIN)
})

test('suspecting a member others suspect confirms it, and is gossiped only while it still counts (k)', () => {
  const m = withMembers(['b', 'c', 'd'])
  m.step(updates(0, suspect('b', 1, 'c'), suspect('b', 1, 'd')))
  // c started it, d confirmed: one more confirmation (ours) reaches k = 2, so our failed probe is queued for gossip.
  const { effects, sent } = runUntil(m, 'b', 100, 3000)
  assert.ok(sent.some(u => u.kind === 'suspect' && u.id === 'b' && u.from === 'a'), 'our confirmation is gossiped')
  assert.ok(effects.map(describe).includes('changed b suspect->dead@1'), 'k confirmations: dead at the minimum, 3 s after the first suspicion')
  assert.not.ok(effects.some(e => e.type === 'broadcast' && e.update.kind === 'suspect'), 'a suspicion is never flooded on the topic')
})

test('a confirmation past k is not queued again', () => {
  const m = withMembers(['b', 'c', 'd', 'e'])
  m.step(updates(0, suspect('b', 1, 'c'), suspect('b', 1, 'd'), suspect('b', 1, 'e')))
  m.takePiggyback(16)
  while (m.takePiggyback(16).length > 0) { /* drain the queue */ }
  const { sent } = runUntil(m, 'b', 100, 2900)
  assert.not.ok(sent.some(u => u.kind === 'suspect' && u.from === 'a'), 'k already reached: ours adds nothing')
})

test('a swarm too small to confirm (fewer than k + 2 members) runs the minimum at once', () => {
  const m = withMembers(['b', 'c'])
  m.step(updates(0, suspect('b', 1, 'c')))
  assert.is(runUntil(m, '', 100, MIN + 100).deadAt, MIN)
})

test('a refutation ends the suspicion; a new one starts the long timeout again', () => {
  const m = withMembers(['b', 'c', 'd', 'e'])
  m.step(updates(0, suspect('b', 1, 'c'), suspect('b', 1, 'd'), suspect('b', 1, 'e')))
  m.step(updates(1000, alive('b', 2)))
  assert.is(stateOf(m, 'b'), 'alive@2')
  m.step(updates(2000, suspect('b', 2, 'c')))
  assert.is(runUntil(m, '', 2100, 2000 + MAX - 100).deadAt, undefined, 'the earlier confirmations were for incarnation 1')
  assert.is(runUntil(m, '', 2000 + MAX, 2000 + MAX).deadAt, 2000 + MAX)
})

test.run()
