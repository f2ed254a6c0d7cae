import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createWsClient, RpcConnectionError, RpcError, type WsClient } from '../src/index.js'
import { rpc, TOKEN } from './fixtures.js'
import { closed, collect, next, rawConnect, startWsServer, until, type Started, type WsHarness } from './ws-fixtures.js'

const test = suite('ws')

let h: WsHarness
const clients: WsClient[] = []
test.before.each(async () => { h = await startWsServer() })
test.after.each(async () => {
  for (const c of clients.splice(0)) await c.close()
  await h.server.stop()
})

async function client (): Promise<WsClient> {
  const c = await createWsClient({ url: h.wsUrl, token: TOKEN })
  clients.push(c)
  return c
}

function startedCount (): { count: number } {
  const seen = { count: 0 }
  h.ctx.bus.on('started', () => { seen.count++ })
  return seen
}

test('auth by Authorization header; a method call and a batch work as over HTTP', async () => {
  const c = await client()
  assert.equal(await c.call('echo', { message: 'hi' }), { message: 'hi' })
  const err: any = await c.call('missing', { key: 'k' }).catch(e => e)
  assert.instance(err, RpcError)
  assert.is(err.code, -32004)
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  const got = collect(ws)
  ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'add', params: { a: 1, b: 2 } }, { jsonrpc: '2.0', id: 2, method: 'nope' }]))
  ws.send('{not json')
  await until(() => got.length === 2, 'two answers')
  // Messages are handled concurrently, so their answers may come in either order.
  assert.equal(got.find(Array.isArray), [{ jsonrpc: '2.0', id: 1, result: 3 }, { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found: nope' } }])
  assert.is(got.find(m => !Array.isArray(m)).error.code, -32700)
  ws.close()
})

test('auth by subprotocol (browsers): shoal-rpc is selected, the token is never echoed', async () => {
  const { ws, status } = await rawConnect(h.wsUrl, { protocols: ['shoal-rpc', `bearer.${TOKEN}`] })
  assert.is(status, undefined)
  assert.is(ws.protocol, 'shoal-rpc')
  const got = collect(ws)
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'echo', params: { message: 'browser' } }))
  await until(() => got.length === 1, 'answer')
  assert.equal(got[0], { jsonrpc: '2.0', id: 'a', result: { message: 'browser' } })
  ws.close()
})

test('401 without or with a wrong token, before the upgrade; nothing runs', async () => {
  const seen = startedCount()
  const attempts = [
    {},
    { headers: { authorization: 'Bearer wrong' } },
    { headers: { authorization: TOKEN } },
    { protocols: ['shoal-rpc', 'bearer.wrong'] },
    { protocols: [`bearer.${TOKEN}`] } // the token alone, without the protocol it authenticates
  ]
  for (const opts of attempts) assert.is((await rawConnect(h.wsUrl, opts)).status, 401, JSON.stringify(opts))
  const err = await createWsClient({ url: h.wsUrl, token: 'wrong' }).catch(e => e)
  assert.instance(err, RpcError)
  assert.is(err.code, -32006)
  assert.is(seen.count, 0)
  assert.equal(h.ctx.calls, [])
})

test('subscribe: notifications in order, unsubscribe stops them and aborts the producer', async () => {
  const c = await client()
  const got: number[] = []
  const started = next<Started>(h.ctx.bus, 'started')
  const sub = await c.subscribe<{ n: number }>('ticker', { count: 50 }, { onNotification: x => { got.push(x.n) } })
  assert.type(sub.id, 'string')
  const { signal, sink } = await started
  await until(() => got.length === 50, '50 notifications')
  assert.equal(got, Array.from({ length: 50 }, (_, i) => i + 1))
  assert.ok(sink.send({ n: 51 }))
  await until(() => got.length === 51, 'the 51st')
  const aborted = next(h.ctx.bus, 'aborted')
  await sub.unsubscribe()
  await aborted
  assert.ok(signal.aborted)
  assert.is(sink.send({ n: 52 }), false, 'send after unsubscribe is refused')
  await c.call('echo', { message: 'after' }) // anything sent before this answer would have arrived by now
  assert.is(got.length, 51)
  assert.is(await c.call('rpc.unsubscribe', { subscription: sub.id }), false, 'unknown id')
})

test('a subscriber-ended subscription sends one error notification with the mapped code', async () => {
  const c = await client()
  for (const viaThrow of [false, true]) {
    const got: unknown[] = []
    const ended = new Promise<RpcError>(resolve => {
      void c.subscribe('compacted', { viaThrow }, { onNotification: x => { got.push(x) }, onError: e => { resolve(e as RpcError) } })
    })
    const aborted = next(h.ctx.bus, 'aborted')
    const err = await ended
    assert.instance(err, RpcError)
    assert.is(err.code, -32010)
    assert.is(err.message, 'cursor 3 is below the compacted LSN 5')
    assert.equal(err.data, { compactedBelow: 5, code: 'ERR_COMPACTED' })
    assert.equal(got, [{ n: 1 }])
    await aborted
  }
  assert.equal(h.internal, [])
})

