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


test('a restored data dir must learn its seq from peers: writes are refused until one answers, then continue a block above what it heard', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-seq-'))
  const file = join(dir, 'seq-reservation.json')
  try {
    assert.not.ok((await SeqReservation.open(dir)).mustLearn, 'a new node has nothing to learn')
    await SeqReservation.markRestored(dir)
    const r = await SeqReservation.open(dir)
    assert.ok(r.mustLearn)
    let answers: Record<string, number> | undefined
    let continuedAt: number | undefined
    const learning = new OwnSeqLearning({
      self: 'me',
      reservation: r,
      peersExpected: true,
      ownHighest: () => 3,
      digest: async () => answers,
      peers: () => ['p1', 'p2'],
      continueAt: async next => { continuedAt = next },
      logger: createLogger({ level: 'silent', format: 'json' })
    })
    assert.throws(() => { learning.guard() }, (err: Error & { code?: string }) => err.code === 'ERR_UNAVAILABLE' && /restored from a backup/.test(err.message))
    await learning.round()
    assert.ok(learning.learning, 'no peer answered: still learning')
    assert.is(continuedAt, undefined)
    answers = { me: 40, other: 900 }
    await learning.round()
    assert.not.ok(learning.learning)
    learning.guard()
    assert.is(continuedAt, 40 + SEQ_RESERVATION_BLOCK + 1, 'a block above the highest seq a peer holds')
    assert.equal(JSON.parse(await readFile(file, 'utf8')), { reserved: 40 + 2 * SEQ_RESERVATION_BLOCK + 1 })
    assert.not.ok((await SeqReservation.open(dir)).mustLearn, 'learned for good')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a restored node with nobody to ask (no bootstrap, no mDNS) continues a block above its own highest seq at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-seq-'))
  try {
    await SeqReservation.markRestored(dir)
    let continuedAt: number | undefined
    const learning = new OwnSeqLearning({
      self: 'me', reservation: await SeqReservation.open(dir), peersExpected: false, ownHighest: () => 7,
      digest: async () => undefined, peers: () => [], continueAt: async next => { continuedAt = next }, logger: createLogger({ level: 'silent', format: 'json' })
    })
    await learning.round()
    assert.not.ok(learning.learning)
    assert.is(continuedAt, 7 + SEQ_RESERVATION_BLOCK + 1)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
