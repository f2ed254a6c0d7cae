/** ClockOffsets: Cristian-style samples on the monotonic line, the swarm median with self as 0, jumps, ageing. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClockOffsets, ClockSkewError } from '../src/index.js'

const t = suite('clock-offsets')
const init = { maxAgeMs: 60_000, maxRttMs: 1_000 }

t('a peer whose clock reads 20 s ahead at the midpoint of the round trip is 20 s ahead of us', () => {
  const o = new ClockOffsets(init)
  // We send at mono 1000 and hear back at 1010; the peer read its wall at our wall time 5005 + 20 000.
  assert.ok(o.add('p', { sentMono: 1000, receivedMono: 1010, remoteWall: 25_005 }))
  // Our wall is mono + 4000 here: at mono 1010 our wall is 5010, the peer's about 25 010.
  assert.equal([...o.offsets(5010, 1010)], [['p', -20_000]])
})

t('the swarm offset is the median with ourselves as 0: one wrong peer does not move it, most peers do', () => {
  const o = new ClockOffsets(init)
  o.add('a', { sentMono: 0, receivedMono: 0, remoteWall: 0 })
  o.add('b', { sentMono: 0, receivedMono: 0, remoteWall: 0 })
  o.add('c', { sentMono: 0, receivedMono: 0, remoteWall: 30_000 })
  assert.equal(o.swarmOffset(0, 0), { offsetMs: 0, peers: 3 })
  const ahead = new ClockOffsets(init)
  for (const p of ['a', 'b', 'c']) ahead.add(p, { sentMono: 0, receivedMono: 0, remoteWall: -20_000 })
  assert.equal(ahead.swarmOffset(0, 0), { offsetMs: 20_000, peers: 3 })
  // Two nodes cannot tell who is wrong: each is half the difference off.
  const pair = new ClockOffsets(init)
  pair.add('x', { sentMono: 0, receivedMono: 0, remoteWall: -40_000 })
  assert.equal(pair.swarmOffset(0, 0), { offsetMs: 20_000, peers: 1 })
})

t('a jump of our own wall clock shows at once, with no new sample', () => {
  const o = new ClockOffsets(init)
  o.add('a', { sentMono: 100, receivedMono: 100, remoteWall: 1_000_100 })
  assert.is(o.swarmOffset(1_000_200, 200).offsetMs, 0)
  // Our wall clock steps 25 s forward between two reads 100 ms apart.
  assert.is(o.swarmOffset(1_025_300, 300).offsetMs, 12_500)
  o.add('b', { sentMono: 300, receivedMono: 300, remoteWall: 1_000_300 })
  assert.is(o.swarmOffset(1_025_300, 300).offsetMs, 25_000)
})

t('samples age out, and slow or malformed ones are refused', () => {
  const o = new ClockOffsets(init)
  assert.not.ok(o.add('slow', { sentMono: 0, receivedMono: 1_500, remoteWall: 0 }))
  assert.not.ok(o.add('bad', { sentMono: 5, receivedMono: 0, remoteWall: 0 }))
  assert.not.ok(o.add('nan', { sentMono: 0, receivedMono: 1, remoteWall: Number.NaN }))
  o.add('a', { sentMono: 0, receivedMono: 10, remoteWall: 99_999 })
  assert.is(o.swarmOffset(0, 60_011).peers, 0)
  assert.equal(o.swarmOffset(0, 60_011), { offsetMs: 0, peers: 0 })
})

t('ClockSkewError says which way, by how much, and what to do', () => {
  const e = new ClockSkewError({ offsetMs: 20_400, limitMs: 15_000, peers: 4 })
  assert.is(e.code, 'ERR_CLOCK_SKEW')
  assert.match(e.message, /20\.4 s ahead of the swarm's \(median of 4 peers\)/)
  assert.match(e.message, /NTP/)
  assert.match(new ClockSkewError({ offsetMs: -16_000, limitMs: 15_000, peers: 2 }).message, /behind/)
})

t.run()
