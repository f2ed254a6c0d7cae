/** SeqReservation against a real temp dir: concurrent cover() calls never lower the reservation or tear its file. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEQ_RESERVATION_BLOCK, SeqReservation } from '../src/events/seq-reservation.js'

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

test.run()