test('slow consumer: bounded queue, subscription ends with -32011, socket closed with 1008', async () => {
  await h.server.stop()
  const limit = 1024 * 1024
  const size = 64 * 1024
  h = await startWsServer({ websocket: { maxBufferedBytes: limit } })
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  ws.pause() // stops reading the socket: the kernel buffers fill, then the server's queue grows
  const aborted = next<{ reason: RpcError }>(h.ctx.bus, 'aborted', 20_000)
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'firehose', params: { size } }))
  const { reason } = await aborted
  assert.is(reason.code, -32011)
  assert.ok(h.ctx.firehoseSent > limit / size, `sent ${h.ctx.firehoseSent}`)
  // One notification (plus the small error notification and close frame) past the cap, never more.
  assert.ok(h.ctx.maxBuffered <= limit + size + 1024, `max queued ${h.ctx.maxBuffered}`)
  const got = collect(ws)
  const close = closed(ws)
  ws.resume()
  assert.equal(await close, { code: 1008, reason: 'slow consumer' })
  assert.equal(got[0], { jsonrpc: '2.0', id: 1, result: { subscription: '1' } })
  assert.equal(got.at(-1), { jsonrpc: '2.0', method: 'firehose', params: { subscription: '1', error: { code: -32011, message: 'slow consumer' } } })
  assert.ok(got.slice(1, -1).every((m, i) => m.params.result.n === i + 1), 'in order, none lost before the drop')
})

test('slow consumer: the server cuts the socket of a client that stopped reading, freeing its queue', async () => {
  await h.server.stop()
  const limit = 1024 * 1024
  h = await startWsServer({ websocket: { maxBufferedBytes: limit, heartbeatMs: 600_000 } })
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  ws.pause() // never reads again: it cannot finish the closing handshake, so only the server can free the socket
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'firehose', params: { size: 64 * 1024 } }))
  await until(() => h.server.wsStats().slowConsumersDropped === 1, 'the drop', 20_000)
  const t0 = Date.now()
  await until(() => h.server.wsStats().connections === 0, 'the server to cut the socket', 10_000)
  assert.ok(Date.now() - t0 < 5_000 + 1_000, `cut after ${Date.now() - t0} ms`)
  assert.equal(h.server.wsStats(), { connections: 0, queuedBytes: 0, maxQueuedBytes: 0, slowConsumersDropped: 1 })
  ws.terminate()
})

test('slow consumer: a client that takes nothing for stallMs is dropped although a paced producer keeps its queue under the cap', async () => {
  await h.server.stop()
  const highWater = 256 * 1024
  const size = 32 * 1024
  h = await startWsServer({ websocket: { maxBufferedBytes: 8 * 1024 * 1024, stallMs: 300, heartbeatMs: 600_000 } })
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  ws.pause()
  const aborted = next<{ name: string, reason: RpcError }>(h.ctx.bus, 'aborted', 20_000)
  aborted.catch(() => {})
  const t0 = Date.now()
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'paced', params: { size, highWater } }))
  const { reason } = await aborted
  assert.is(reason.code, -32011)
  assert.ok(h.ctx.maxBuffered <= highWater + size + 1024, `max queued ${h.ctx.maxBuffered}`)
  await until(() => h.server.wsStats().connections === 0, 'the server to cut the socket', 10_000)
  assert.ok(Date.now() - t0 < 300 + 5_000 + 2_000, `cut after ${Date.now() - t0} ms`)
  assert.is(h.server.wsStats().slowConsumersDropped, 1)
  ws.terminate()
})

test('slow consumer: a subscriber giving up with -32011 drops the whole socket, not only its subscription', async () => {
  await h.server.stop()
  h = await startWsServer({ websocket: { stallMs: 600_000, heartbeatMs: 600_000 } })
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  const got = collect(ws)
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ticker', params: { count: 0 } }))
  await until(() => got.length === 1, 'the ticker subscription')
  ws.pause()
  const closes = closed(ws, 15_000)
  closes.catch(() => {}) // awaited below; a failure before then must fail this test, not the process
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'paced', params: { size: 64 * 1024, highWater: 128 * 1024, giveUpMs: 200 } }))
  await until(() => h.server.wsStats().slowConsumersDropped === 1, 'the drop', 20_000)
  await until(() => h.server.wsStats().connections === 0, 'the server to cut the socket', 10_000)
  ws.resume()
  const { code } = await closes
  // The close frame was queued behind the backlog; the cut may come first, then the client sees 1006.
  assert.ok(code === 1008 || code === 1006, `close code ${code}`)
  const errors = got.filter(m => m.params?.error !== undefined).map(m => m.params.subscription).sort()
  assert.ok(errors.every(id => id === '1' || id === '2'), JSON.stringify(errors))
})

