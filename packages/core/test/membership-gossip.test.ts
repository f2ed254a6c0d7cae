/**
 * Dissemination by gossip rounds (machine.ts onTick, memberlist's gossip): while updates are queued, every
 * GOSSIP_INTERVAL_MS the machine names GOSSIP_FANOUT neighbours to send them to. A node's dissemination cost is
 * bounded by the interval however many members change state at once, where a flood on the topic cost every
 * member a message per change; and news still reaches every member in a few rounds.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GOSSIP_FANOUT, GOSSIP_INTERVAL_MS, MAX_PIGGYBACK_UPDATES } from '../src/constants.js'
import type { MembershipMachine } from '../src/membership/machine.js'
import type { MembershipEffect } from '../src/membership/types.js'
import { alive, machine, suspect, tick, updates, withMembers } from './membership-helpers.js'

const gossips = (effects: MembershipEffect[]): Array<Extract<MembershipEffect, { type: 'gossip' }>> =>
  effects.filter((e): e is Extract<MembershipEffect, { type: 'gossip' }> => e.type === 'gossip')

/** Ticks every ms over [from, to], taking one batch per named peer as the driver does; the rounds and their times. */
function drive (m: MembershipMachine, from: number, to: number): Array<{ at: number, peers: string[] }> {
  const rounds: Array<{ at: number, peers: string[] }> = []
  for (let now = from; now <= to; now++) {
    for (const g of gossips(m.step(tick(now)))) {
      rounds.push({ at: now, peers: g.peers })
      for (const _ of g.peers) m.takePiggyback(MAX_PIGGYBACK_UPDATES)
    }
  }
  return rounds
}

test('a round every interval while updates are queued, to at most GOSSIP_FANOUT live members; none once sent out', () => {
  const ids = ['b', 'c', 'd', 'e', 'f', 'g']
  const m = withMembers(ids)
  const rounds = drive(m, 0, 5000)
  assert.ok(rounds.length > 0, 'the join news goes out')
  assert.is(rounds[0]!.at, 0, 'at once')
  for (let i = 1; i < rounds.length; i++) assert.is(rounds[i]!.at - rounds[i - 1]!.at, GOSSIP_INTERVAL_MS, 'one round per interval')
  for (const r of rounds) {
    assert.is(r.peers.length, GOSSIP_FANOUT)
    assert.is(new Set(r.peers).size, r.peers.length, 'distinct peers')
    for (const p of r.peers) assert.ok(ids.includes(p), `${p} is a member`)
  }
  assert.ok(rounds.at(-1)!.at < 3000, 'the queue drains (each update has a retransmit limit), then rounds stop')
  assert.equal(m.takePiggyback(MAX_PIGGYBACK_UPDATES), [])
  // News after a quiet spell goes out at the next tick, not an interval later.
  m.step(updates(7000, suspect('c', 1, 'd')))
  assert.ok(m.nextTickAt()! <= 7000, 'due now')
  assert.is(drive(m, 7000, 7000).length, 1)
})

test('a storm of changes costs one round per interval, not a message per change', () => {
  const ids = Array.from({ length: 100 }, (_, i) => `m${i}`)
  const m = withMembers(ids)
  drive(m, 0, 20_000) // the join news drains
  // Every member suspected by someone else within one second: 100 changes (a flood sent 100 messages to each
  // member of the swarm; each member here sends its rounds and no more).
  for (let i = 0; i < ids.length; i++) m.step(updates(20_000 + i * 10, suspect(ids[i]!, 1, ids[(i + 1) % ids.length]!)))
  const rounds = drive(m, 20_000, 22_000)
  assert.ok(rounds.length <= 2000 / GOSSIP_INTERVAL_MS + 1, `${rounds.length} rounds in 2 s`)
  assert.ok(rounds.every(r => r.peers.length <= GOSSIP_FANOUT))
})

test('gossip goes to neighbours when the driver bounds them', () => {
  const ids = Array.from({ length: 30 }, (_, i) => `m${i}`)
  const m = withMembers(ids)
  m.step({ type: 'neighbours', now: 0, peers: ['m1', 'm2', 'm3', 'm4'] })
  const rounds = drive(m, 0, 3000)
  assert.ok(rounds.length > 0)
  for (const r of rounds) for (const p of r.peers) assert.ok(['m1', 'm2', 'm3', 'm4'].includes(p), p)
})

test('a suspicion reaches all 64 members of a swarm through gossip rounds alone, within a few rounds', () => {
  const ids = Array.from({ length: 64 }, (_, i) => `n${i}`)
  const nodes = new Map(ids.map((id, i) => {
    const m = machine({ self: id, seed: i + 1 })
    m.step(updates(0, ...ids.filter(x => x !== id).map(x => alive(x, 1))))
    return [id, m] as const
  }))
  const crashed = 'n63'
  // The join news drains first (delivered the same way), so the queues hold only the suspicion.
  const deliver = (now: number): void => {
    for (const [id, m] of nodes) {
      if (id === crashed && now >= 30_000) continue
      for (const g of gossips(m.step(tick(now)))) {
        for (const peer of g.peers) {
          const sent = m.takePiggyback(MAX_PIGGYBACK_UPDATES)
          if (peer === crashed && now >= 30_000) continue // it answers nothing (and so cannot refute)
          const other = nodes.get(peer)!
          other.step({ type: 'updates', now, from: id, updates: sent })
          m.step({ type: 'updates', now, from: peer, updates: other.takePiggyback(MAX_PIGGYBACK_UPDATES) })
        }
      }
    }
  }
  for (let now = 0; now < 30_000; now += GOSSIP_INTERVAL_MS) deliver(now)
  nodes.get('n0')!.step(updates(30_000, suspect('n63', 1, 'n0')))
  let rounds = 0
  for (let now = 30_000; ids.some(id => id !== 'n63' && nodes.get(id)!.get('n63')!.state !== 'suspect'); now += GOSSIP_INTERVAL_MS) {
    deliver(now)
    rounds++
    assert.ok(rounds <= 6, `still not everywhere after ${rounds} rounds`)
  }
  assert.ok(rounds >= 2, 'it takes rounds, not a flood')
})

test.run()
