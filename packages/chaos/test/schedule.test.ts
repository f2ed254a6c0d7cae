/** The nemesis schedule is a pure function of its seed, covers the selected kinds, and respects its bounds; the CLI parser names bad flags. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { baseClockOffsets, generateSchedule, parseChaosArgs } from '../src/index.js'
import type { FaultKind } from '../src/index.js'

const ALL: FaultKind[] = ['kill', 'pause', 'partition', 'skew', 'disk', 'wipe']
const base = { nodes: 5, durationMs: 600_000, faults: ALL, suspicionMs: 3000, jobNode: 2 }

const schedule = suite('schedule')
schedule('same seed, same schedule; another seed, another schedule', () => {
  assert.equal(generateSchedule({ ...base, seed: 7 }), generateSchedule({ ...base, seed: 7 }))
  assert.not.equal(generateSchedule({ ...base, seed: 7 }), generateSchedule({ ...base, seed: 8 }))
})
schedule('faults run one at a time inside the run, each kind appears, pauses stay under twice the suspicion timeout', () => {
  const s = generateSchedule({ ...base, seed: 42 })
  for (let i = 1; i < s.length; i++) assert.ok(s[i]!.at >= s[i - 1]!.at + s[i - 1]!.durationMs, 'sequential')
  assert.ok(s[s.length - 1]!.at + s[s.length - 1]!.durationMs <= base.durationMs)
  for (const k of ALL) assert.ok(s.some(f => f.kind === k), `kind ${k} scheduled`)
  for (const f of s.filter(f => f.kind === 'pause')) assert.ok(f.durationMs <= 6000)
  for (const f of s) for (const n of f.nodes) assert.ok(n >= 1 && n <= 5)
  const shapes = new Set(s.filter(f => f.kind === 'partition').map(f => f.shape))
  assert.equal([...shapes].sort(), ['bridge', 'isolate', 'majority-minority'])
  assert.ok(s.filter(f => f.kind === 'kill').some(f => f.nodes[0] === 2), 'the job node gets killed')
})
schedule('a short run opens with every selected kind once and a partition of each shape', () => {
  // CI's run: 75 s (test/chaos.test.ts). Not every seed fits the round in 75 s (915 and 1840 of 1..2000 do not).
  for (const seed of [1, 2026, 77]) {
    const s = generateSchedule({ ...base, seed, durationMs: 75_000 })
    const firstRound = s.slice(0, ALL.length + 2)
    assert.equal(firstRound.filter(f => f.kind === 'partition').map(f => f.shape).sort(), ['bridge', 'isolate', 'majority-minority'], `seed ${seed}`)
    for (const k of ALL) assert.ok(firstRound.some(f => f.kind === k), `seed ${seed}: kind ${k} in the first round`)
  }
  const two = generateSchedule({ ...base, seed: 5, faults: ['kill', 'skew'] }).slice(0, 2).map(f => f.kind).sort()
  assert.equal(two, ['kill', 'skew'])
})
schedule('only the selected kinds', () => {
  const s = generateSchedule({ ...base, seed: 1, faults: ['pause'] })
  assert.ok(s.length > 10)
  assert.ok(s.every(f => f.kind === 'pause'))
  assert.equal(generateSchedule({ ...base, seed: 1, faults: [] }), [])
})

schedule('fixed clock offsets: seeded, whole seconds, within the bound', () => {
  const a = baseClockOffsets(3, 7, 1250)
  assert.equal(a, baseClockOffsets(3, 7, 1250))
  assert.equal(Object.keys(a).map(Number), [1, 2, 3, 4, 5, 6, 7])
  for (const ms of Object.values(a)) assert.ok([-1000, 0, 1000].includes(ms), String(ms))
})

const args = suite('chaos args')
args('defaults and explicit values', () => {
  const d = parseChaosArgs([], () => 123)
  assert.is(d.nodes, 7); assert.is(d.durationMs, 600_000); assert.is(d.seed, 123); assert.equal(d.faults, ALL)
  const o = parseChaosArgs(['--nodes', '5', '--duration', '90s', '--seed', '9', '--faults', 'kill,skew'])
  assert.is(o.nodes, 5); assert.is(o.durationMs, 90_000); assert.is(o.seed, 9); assert.equal(o.faults, ['kill', 'skew'])
})
args('bad values name the flag', () => {
  assert.throws(() => parseChaosArgs(['--faults', 'kill,flood']), /--faults: unknown kind 'flood'/)
  assert.throws(() => parseChaosArgs(['--nodes', '2']), /--nodes/)
  assert.throws(() => parseChaosArgs(['--duration', 'soon']), /--duration/)
})

schedule.run()
args.run()
