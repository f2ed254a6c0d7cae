/**
 * Neighbour-scoped probing (the `neighbours` input) and memberlist's push-pull scaling: with a bounded-degree
 * overlay a node probes and exchanges full state only with the members it is connected to.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { pushPullInterval } from '../src/membership/machine.js'
import type { MembershipEffect } from '../src/membership/types.js'
import { dead, probeOf, tick, updates, withMembers } from './membership-helpers.js'

const t = suite('membership: neighbour scope')
const IDS = ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']

/** Runs `periods` probe periods (probes always answered) and returns the probed targets and push-pull peers. */
function drive (m: ReturnType<typeof withMembers>, from: number, periods: number): { probed: string[], pushPull: string[], via: string[] } {
  const probed: string[] = []
  const pushPull: string[] = []
  const via: string[] = []
  for (let now = from; now < from + periods * 1000; now += 100) {
    const effects: MembershipEffect[] = m.step(tick(now))
    for (const e of effects) {
      if (e.type === 'probe') {
        probed.push(e.target)
        via.push(...e.via)
        m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: true })
      }
      if (e.type === 'push-pull') pushPull.push(e.peer)
    }
  }
  return { probed, pushPull, via }
}

t('without a scope every live member is probed', () => {
  const m = withMembers(IDS)
  const { probed } = drive(m, 0, 16)
  assert.equal([...new Set(probed)].sort(), IDS)
})

t('with a scope only the neighbours are probed and pushed to, round-robin', () => {
  const m = withMembers(IDS, { timings: { pushPullIntervalMs: 2000 } })
  m.step({ type: 'neighbours', now: 0, peers: ['c', 'f', 'x-not-a-member'] })
  const { probed, pushPull } = drive(m, 0, 20)
  assert.equal([...new Set(probed)].sort(), ['c', 'f'])
  // Round-robin: each neighbour about half the probes.
  assert.ok(Math.abs(probed.filter(p => p === 'c').length - probed.filter(p => p === 'f').length) <= 2)
  assert.ok(pushPull.length > 0 && pushPull.every(p => p === 'c' || p === 'f'), JSON.stringify(pushPull))
})

t('indirect probe relays come from the scope too', () => {
  const m = withMembers(IDS)
  m.step({ type: 'neighbours', now: 0, peers: ['b', 'c', 'd', 'e'] })
  const { via } = drive(m, 0, 12)
  assert.ok(via.length > 0 && via.every(v => ['b', 'c', 'd', 'e'].includes(v)), JSON.stringify(via))
})

t('a scope whose members are all dead falls back to every live member; an empty scope clears it', () => {
  const m = withMembers(IDS)
  m.step({ type: 'neighbours', now: 0, peers: ['b'] })
  m.step(updates(0, dead('b', 1)))
  const { probed } = drive(m, 0, 12)
  assert.ok(new Set(probed).size > 1 && !probed.includes('b'), JSON.stringify(probed))
  m.step({ type: 'neighbours', now: 12_000, peers: ['c'] })
  assert.equal([...new Set(drive(m, 12_000, 4).probed)], ['c'])
  m.step({ type: 'neighbours', now: 16_000, peers: [] })
  assert.ok(new Set(drive(m, 16_000, 16).probed).size === IDS.length - 1)
})

t('connection-lost still probes a member outside the scope at once (the kill -9 fast path)', () => {
  const m = withMembers(IDS)
  m.step({ type: 'neighbours', now: 0, peers: ['c'] })
  const effects = m.step({ type: 'connection-lost', now: 50, peer: 'g' })
  assert.is(probeOf(effects).target, 'g')
})

t('deadMembers lists the members believed dead', () => {
  const m = withMembers(IDS)
  m.step(updates(0, dead('d', 1), dead('e', 1)))
  assert.equal(m.deadMembers().sort(), ['d', 'e'])
})

t('push-pull interval: memberlist pushPullScale (x1 up to 32 members, then +1 per doubling)', () => {
  assert.is(pushPullInterval(15_000, 10), 15_000)
  assert.is(pushPullInterval(15_000, 32), 15_000)
  assert.is(pushPullInterval(15_000, 33), 30_000)
  assert.is(pushPullInterval(15_000, 64), 30_000)
  assert.is(pushPullInterval(15_000, 1000), 90_000)
  assert.is(pushPullInterval(15_000, 10_000), 150_000)
})

t.run()
