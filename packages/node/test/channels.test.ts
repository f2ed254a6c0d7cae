/**
 * Request channels (channels.ts, docs/protocols/channels.md, decisions/0014): many requests of one protocol over
 * one long-lived stream per peer, replies in any order, failures and deadlines per request, and the one-shot
 * framing for a peer that does not speak channels. Two real libp2p nodes (the daemon's stack, memory transport).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig, silentLogger } from '@shoal/core'
import { buildLibp2p, CHANNEL_PROTOCOL, DenyList, handleRequests, requestFrame, swarmProtocols } from '../src/index.js'
import type { ShoalLibp2p } from '../src/libp2p.js'
import { unhandleRequests } from '../src/frames.js'

const protocols = swarmProtocols('channels-test')
const ECHO = '/shoal/channels-test/echo/1.0.0'
let dir: string
let a: ShoalLibp2p
let b: ShoalLibp2p
let run = 0
/** Requests b's handler has begun in this test. */
let handling = 0

async function node (name: string): Promise<ShoalLibp2p> {
  const config = resolveConfig({ defaultDataDir: dir, flags: { listen: [`/memory/${name}-${process.pid}-${run}`] } })
  return await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), config, protocols, denyList: new DenyList(), transport: 'memory', topics: [] })
}

/** Streams of `protocol` between a and b, as a sees them. */
function streams (protocol: string): number {
  return a.getConnections(b.peerId).flatMap(c => c.streams).filter(s => s.protocol === protocol).length
}

async function ask (message: unknown, timeoutMs = 5000, maxBytes?: number): Promise<any> {
  return await requestFrame(a, b.peerId, ECHO, message, { signal: AbortSignal.timeout(timeoutMs), ...(maxBytes !== undefined ? { maxBytes } : {}) })
}

test.before.each(async () => {
  run++
  dir = await mkdtemp(join(tmpdir(), 'shoal-channels-'))
  a = await node('a')
  b = await node('b')
  handling = 0
  await handleRequests(b, ECHO, async (msg: any) => {
    handling++
    if (msg.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, msg.delayMs))
    if (msg.fail !== undefined) throw new Error(msg.fail)
    if (msg.pad !== undefined) return { pad: 'x'.repeat(msg.pad) }
    return { echo: msg.n }
  }, { logger: silentLogger, timeoutMs: 10_000, maxInboundStreams: 8 })
  await a.dial(b.getMultiaddrs()[0]!)
})

test.after.each(async () => {
  await a.stop()
  await b.stop()
  await rm(dir, { recursive: true, force: true })
})

test('fifty requests, sequential and concurrent, share one stream', async () => {
  for (let n = 0; n < 25; n++) assert.equal(await ask({ n }), { echo: n })
  const replies = await Promise.all(Array.from({ length: 25 }, async (_, n) => await ask({ n })))
  assert.equal(replies, Array.from({ length: 25 }, (_, n) => ({ echo: n })))
  assert.is(streams(CHANNEL_PROTOCOL), 1, 'one channel stream')
  assert.is(streams(ECHO), 0, 'no one-shot stream')
})

test('replies come back in any order, each to its own request', async () => {
  const order: number[] = []
  const slow = ask({ n: 1, delayMs: 300 }).then(r => { order.push(1); return r })
  const fast = ask({ n: 2 }).then(r => { order.push(2); return r })
  assert.equal(await Promise.all([slow, fast]), [{ echo: 1 }, { echo: 2 }])
  assert.equal(order, [2, 1], 'the fast reply was not held behind the slow one')
})

test("a handler's failure fails that request only, with its message", async () => {
  try {
    await ask({ fail: 'no such thing' })
    assert.unreachable('should have failed')
  } catch (err) {
    assert.match((err as Error).message, /no such thing/)
  }
  assert.equal(await ask({ n: 7 }), { echo: 7 })
  assert.is(streams(CHANNEL_PROTOCOL), 1, 'the channel survived the failure')
})

test('a request past its deadline fails alone; its late reply is dropped', async () => {
  const started = Date.now()
  try {
    await ask({ n: 1, delayMs: 1000 }, 200)
    assert.unreachable('should have timed out')
  } catch (err) {
    assert.ok(Date.now() - started < 900, 'failed at its own deadline, not at the reply')
  }
  assert.equal(await ask({ n: 2 }), { echo: 2 })
  await new Promise(resolve => setTimeout(resolve, 1000)) // the late reply arrives now; nothing waits for it
  assert.equal(await ask({ n: 3 }), { echo: 3 })
  assert.is(streams(CHANNEL_PROTOCOL), 1)
})

