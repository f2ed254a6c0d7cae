/**
 * The @libp2p/utils patch (docs/decisions/0028-no-thrown-error-per-received-chunk.md). Its LengthPrefixedDecoder
 * frames what a Noise connection (2-byte lengths) and Shoal's request channels (varint lengths) receive. Unpatched,
 * after the last whole frame of a chunk it asks the length decoder to read an empty buffer, which throws a
 * RangeError that the decoder catches to wait for more bytes: an Error and its stack trace per received chunk.
 * Patched, it stops at an empty buffer; a length prefix split across chunks still waits the same way, and a
 * length decoder's own errors (the channels' size cap) still fail the decode.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import * as varint from 'uint8-varint'

/** Noise's length prefix (2 bytes, big-endian), counting the reads that throw for too few bytes. */
function uint16Lengths (): { decoder: ((data: Uint8ArrayList) => number) & { bytes: number }, shortReads: () => number } {
  let short = 0
  const decoder = Object.assign((data: Uint8ArrayList): number => {
    if (data.byteLength < 2) { short++; throw new RangeError('Could not decode int16BE') }
    return data.getUint16(0)
  }, { bytes: 2 })
  return { decoder, shortReads: () => short }
}

function frame (payload: number[]): Uint8Array {
  return Uint8Array.from([payload.length >> 8, payload.length & 0xff, ...payload])
}

test('chunks that end on a frame boundary never make the length decoder throw', () => {
  const { decoder, shortReads } = uint16Lengths()
  const lp = new LengthPrefixedDecoder({ lengthDecoder: decoder, encodingLength: () => 2 })
  const got: number[][] = []
  for (let i = 0; i < 100; i++) {
    // One frame per chunk, and now and then two in one chunk.
    const chunk = i % 10 === 0 ? Uint8Array.from([...frame([i, 1]), ...frame([i, 2])]) : frame([i])
    for (const data of lp.decode(chunk)) got.push([...data.subarray()])
  }
  assert.is(got.length, 110)
  assert.equal(got.slice(0, 3), [[0, 1], [0, 2], [1]])
  assert.is(shortReads(), 0, 'length reads of too few bytes (unpatched: one per chunk, 100)')
})

test('a length prefix split across chunks still waits for its second byte', () => {
  const { decoder, shortReads } = uint16Lengths()
  const lp = new LengthPrefixedDecoder({ lengthDecoder: decoder, encodingLength: () => 2 })
  const whole = frame([7, 8, 9])
  assert.equal([...lp.decode(whole.subarray(0, 1))], [])
  assert.is(shortReads(), 1)
  const out = [...lp.decode(whole.subarray(1))].map(d => [...d.subarray()])
  assert.equal(out, [[7, 8, 9]])
})

test('varint lengths with a cap, as the request channels decode them, split or whole, decode the same', () => {
  // channels.ts's decoder: uint8-varint, then its own size cap.
  const lp = new LengthPrefixedDecoder({
    lengthDecoder: (buf: Uint8ArrayList) => {
      const length = varint.decode(buf)
      if (length > 1000) throw new Error(`channel frame of ${length} bytes exceeds 1000`)
      return length
    }
  })
  const payload = new Uint8Array(300).fill(5)
  // 300 as a varint is 0xac 0x02: the first chunk ends inside the length prefix.
  assert.equal([...lp.decode(Uint8Array.from([0xac]))], [])
  const out = [...lp.decode(Uint8Array.from([0x02, ...payload, 0x01, 0x09]))].map(d => d.byteLength)
  assert.equal(out, [300, 1])
  assert.throws(() => [...lp.decode(Uint8Array.from([0xe9, 0x07]))], /exceeds 1000/, 'a length over the cap still fails')
})

test.run()
