/**
 * The checks every incoming gossip message pays for, before and after they moved to the schema kit (issue 13):
 * the envelope header, then the event (classifyEvent: shape, patterns, bounds, payload size, JSON text). The
 * baseline is the hand-made code they replaced (legacy-wire-checks.ts, a frozen copy), measured in the same run.
 *
 * Method: each case first runs WARMUP times (the JIT settles, TypeBox compiles its checker once), then ROUNDS
 * rounds in which the baseline and Shoal's check alternate, each timed over at least MIN_MS; the table gives the
 * median of the rounds in ns per check. Alternating keeps load from other processes on a shared machine from
 * landing on one side only. Prints one Markdown section.
 */
import { performance } from 'node:perf_hooks'
import { EnvelopeCodec, classifyEvent, validateEvent } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'
import { DATA_BYTES, SMOKE, log } from './common.js'
import { legacyClassifyEvent, legacyEnvelopeHeader, legacyValidateEvent } from './legacy-wire-checks.js'
import { median, ratio, table } from './stats.js'

const WARMUP = SMOKE ? 2_000 : 50_000
const ROUNDS = SMOKE ? 3 : 15
const MIN_MS = SMOKE ? 5 : 100

const limits = { maxPayloadBytes: 65_536 }
const data = JSON.stringify({ run: 'bench', n: 1, t: 1_700_000_000_000, pad: 'x'.repeat(DATA_BYTES - 50) })
const event: ShoalEvent = {
  v: 1, type: 'user', topic: 'orders/eu', origin: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf', seq: 42_117,
  hlc: { wall: 1_700_000_000_000, logical: 3 }, trace: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  data, sig: 'c2lnbmF0dXJl'.repeat(7)
}
const badTopic = { ...event, topic: 'orders eu' }
const codec = new EnvelopeCodec<unknown>({ maxBytes: 1 << 20, validators: { 'events.event': p => p } })
const wire = new TextEncoder().encode(JSON.stringify({ v: 1, type: 'events.event', sentAt: 1_700_000_000_000, payload: event }))
const decoder = new TextDecoder('utf-8', { fatal: true })

/** ns per call of `fn`, over as many calls as fill MIN_MS. */
function time (fn: () => unknown): number {
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < MIN_MS) {
    for (let i = 0; i < 1000; i++) fn()
    n += 1000
    t = performance.now()
  }
  return (t - t0) * 1e6 / n
}

function compare (baseline: () => unknown, shoal: () => unknown): { baseline: number, shoal: number } {
  for (let i = 0; i < WARMUP; i++) { baseline(); shoal() }
  const b: number[] = []
  const s: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    b.push(time(baseline))
    s.push(time(shoal))
  }
  return { baseline: median(b), shoal: median(s) }
}

const expectThrow = (fn: () => unknown) => (): unknown => {
  try { fn() } catch (err) { return err }
  throw new Error('expected the check to refuse the input')
}

const cases: Array<[string, () => unknown, () => unknown]> = [
  ['event, valid (validateEvent)', () => legacyValidateEvent(event, limits), () => validateEvent(event, limits)],
  ['event, valid (classifyEvent)', () => legacyClassifyEvent(event, limits), () => classifyEvent(event, limits)],
  ['event, bad topic, with message', expectThrow(() => legacyValidateEvent(badTopic, limits)), expectThrow(() => validateEvent(badTopic, limits))],
  ['gossip envelope of an event: bytes to payload', () => legacyEnvelopeHeader(JSON.parse(decoder.decode(wire))), () => codec.decode(wire)],
  ['whole receive check: envelope + classifyEvent', () => legacyClassifyEvent(legacyEnvelopeHeader(JSON.parse(decoder.decode(wire))).payload, limits), () => {
    const r = codec.decode(wire)
    return r.ok ? classifyEvent(r.envelope.payload, limits) : r
  }]
]

const rows: string[][] = []
for (const [name, baseline, shoal] of cases) {
  log(`wire-checks: ${name}`)
  const r = compare(baseline, shoal)
  rows.push([name, `${Math.round(r.shoal).toLocaleString('en-US')} ns`, `${Math.round(r.baseline).toLocaleString('en-US')} ns`, ratio(r.shoal, r.baseline)])
}

console.log(`## Wire-message checks: schema kit vs the hand-made checks it replaced${SMOKE ? ' (smoke)' : ''}

An event of ${data.length} bytes of data with a trace, as gossip delivers it. Median of ${ROUNDS} alternating rounds of at
least ${MIN_MS} ms each after ${WARMUP.toLocaleString('en-US')} warm-up calls; ns per check on one core.

${table(['check', 'Shoal (schema kit)', 'baseline (old hand-made checks)', 'Shoal / baseline'], rows)}
`)
