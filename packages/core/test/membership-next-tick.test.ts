/**
 * `nextTickAt` (machine.ts): the driver sleeps until the machine next has work instead of ticking every 100 ms.
 * The promise is that nothing is lost by sleeping: a machine ticked only at its own `nextTickAt` does exactly
 * what a machine ticked every millisecond does, at the same times, given the same other inputs. Random swarms
 * of suspicions, deaths, refutations, failed probes and departures check it; a `nextTickAt` one step too late
 * (a forgotten deadline) shows as a divergence.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_PIGGYBACK_UPDATES } from '../src/constants.js'
import { seededRng } from '../src/rng.js'
import type { MemberUpdate, MembershipEffect, MembershipInput } from '../src/membership/types.js'
import { alive, dead, describe, left, suspect, tick, withMembers } from './membership-helpers.js'

const IDS = ['b', 'c', 'd', 'e', 'f', 'g', 'h']
const END_MS = 70_000

function line (at: number, e: MembershipEffect): string {
  return `${at} ${describe(e)}${e.type === 'probe' ? ` via ${e.via.join(',')}` : ''}`
}

/** Runs one seeded scenario on both drivers; returns both effect logs and how often each was ticked. */
function scenario (seed: number): { every: string[], sleeping: string[], ticks: number, sleepingTicks: number } {
  const rng = seededRng(seed * 7919)
  const opts = { seed, timings: { deadMemberRetentionMs: 10_000 } }
  const every = withMembers(IDS, opts)
  const sleeping = withMembers(IDS, opts)
  const inputs = new Map<number, MembershipInput[]>()
  const at = (ms: number, input: MembershipInput): void => { inputs.set(ms, [...(inputs.get(ms) ?? []), input]) }
  const pick = <T>(list: T[]): T => list[Math.floor(rng() * list.length)]!
  // What other members tell this node, at random times: suspicions (confirmations), deaths, refutations, leaves.
  for (let i = 0; i < 40; i++) {
    const ms = Math.floor(rng() * END_MS * 0.8)
    const id = pick(IDS)
    const incarnation = 1 + Math.floor(rng() * 3)
    const kind = pick(['suspect', 'suspect', 'suspect', 'dead', 'alive', 'left'] as const)
    const update: MemberUpdate = kind === 'suspect'
      ? suspect(id, incarnation, pick(IDS.filter(x => x !== id)))
      : kind === 'dead' ? dead(id, incarnation, pick(IDS)) : kind === 'alive' ? alive(id, incarnation) : left(id, incarnation)
    at(ms, { type: 'updates', now: ms, updates: [update] })
  }
  const log = { every: [] as string[], sleeping: [] as string[] }
  let ticks = 0
  let sleepingTicks = 0
  const machines = { every, sleeping }
  const record = (ms: number, which: 'every' | 'sleeping', effects: MembershipEffect[]): void => {
    for (const e of effects) {
      log[which].push(line(ms, e))
      // As the drivers do: each message sent takes a batch of queued updates (which ends gossip rounds).
      const sends = e.type === 'gossip' ? e.peers.length : e.type === 'probe' ? 1 : 0
      for (let i = 0; i < sends; i++) log[which].push(`${ms} sent ${machines[which].takePiggyback(MAX_PIGGYBACK_UPDATES).map(u => `${u.kind} ${u.id}`).join(',')}`)
      // Probe results come back later, failing about a third of the time (suspicions of our own).
      if (which === 'every' && e.type === 'probe') {
        const back = ms + 1 + Math.floor(rng() * 900)
        at(back, { type: 'probe-result', now: back, target: e.target, seq: e.seq, ok: rng() > 0.35, nacks: Math.floor(rng() * (e.via.length + 1)) })
      }
    }
  }
  for (let ms = 0; ms <= END_MS; ms++) {
    for (const input of inputs.get(ms) ?? []) {
      record(ms, 'every', every.step(input))
      record(ms, 'sleeping', sleeping.step(input))
    }
    record(ms, 'every', every.step(tick(ms)))
    ticks++
    const next = sleeping.nextTickAt()
    if (next !== undefined && next <= ms) {
      record(ms, 'sleeping', sleeping.step(tick(ms)))
      sleepingTicks++
    }
  }
  return { ...log, ticks, sleepingTicks }
}

for (const seed of [1, 2, 3, 4]) {
  test(`seed ${seed}: ticked only at nextTickAt, the machine does what a machine ticked every ms does, when it does`, () => {
    const { every, sleeping, ticks, sleepingTicks } = scenario(seed)
    assert.ok(every.some(l => / ->dead@|suspect->dead/.test(l)), 'the scenario declares a member dead')
    assert.ok(every.some(l => l.includes(' removed ')), 'the scenario outlives a dead member\'s retention')
    assert.ok(every.some(l => l.includes(' push-pull ')), 'the scenario reaches a push-pull')
    assert.ok(every.some(l => l.includes(' gossip ')), 'the scenario has gossip rounds')
    assert.equal(sleeping, every)
    // About one wake-up per probe round, per gossip round while news is queued and per deadline: far fewer than
    // a fixed period's.
    assert.ok(sleepingTicks < ticks / 100, `${sleepingTicks} ticks of ${ticks}`)
  })
}

test('a node that has left has nothing to tick for', () => {
  const m = withMembers(IDS)
  assert.type(m.nextTickAt(), 'number')
  m.step({ type: 'leave', now: 10 })
  assert.is(m.nextTickAt(), undefined)
})

test.run()
