/**
 * Rendezvous hashing: deterministic, balanced (each of n members ranks first for about 1/n of keys), and minimal
 * disruption (removing a member moves only the keys it ranked first). Seeded random member sets and keys.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { seededRng, shuffled } from '../src/rng.js'
import { rank } from '../src/tasks/rendezvous.js'

const KEYS = 10_000
const t = suite('tasks rendezvous')

t('deterministic and independent of input order; duplicates dropped', () => {
  const rng = seededRng(7)
  const ids = Array.from({ length: 8 }, (_, i) => `peer-${i}`)
  for (let k = 0; k < 100; k++) {
    const key = `job/${k}`
    const want = rank(key, ids)
    assert.equal(rank(key, shuffled(ids, rng)), want)
    assert.equal(rank(key, [...ids, ...ids]), want)
    assert.equal([...want].sort(), [...ids].sort())
  }
  assert.equal(rank('k', []), [])
})

t('each member ranks first for roughly 1/n of 10k keys', () => {
  for (const n of [2, 5, 10]) {
    const ids = Array.from({ length: n }, (_, i) => `12D3Koo${i}`)
    const firsts = new Map<string, number>()
    for (let k = 0; k < KEYS; k++) {
      const first = rank(`${k.toString(16).padStart(32, '0')}/${k % 7}`, ids)[0]!
      firsts.set(first, (firsts.get(first) ?? 0) + 1)
    }
    const expected = KEYS / n
    for (const id of ids) {
      const got = firsts.get(id) ?? 0
      assert.ok(Math.abs(got - expected) < expected * 0.15, `n=${n} ${id}: ${got} vs ~${expected}`)
    }
  }
})

t('removing a member moves only its own keys; the rest keep their relative order (seeded property)', () => {
  const rng = seededRng(42)
  for (let round = 0; round < 20; round++) {
    const n = 2 + Math.floor(rng() * 9)
    const ids = Array.from({ length: n }, () => `p${Math.floor(rng() * 1e9).toString(36)}`)
    const gone = ids[Math.floor(rng() * ids.length)]!
    const rest = ids.filter(id => id !== gone)
    for (let k = 0; k < KEYS / 20; k++) {
      const key = `${round}-${Math.floor(rng() * 1e12)}`
      const before = rank(key, ids)
      const after = rank(key, rest)
      assert.equal(after, before.filter(id => id !== gone))
      if (before[0] !== gone) assert.is(after[0], before[0])
    }
  }
})

t.run()
