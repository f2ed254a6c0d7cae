/**
 * The hybrid logical clock: worked examples from the paper's rules, then seeded property runs over many
 * clocks whose wall times skew, jitter and jump backwards. Order never ties, each clock only moves forward,
 * a far-future peer is refused without touching state, and the text form sorts like compareHlc.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidInputError } from '../src/errors.js'
import { ClockDriftError, HLC_MAX_LOGICAL, HLC_MAX_WALL, HybridClock, compareHlc, hlcToString, parseHlc } from '../src/hlc.js'
import type { Hlc } from '../src/hlc.js'
import { seededRng } from '../src/rng.js'
import type { Rng } from '../src/rng.js'

const DRIFT = 1000
const T = 1_700_000_000_000

function expectThrows<E extends Error> (fn: () => unknown, type: new (...args: never[]) => E): E {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`)
  return caught as E
}

// ---------------------------------------------------------------------------------------------------------
const rules = suite('HybridClock: rules')

rules('now: first tick, logical bumps while wall stands still or goes back, resets when it moves', () => {
  const c = new HybridClock({ node: 'a', maxDriftMs: DRIFT })
  assert.is(c.last, undefined)
  assert.equal(c.now(T), { wall: T, logical: 0, node: 'a' })
  assert.equal(c.now(T), { wall: T, logical: 1, node: 'a' })
  assert.equal(c.now(T - 500), { wall: T, logical: 2, node: 'a' })
  assert.equal(c.now(T + 1), { wall: T + 1, logical: 0, node: 'a' })
  assert.equal(c.last, { wall: T + 1, logical: 0, node: 'a' })
})

rules('receive: each branch of the merge', () => {
  const c = new HybridClock({ node: 'b', maxDriftMs: DRIFT, last: { wall: T, logical: 4 } })
  // remote ahead of both: adopt its wall, logical after its counter
  assert.equal(c.receive({ wall: T + 10, logical: 7, node: 'a' }, T + 5), { wall: T + 10, logical: 8, node: 'b' })
  // same wall as ours: max of both counters + 1
  assert.equal(c.receive({ wall: T + 10, logical: 20, node: 'a' }, T), { wall: T + 10, logical: 21, node: 'b' })
  // ours ahead: our counter + 1
  assert.equal(c.receive({ wall: T, logical: 99, node: 'a' }, T), { wall: T + 10, logical: 22, node: 'b' })
  // physical clock ahead of both: logical resets
  assert.equal(c.receive({ wall: T + 11, logical: 3, node: 'a' }, T + 50), { wall: T + 50, logical: 0, node: 'b' })
})

rules('receive: drift beyond the limit throws ClockDriftError and changes nothing; the limit itself is accepted', () => {
  const c = new HybridClock({ node: 'b', maxDriftMs: DRIFT })
  c.now(T)
  const before = c.last
  const err = expectThrows(() => c.receive({ wall: T + DRIFT + 1, logical: 0, node: 'a' }, T), ClockDriftError)
  assert.is(err.code, 'ERR_CLOCK_DRIFT')
  assert.equal(err.data, { remoteWall: T + DRIFT + 1, localWall: T, maxDriftMs: DRIFT })
  assert.equal(c.last, before)
  assert.equal(c.receive({ wall: T + DRIFT, logical: 0, node: 'a' }, T), { wall: T + DRIFT, logical: 1, node: 'b' })
})

rules('restores from last across a restart and never goes back', () => {
  const c = new HybridClock({ node: 'a', maxDriftMs: DRIFT, last: { wall: T, logical: 9 } })
  assert.equal(c.last, { wall: T, logical: 9, node: 'a' })
  assert.equal(c.now(T - 60_000), { wall: T, logical: 10, node: 'a' })
})

rules('logical overflow moves wall on by 1 ms instead of failing', () => {
  const c = new HybridClock({ node: 'a', maxDriftMs: DRIFT, last: { wall: T, logical: HLC_MAX_LOGICAL } })
  assert.equal(c.now(T), { wall: T + 1, logical: 0, node: 'a' })
  const d = new HybridClock({ node: 'b', maxDriftMs: DRIFT })
  const remote = { wall: T, logical: HLC_MAX_LOGICAL, node: 'a' }
  const got = d.receive(remote, T)
  assert.equal(got, { wall: T + 1, logical: 0, node: 'b' })
  assert.is(compareHlc(got, remote), 1)
})

rules('bad input is refused with InvalidInputError and leaves state alone', () => {
  expectThrows(() => new HybridClock({ node: '', maxDriftMs: DRIFT }), InvalidInputError)
  expectThrows(() => new HybridClock({ node: 'a', maxDriftMs: -1 }), InvalidInputError)
  expectThrows(() => new HybridClock({ node: 'a', maxDriftMs: DRIFT, last: { wall: -1, logical: 0 } }), InvalidInputError)
  const c = new HybridClock({ node: 'a', maxDriftMs: DRIFT })
  c.now(T)
  for (const w of [Number.NaN, -1, 1.5, HLC_MAX_WALL + 1]) expectThrows(() => c.now(w), InvalidInputError)
  expectThrows(() => c.receive({ wall: T, logical: HLC_MAX_LOGICAL + 1, node: 'x' }, T), InvalidInputError)
  expectThrows(() => c.receive({ wall: T, logical: -1, node: 'x' }, T), InvalidInputError)
  assert.equal(c.last, { wall: T, logical: 0, node: 'a' })
})

// ---------------------------------------------------------------------------------------------------------
const text = suite('hlc text form')

text('fixed width, round trips, refuses malformed text', () => {
  const h = { wall: T, logical: 42, node: 'peer-a' }
  assert.is(hlcToString(h), `0${T.toString(16)}-0000002a-peer-a`)
  assert.equal(parseHlc(hlcToString(h)), h)
  const edge = { wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL, node: 'n-with-dashes-' }
  assert.equal(parseHlc(hlcToString(edge)), edge)
  for (const bad of ['', 'x', `${'0'.repeat(12)}-${'0'.repeat(8)}-`, `${'0'.repeat(11)}-${'0'.repeat(8)}-a`, `${'G'.repeat(12)}-${'0'.repeat(8)}-a`, `${'0'.repeat(12)}-ffffffff-a`]) {
    expectThrows(() => parseHlc(bad), InvalidInputError)
  }
  expectThrows(() => hlcToString({ wall: HLC_MAX_WALL + 1, logical: 0, node: 'a' }), InvalidInputError)
  expectThrows(() => hlcToString({ wall: 0, logical: 0, node: '' }), InvalidInputError)
})

// ---------------------------------------------------------------------------------------------------------
const props = suite('HybridClock: seeded properties')

interface Sim { clock: HybridClock, skew: number, prev: Hlc | undefined, maxSeen: number }

/** Runs one random schedule; checks per-step properties and returns every time issued. */
function runSchedule (rng: Rng, steps: number): { issued: Hlc[], rejected: number } {
  const n = 2 + Math.floor(rng() * 4)
  const sims: Sim[] = Array.from({ length: n }, (_, i) => ({
    clock: new HybridClock({ node: `node-${i}`, maxDriftMs: DRIFT }),
    // Some clocks sit further from true time than the drift limit, so refusals happen.
    skew: Math.floor((rng() - 0.5) * 3 * DRIFT),
    prev: undefined,
    maxSeen: -1
  }))
  const issued: Hlc[] = []
  const inFlight: Hlc[] = []
  let trueTime = T
  let rejected = 0
  for (let step = 0; step < steps; step++) {
    trueTime += Math.floor(rng() * 5)
    const s = sims[Math.floor(rng() * n)]!
    // Jitter, including backwards jumps of up to 200 ms.
    const wall = Math.max(0, trueTime + s.skew - Math.floor(rng() * 200) * (rng() < 0.2 ? 1 : 0))
    let h: Hlc
    if (inFlight.length > 0 && rng() < 0.5) {
      const remote = inFlight[Math.floor(rng() * inFlight.length)]!
      if (remote.wall > wall + DRIFT) {
        const before = s.clock.last
        expectThrows(() => s.clock.receive(remote, wall), ClockDriftError)
        assert.equal(s.clock.last, before, 'a refused remote time leaves the clock unchanged')
        rejected++
        continue
      }
      h = s.clock.receive(remote, wall)
      assert.is(compareHlc(h, remote), 1, 'receive result is after the remote time')
      s.maxSeen = Math.max(s.maxSeen, wall, remote.wall)
    } else {
      h = s.clock.now(wall)
      s.maxSeen = Math.max(s.maxSeen, wall)
    }
    if (s.prev !== undefined) assert.is(compareHlc(h, s.prev), 1, 'each clock only moves forward')
    assert.ok(h.wall <= s.maxSeen, `wall ${h.wall} never exceeds what was seen (${s.maxSeen})`)
    assert.equal(s.clock.last, h)
    s.prev = h
    issued.push(h)
    if (rng() < 0.6) inFlight.push(h)
    if (inFlight.length > 32) inFlight.splice(Math.floor(rng() * inFlight.length), 1)
  }
  return { issued, rejected }
}

