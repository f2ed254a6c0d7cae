/**
 * SeqReservation against a real temp dir: concurrent cover() calls never lower the reservation or tear its file;
 * a restored data dir learns its last seq from peers before it publishes (OwnSeqLearning).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEQ_RESERVATION_BLOCK, SeqReservation } from '../src/events/seq-reservation.js'
import { OwnSeqLearning } from '../src/events/own-seq-learning.js'
import { createLogger } from '../src/logger.js'

test('concurrent covers: the highest one wins in memory and on disk, whatever order they finish in', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-seq-'))
  try {
    const r = await SeqReservation.open(dir)
    await Promise.all([r.cover(5), r.cover(20_000), r.cover(7), r.cover(3)])
    const top = 20_000 + SEQ_RESERVATION_BLOCK
    assert.is(r.highest, top)
    assert.equal(JSON.parse(await readFile(join(dir, 'seq-reservation.json'), 'utf8')), { reserved: top })
    assert.is((await SeqReservation.open(dir)).highest, top)
    // Within the reservation: no write at all.
    await r.cover(top)
    assert.is(r.highest, top)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})


/** An OwnSeqLearning over a restored temp dir, with peers whose digests the test sets. */
async function restored (o: { peersExpected?: boolean, peers?: string[] } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-seq-'))
  await SeqReservation.markRestored(dir)
  const reservation = await SeqReservation.open(dir)
  const state = { answers: new Map<string, Record<string, number>>(), own: 0, continuedAt: undefined as number | undefined }
  const learning = new OwnSeqLearning({
    self: 'me',
    reservation,
    peersExpected: o.peersExpected ?? true,
    ownHighest: () => state.own,
    digest: async peer => state.answers.get(peer),
    peers: () => o.peers ?? ['p1', 'p2', 'p3', 'p4'],
    continueAt: async next => { state.continuedAt = next },
    logger: createLogger({ level: 'silent', format: 'json' })
  })
  return { dir, reservation, learning, state, done: async () => { await rm(dir, { recursive: true, force: true }) } }
}

test('a restored data dir must learn its seq from peers: writes are refused until one answers, then continue a block above what it heard', async () => {
  const r = await restored()
  try {
    assert.ok(r.reservation.mustLearn)
    assert.throws(() => { r.learning.guard() }, (err: Error & { code?: string }) => err.code === 'ERR_UNAVAILABLE' && /restored from a backup/.test(err.message))
    await r.learning.round()
    assert.ok(r.learning.learning, 'no peer answered: still learning')
    r.state.answers.set('p2', { me: 40, other: 900 })
    await r.learning.round()
    assert.ok(r.learning.learning, 'its own events up to 40 have not come back yet: waits for the pulls')
    r.state.own = 40
    await r.learning.round()
    assert.not.ok(r.learning.learning)
    r.learning.guard()
    assert.is(r.state.continuedAt, 40 + SEQ_RESERVATION_BLOCK + 1, 'a block above the highest seq a peer holds')
    assert.equal(JSON.parse(await readFile(join(r.dir, 'seq-reservation.json'), 'utf8')), { reserved: 40 + 2 * SEQ_RESERVATION_BLOCK + 1 })
    assert.not.ok((await SeqReservation.open(r.dir)).mustLearn, 'learned for good')
    assert.not.ok((await SeqReservation.open(tmpdir())).mustLearn, 'a data dir without the mark has nothing to learn')
  } finally {
    await r.done()
  }
})

test('peers that do not list this origin end the learning only after 3 of them (or all live ones) over 3 rounds', async () => {
  const r = await restored()
  try {
    r.state.answers.set('p1', { other: 5 })
    r.state.answers.set('p2', { other: 5 })
    await r.learning.round()
    await r.learning.round()
    await r.learning.round()
    assert.ok(r.learning.learning, 'two silent peers of four live ones are not enough')
    r.state.answers.set('p3', {})
    await r.learning.round()
    assert.not.ok(r.learning.learning)
    assert.is(r.state.continuedAt, SEQ_RESERVATION_BLOCK + 1)
  } finally {
    await r.done()
  }
  const two = await restored({ peers: ['p1'] })
  try {
    two.state.answers.set('p1', {})
    await two.learning.round()
    assert.ok(two.learning.learning, 'one round is not enough')
    await two.learning.round()
    await two.learning.round()
    assert.not.ok(two.learning.learning, 'the only live peer, silent over 3 rounds')
  } finally {
    await two.done()
  }
})

test('own events that do not come back within 10 rounds do not hold the node forever; nobody to ask: at once', async () => {
  const r = await restored()
  try {
    r.state.answers.set('p1', { me: 12 })
    for (let i = 0; i < 10; i++) await r.learning.round()
    assert.ok(r.learning.learning)
    await r.learning.round()
    assert.not.ok(r.learning.learning)
    assert.is(r.state.continuedAt, 12 + SEQ_RESERVATION_BLOCK + 1)
  } finally {
    await r.done()
  }
  const alone = await restored({ peersExpected: false, peers: [] })
  try {
    alone.state.own = 7
    await alone.learning.round()
    assert.not.ok(alone.learning.learning)
    assert.is(alone.state.continuedAt, 7 + SEQ_RESERVATION_BLOCK + 1)
  } finally {
    await alone.done()
  }
})

test.run()