test('memory per socket: requests being handled are bounded in bytes, not only in count', async () => {
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  // 12 requests of ~1 MiB (padded with whitespace, still valid JSON) to a method that waits until aborted.
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'slow', params: {} })
  const padded = body + ' '.repeat(1024 * 1024 - 1024 - body.length)
  for (let i = 0; i < 12; i++) ws.send(padded)
  const inflightCap = 8 * 1024 * 1024
  const expected = Math.ceil(inflightCap / Buffer.byteLength(padded))
  await until(() => h.ctx.calls.length >= expected, `${expected} calls started`)
  await new Promise(resolve => setTimeout(resolve, 300)) // room for more to start, if the bound did not hold
  assert.is(h.ctx.calls.length, expected, 'the socket is not read while 8 MiB of requests are being handled')
  ws.terminate()
})

test('a socket that stops answering pings is cut', async () => {
  await h.server.stop()
  h = await startWsServer({ websocket: { heartbeatMs: 30 } })
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  const started = next<Started>(h.ctx.bus, 'started')
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ticker', params: { count: 0 } }))
  const { signal } = await started
  ws.pause()
  await next(h.ctx.bus, 'aborted')
  assert.ok(signal.aborted)
  ws.terminate()
})

test('stop() closes sockets with 1001 promptly and ends subscriptions', async () => {
  const c = await client()
  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  const ended = new Promise<unknown>(resolve => {
    void c.subscribe('ticker', { count: 1 }, { onNotification: () => {}, onError: resolve })
  })
  const started = await next<Started>(h.ctx.bus, 'started')
  const close = closed(ws)
  const t0 = Date.now()
  await h.server.stop()
  assert.ok(Date.now() - t0 < 1_000, `stop took ${Date.now() - t0} ms`)
  assert.is((await close).code, 1001)
  assert.ok(started.signal.aborted)
  const err = await ended
  assert.instance(err, RpcConnectionError)
  assert.match((err as Error).message, /1001/)
  await c.call('echo', { message: 'x' }).then(() => assert.unreachable(), e => assert.instance(e, RpcConnectionError))
  h = await startWsServer() // for after.each
})

test('HTTP POST of a subscription name or rpc.unsubscribe: -32600, use the WebSocket', async () => {
  const seen = startedCount()
  for (const method of ['ticker', 'rpc.unsubscribe']) {
    const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method, params: { count: 1 } })
    assert.is(res.json.error.code, -32600)
    assert.match(res.json.error.message, /WebSocket endpoint GET \/rpc\/ws/)
  }
  assert.is(seen.count, 0)
})

test('limits: subscriptions per socket, sockets, message size', async () => {
  await h.server.stop()
  h = await startWsServer({ websocket: { maxSubscriptionsPerSocket: 2, maxSockets: 2 }, maxBodyBytes: 1024 })
  const c = await client()
  const noop = { onNotification: () => {} }
  const first = await c.subscribe('ticker', { count: 0 }, noop)
  await c.subscribe('ticker', { count: 0 }, noop)
  const err = await c.subscribe('ticker', { count: 0 }, noop).catch(e => e)
  assert.instance(err, RpcError)
  assert.is(err.code, -32029)
  await first.unsubscribe()
  await c.subscribe('ticker', { count: 0 }, noop)
  const bad = await c.subscribe('ticker', { count: -1 }, noop).catch(e => e)
  assert.is(bad.code, -32602)

  const { ws } = await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.is((await rawConnect(h.wsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 503, 'third socket')
  const close = closed(ws)
  ws.send('x'.repeat(2048))
  assert.is((await close).code, 1009)
})

test('client: ERR_RPC_UNREACHABLE when nothing listens', async () => {
  const url = h.wsUrl
  await h.server.stop()
  const err = await createWsClient({ url, token: TOKEN }).catch(e => e)
  assert.instance(err, RpcConnectionError)
  assert.is(err.code, 'ERR_RPC_UNREACHABLE')
  h = await startWsServer()
})

test('websocket: false turns the endpoint off; other upgrades still reach onUpgrade', async () => {
  await h.server.stop()
  h = await startWsServer({ websocket: false })
  const err = await createWsClient({ url: h.wsUrl, token: TOKEN }).catch(e => e)
  assert.instance(err, RpcConnectionError)
  assert.is(err.status, 404)
})

test.run()