props('monotonic, after remote, drift refused without change, wall bounded (2000 schedules)', () => {
  const rng = seededRng(0x41c)
  let total = 0
  let rejected = 0
  for (let i = 0; i < 2000; i++) {
    const r = runSchedule(rng, 60)
    total += r.issued.length
    rejected += r.rejected
  }
  // Both branches must run often, or the schedule tests less than it claims.
  assert.ok(total > 50_000 && rejected > 1000, `issued ${total}, rejected ${rejected}`)
})

props('compareHlc is a total order that never ties distinct nodes; text sorts the same way', () => {
  const rng = seededRng(7)
  for (let round = 0; round < 50; round++) {
    const { issued } = runSchedule(rng, 200)
    // Add near-collisions: same (wall, logical), different nodes.
    const hs = issued.concat(issued.slice(0, 20).map(h => ({ ...h, node: `${h.node}x` })))
    for (let k = 0; k < 500; k++) {
      const a = hs[Math.floor(rng() * hs.length)]!
      const b = hs[Math.floor(rng() * hs.length)]!
      const c = hs[Math.floor(rng() * hs.length)]!
      assert.is(compareHlc(a, b), -compareHlc(b, a) || 0, 'antisymmetric')
      const same = a.wall === b.wall && a.logical === b.logical && a.node === b.node
      assert.is(compareHlc(a, b) === 0, same, 'zero exactly when equal')
      if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) assert.ok(compareHlc(a, c) <= 0, 'transitive')
    }
    const byOrder = hs.slice().sort(compareHlc)
    for (let i = 1; i < byOrder.length; i++) assert.ok(compareHlc(byOrder[i - 1]!, byOrder[i]!) <= 0)
    const byText = hs.map(hlcToString).sort()
    assert.equal(byText, byOrder.map(hlcToString), 'string order equals compareHlc order')
    assert.equal(byText.map(parseHlc), byOrder, 'round trip')
  }
})

rules.run()
text.run()
props.run()