test('a protocol the peer does not serve is refused with a clear error', async () => {
  try {
    await requestFrame(a, b.peerId, '/shoal/channels-test/nothing/1.0.0', { n: 1 }, { signal: AbortSignal.timeout(5000) })
    assert.unreachable('should have failed')
  } catch (err) {
    assert.match((err as Error).message, /does not serve this protocol/)
  }
  assert.equal(await ask({ n: 1 }), { echo: 1 }, 'other protocols still work')
})

test('a first request longer than any hello, sent right behind the hello, is served', async () => {
  assert.equal(await ask({ n: 1, big: 'x'.repeat(5000) }), { echo: 1 })
  assert.is(streams(CHANNEL_PROTOCOL), 1)
})

test("a request over its service's cap cuts that channel off, and only that one", async () => {
  const SMALL = '/shoal/channels-test/small/1.0.0'
  await handleRequests(b, SMALL, async () => ({ ok: true }), { logger: silentLogger, timeoutMs: 5000, maxBytes: 1024 })
  const small = async (size: number): Promise<unknown> => await requestFrame(a, b.peerId, SMALL, { pad: 'x'.repeat(size) }, { signal: AbortSignal.timeout(5000) })
  assert.equal(await small(10), { ok: true })
  assert.equal(await ask({ n: 1 }), { echo: 1 })
  try {
    await small(5000)
    assert.unreachable('should have failed')
  } catch (err) {
    assert.ok(err instanceof Error)
  }
  assert.equal(await ask({ n: 2 }), { echo: 2 }, 'the other protocol\'s channel is untouched')
  assert.equal(await small(10), { ok: true }, 'a new channel serves the next request')
})

test('a reply larger than the request allows fails it, and the channel goes on', async () => {
  try {
    await ask({ pad: 5000 }, 5000, 1024)
    assert.unreachable('should have failed')
  } catch (err) {
    assert.match((err as Error).message, /exceeds 1024/)
  }
  assert.equal(await ask({ n: 1 }), { echo: 1 })
})

test("more requests at once than the service allows are refused, not queued without bound", async () => {
  const results = await Promise.allSettled(Array.from({ length: 12 }, async (_, n) => await ask({ n, delayMs: 300 })))
  const refused = results.filter(r => r.status === 'rejected')
  assert.is(refused.length, 4, 'maxInboundStreams 8: four of twelve refused')
  assert.match(String((refused[0] as PromiseRejectedResult).reason), /more than 8 requests in flight/)
})

test('a channel the peer resets fails its pending requests at once, and the next request opens a new one', async () => {
  const pending = ask({ n: 1, delayMs: 3000 })
  // Reset once b's handler runs the request (polled, 5 s deadline).
  const deadline = Date.now() + 5000
  while (handling === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  assert.is(handling, 1, 'b is handling the request')
  const channels = b.getConnections(a.peerId).flatMap(c => c.streams).filter(s => s.protocol === CHANNEL_PROTOCOL)
  assert.is(channels.length, 1, 'over one channel')
  const started = Date.now()
  for (const s of channels) s.abort(new Error('test reset'))
  const outcome = await pending.then(() => 'answered', () => 'failed')
  assert.is(outcome, 'failed', 'the reset failed the pending request')
  assert.ok(Date.now() - started < 2000, 'failed on the reset, not at the deadline')
  assert.equal(await ask({ n: 2 }), { echo: 2 })
  assert.is(streams(CHANNEL_PROTOCOL), 1)
})

test('a peer without channels (an earlier release) is asked over one stream per request', async () => {
  await b.unhandle(CHANNEL_PROTOCOL)
  for (let n = 0; n < 3; n++) assert.equal(await ask({ n }), { echo: n })
  assert.is(streams(CHANNEL_PROTOCOL), 0)
})

test('a stopped service refuses new requests on an open channel', async () => {
  assert.equal(await ask({ n: 1 }), { echo: 1 })
  await unhandleRequests(b, ECHO)
  try {
    await ask({ n: 2 })
    assert.unreachable('should have failed')
  } catch (err) {
    assert.ok(err instanceof Error)
  }
})

test.run()
