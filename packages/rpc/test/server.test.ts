import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createRpcServer, isAuthorized, isLoopbackHost, NotLoopbackError, RpcError } from '../src/index.js'
import { methods, newContext, post, rpc, startServer, TOKEN, type Harness } from './fixtures.js'

const test = suite('server')

let h: Harness
test.before.each(async () => { h = await startServer() })
test.after.each(async () => { await h.server.stop() })

test('start returns a loopback /rpc url and address', () => {
  assert.match(h.url, /^http:\/\/127\.0\.0\.1:\d+\/rpc$/)
  assert.is(h.server.address?.url, h.url)
  assert.ok((h.server.address?.port ?? 0) > 0)
})

test('a good call', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 7, method: 'echo', params: { message: 'hi' } })
  assert.is(res.status, 200)
  assert.is(res.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.equal(res.json, { jsonrpc: '2.0', id: 7, result: { message: 'hi' } })
})

test('401 without a token or with a wrong one, and nothing runs', async () => {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 'x' } })
  for (const auth of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN, 'Bearer ', `Basic ${TOKEN}`]) {
    const res = await fetch(h.url, { method: 'POST', headers: auth === undefined ? {} : { authorization: auth }, body })
    assert.is(res.status, 401, `auth header ${String(auth)}`)
    assert.is(res.headers.get('www-authenticate'), 'Bearer')
    const json = await res.json() as { error: { code: number } }
    assert.is(json.error.code, -32006)
  }
  assert.equal(h.ctx.calls, [], 'no handler ran')
})

test('401 comes before the body is read: even garbage is not parsed', async () => {
  const res = await post(h.url, '{not json', { authorization: 'Bearer nope' })
  assert.is(res.status, 401)
  assert.is.not(res.json.error.code, -32700)
})

test('-32700 parse error with id null', async () => {
  for (const body of ['{"jsonrpc":"2.0",', '', 'nul', '[1,']) {
    const res = await post(h.url, body)
    assert.is(res.status, 200)
    assert.is(res.json.error.code, -32700, `body ${JSON.stringify(body)}`)
    assert.is(res.json.id, null)
  }
  const utf8 = await post(h.url, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))
  assert.is(utf8.json.error.code, -32700)
})

test('-32600 invalid request variants', async () => {
  const cases: Array<[unknown, unknown]> = [
    [{ jsonrpc: '1.0', id: 1, method: 'echo' }, null],
    [{ id: 1, method: 'echo' }, null],
    [{ jsonrpc: '2.0', id: 1, method: 42 }, null],
    [{ jsonrpc: '2.0', id: { x: 1 }, method: 'echo' }, null],
    [{ jsonrpc: '2.0', id: true, method: 'echo' }, null],
    [{ jsonrpc: '2.0', id: 1, method: 'echo', params: 'x' }, null],
    [{ jsonrpc: '2.0', id: 1, method: 'echo', params: null }, null],
    [1, null],
    ['str', null]
  ]
  for (const [payload] of cases) {
    const res = await rpc(h.url, payload)
    assert.is(res.json.error.code, -32600, JSON.stringify(payload))
    assert.is(res.json.id, null)
  }
  const empty = await rpc(h.url, [])
  assert.equal(Object.keys(empty.json).sort(), ['error', 'id', 'jsonrpc'], 'empty batch answers one error, not an array')
  assert.is(empty.json.error.code, -32600)
  const junk = await rpc(h.url, [1, 2])
  assert.equal(junk.json.map((r: any) => [r.id, r.error.code]), [[null, -32600], [null, -32600]])
  assert.equal(h.ctx.calls, [])
})

test('batch over maxBatch is refused as a whole', async () => {
  const small = await startServer({ maxBatch: 2 })
  try {
    const call = { jsonrpc: '2.0', id: 1, method: 'add', params: { a: 1, b: 1 } }
    const res = await rpc(small.url, [call, call, call])
    assert.is(res.json.error.code, -32600)
    assert.ok(res.json.error.message.includes('at most 2'))
    assert.equal(small.ctx.calls, [])
  } finally {
    await small.server.stop()
  }
})

test('-32601 unknown method, including prototype names', async () => {
  for (const method of ['nope', 'toString', '__proto__', 'constructor', 'rpc.discover']) {
    const res = await rpc(h.url, { jsonrpc: '2.0', id: 'a', method })
    assert.is(res.json.error.code, -32601, method)
    assert.is(res.json.id, 'a')
  }
})

test('ids beyond what a double holds are echoed exactly as sent (single, batch, error answers)', async () => {
  for (const id of ['9007199254740993', '12345678901234567890', '-12345678901234567890', '1.0', '1e2']) {
    const ok = await post(h.url, `{"jsonrpc":"2.0","id":${id},"method":"echo","params":{"message":"x"}}`)
    assert.ok(ok.text.startsWith(`{"jsonrpc":"2.0","id":${id},`), `${id}: ${ok.text}`)
    assert.is(ok.json.result.message, 'x')
    const bad = await post(h.url, `{"jsonrpc":"2.0","id":${id},"method":"nope"}`)
    assert.ok(bad.text.includes(`"id":${id},`), `${id}: ${bad.text}`)
    assert.is(bad.json.error.code, -32601)
  }
  const batch = await post(h.url, '[{"jsonrpc":"2.0","id":9007199254740993,"method":"echo","params":{"message":"a"}},' +
    '{"jsonrpc":"2.0","id":12345678901234567890,"method":"add","params":{"a":1,"b":2}}]')
  assert.ok(batch.text.includes('"id":9007199254740993,'), batch.text)
  assert.ok(batch.text.includes('"id":12345678901234567890,'), batch.text)
  // Ordinary ids are untouched, and so are big numbers inside params (only the envelope's id is kept as text).
  const small = await post(h.url, '{"jsonrpc":"2.0","id":42,"method":"add","params":{"a":9007199254740993,"b":0}}')
  assert.ok(small.text.startsWith('{"jsonrpc":"2.0","id":42,'), small.text)
  // Also when params nest deeper than a recursive walk of the body can go (the answer is then -32602).
  for (const depth of [5_000, 100_000]) {
    const deep = '['.repeat(depth) + ']'.repeat(depth)
    const one = await post(h.url, `{"jsonrpc":"2.0","method":"echo","params":{"message":${deep},"id":1},"id":12345678901234567890}`)
    assert.ok(one.text.includes('"id":12345678901234567890,'), `depth ${depth}: ${one.text.slice(0, 200)}`)
    assert.is(one.json.error.code, -32602)
    const many = await post(h.url, `[{"jsonrpc":"2.0","id":9007199254740993,"method":"echo","params":{"message":${deep}}},` +
      '{"\\u0069d":"s","jsonrpc":"2.0","method":"echo","params":{"message":"x"}},{"jsonrpc":"2.0","method":"echo","id":-12345678901234567890,"params":{"message":"{\\"id\\":1}"}}]')
    for (const id of ['9007199254740993', '"s"', '-12345678901234567890']) assert.ok(many.text.includes(`"id":${id},`), `depth ${depth}, id ${id}: ${many.text.slice(0, 300)}`)
    // Elements that are not objects count too: each answer keeps its own request's id.
    const mixed = await post(h.url, `["x", [1, {"id": 5}], {"jsonrpc":"2.0","id":9007199254740993,"method":"echo","params":{"message":${deep}}}, ` +
      '{"jsonrpc":"2.0","id":12345678901234567890,"method":"nope"}]')
    const answers = JSON.parse(mixed.text) as Array<{ id: unknown, error?: { code: number } }>
    assert.is(answers.length, 4, mixed.text.slice(0, 300))
    assert.ok(mixed.text.includes('"id":9007199254740993,"error":{"code":-32602'), `depth ${depth}: ${mixed.text.slice(0, 400)}`)
    assert.ok(mixed.text.includes('"id":12345678901234567890,"error":{"code":-32601'), `depth ${depth}: ${mixed.text.slice(0, 400)}`)
  }
})

test('params nested 5,000+ deep answer the same precise -32602 on every method, never -32603', async () => {
  for (const depth of [65, 5_000, 100_000]) {
    const deepArray = '['.repeat(depth) + ']'.repeat(depth)
    const deepObject = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
    for (const method of ['echo', 'add', 'slow', 'nope']) {
      for (const inner of [deepArray, deepObject]) {
        const res = await post(h.url, `{"jsonrpc":"2.0","id":1,"method":"${method}","params":{"message":${inner}}}`)
        const want = method === 'nope' ? -32601 : -32602
        assert.is(res.json?.error?.code, want, `${method} depth ${depth}: ${res.text.slice(0, 200)}`)
        if (want === -32602) assert.match(res.json.error.data.expected, /nested at most 64 levels/)
      }
    }
  }
  assert.equal(h.internal, [])
  assert.equal(h.ctx.calls, [])
})

test('-32602 names the field, the value and what was expected', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 5 } })
  assert.is(res.json.error.code, -32602)
  assert.ok(res.json.error.message.includes('params.message'), res.json.error.message)
  assert.equal(res.json.error.data, { field: 'params.message', value: 5, expected: 'a string of at most 256 characters' })

  const unknown = await rpc(h.url, { jsonrpc: '2.0', id: 2, method: 'add', params: { a: 1, b: 2, c: 3 } })
  assert.is(unknown.json.error.data.field, 'params.c')

  const missing = await rpc(h.url, { jsonrpc: '2.0', id: 3, method: 'add' })
  assert.is(missing.json.error.data.field, 'params.a')

  const positional = await rpc(h.url, { jsonrpc: '2.0', id: 4, method: 'add', params: [1, 2] })
  assert.is(positional.json.error.code, -32602)
  assert.ok(positional.json.error.message.includes('named params'))

  const long = await rpc(h.url, { jsonrpc: '2.0', id: 5, method: 'echo', params: { message: 'x'.repeat(5000) } })
  assert.ok(long.text.length < 600, 'the bad value is not echoed back whole')
  assert.equal(h.ctx.calls, [])
})

test('app errors map through the table', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'missing', params: { key: 'k1' } })
  assert.equal(res.json.error, { code: -32004, message: 'no such key: k1', data: { key: 'k1', code: 'ERR_NOT_FOUND' } })
})

test('-32603 leaks nothing and reaches onInternalError', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'boom', params: {} })
  assert.equal(res.json, { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'Internal error' } })
  assert.not.ok(res.text.includes('SECRET'))
  assert.not.ok(res.text.includes('at '), 'no stack frames')
  assert.is(h.internal.length, 1)
  assert.is((h.internal[0] as Error).message, 'SECRET /var/lib/shoal/db exploded')
})

test('a result that breaks its schema is an internal error', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'badResult', params: {} })
  assert.is(res.json.error.code, -32603)
  assert.ok(String(h.internal[0]).includes('badResult'))
})

test('batch mixing good and bad calls keeps order and ids; notifications leave no entry', async () => {
  const res = await rpc(h.url, [
    { jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 'a' } },
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
    { jsonrpc: '2.0', method: 'echo', params: { message: 'notified' } },
    { jsonrpc: '2.0', id: 3, method: 'add', params: { a: 'x', b: 1 } },
    { foo: 'bar' },
    { jsonrpc: '2.0', id: 5, method: 'add', params: { a: 2, b: 3 } },
    { jsonrpc: '2.0', id: 6, method: 'boom', params: {} }
  ])
  assert.is(res.status, 200)
  assert.equal(res.json.map((r: any) => [r.id, r.result ?? r.error.code]), [
    [1, { message: 'a' }], ['b', -32601], [3, -32602], [null, -32600], [5, 5], [6, -32603]
  ])
  assert.equal([...h.ctx.calls].sort(), ['add', 'boom', 'echo', 'echo'], 'the notification ran too')
})

test('notifications: a single one or a batch of them gets 204 and no body, after running', async () => {
  const one = await rpc(h.url, { jsonrpc: '2.0', method: 'echo', params: { message: 'x' } })
  assert.is(one.status, 204)
  assert.is(one.text, '')
  const many = await rpc(h.url, [
    { jsonrpc: '2.0', method: 'add', params: { a: 1, b: 2 } },
    { jsonrpc: '2.0', method: 'boom', params: {} },
    { jsonrpc: '2.0', method: 'nope' }
  ])
  assert.is(many.status, 204)
  assert.is(many.text, '')
  assert.equal(h.ctx.calls, ['echo', 'add', 'boom'])
  const withNullId = await rpc(h.url, { jsonrpc: '2.0', id: null, method: 'add', params: { a: 1, b: 1 } })
  assert.equal(withNullId.json, { jsonrpc: '2.0', id: null, result: 2 }, 'id null is a call, not a notification')
})

test('body over maxBodyBytes: 413 with -32600, by Content-Length and when streamed', async () => {
  const small = await startServer({ maxBodyBytes: 1024 })
  try {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 'x'.repeat(4000) } })
    const res = await post(small.url, big)
    assert.is(res.status, 413)
    assert.is(res.json.error.code, -32600)
    assert.is(res.json.id, null)

    // Chunked upload without Content-Length: the limit is enforced while reading.
    const streamed = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = httpRequest(small.url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { body += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      req.write('x'.repeat(800))
      req.write('x'.repeat(800))
      // Do not end: the server must answer without waiting for the rest.
    })
    assert.is(streamed.status, 413)
    assert.is(JSON.parse(streamed.body).error.code, -32600)
    assert.equal(small.ctx.calls, [])
    const ok = await rpc(small.url, { jsonrpc: '2.0', id: 2, method: 'add', params: { a: 1, b: 1 } })
    assert.is(ok.json.result, 2, 'still serving')
  } finally {
    await small.server.stop()
  }
})

test('only POST /rpc: other paths 404, other verbs 405', async () => {
  const auth = { authorization: `Bearer ${TOKEN}` }
  assert.is((await fetch(h.url.replace('/rpc', '/other'), { headers: auth })).status, 404)
  assert.is((await fetch(h.url.replace('/rpc', '/rpc/x'), { method: 'POST', headers: auth, body: '{}' })).status, 404)
  const get = await fetch(h.url, { headers: auth })
  assert.is(get.status, 405)
  assert.is(get.headers.get('allow'), 'POST')
  assert.is((await fetch(h.url, { method: 'PUT', headers: auth, body: '{}' })).status, 405)
  const query = await rpc(h.url + '?x=1', { jsonrpc: '2.0', id: 1, method: 'add', params: { a: 1, b: 1 } })
  assert.is(query.json.result, 2)
})

test('route(): extra pages, token-checked unless public', async () => {
  h.server.route('GET', '/metrics', (_req, res) => { res.end('up 1\n') })
  h.server.route('GET', '/', (_req, res) => { res.end('<html></html>') }, { public: true })
  h.server.route('GET', '/fails', () => { throw new Error('route bug') })
  const base = h.url.replace('/rpc', '')
  assert.is((await fetch(`${base}/metrics`)).status, 401)
  const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.is(await metrics.text(), 'up 1\n')
  assert.is(await (await fetch(`${base}/`)).text(), '<html></html>')
  assert.is((await fetch(`${base}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 405)
  const failed = await fetch(`${base}/fails`, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.is(failed.status, 500)
  assert.not.ok((await failed.text()).includes('route bug'))
  assert.is((h.internal[0] as Error).message, 'route bug')
  assert.throws(() => { h.server.route('POST', '/rpc', () => {}) })
})

test('onUpgrade: handler gets the socket; without one the upgrade is refused', async () => {
  const { port } = h.server.address!
  const upgrade = async (): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { data += c })
    socket.on('end', () => { resolve(data) })
    socket.on('error', reject)
  })
  assert.match(await upgrade(), /^HTTP\/1\.1 404/)
  let authorized: boolean | undefined
  h.server.onUpgrade((req, socket) => {
    authorized = isAuthorized(req, TOKEN)
    socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\nhello')
  })
  assert.match(await upgrade(), /^HTTP\/1\.1 101[^]*hello$/)
  assert.is(authorized, true)
})

test('garbage on the socket gets 400 and the server keeps serving', async () => {
  const { port } = h.server.address!
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { socket.write('\x00\x01 NOT HTTP AT ALL\r\n\r\n') })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { data += c })
    socket.on('close', () => { resolve(data) })
    socket.on('error', reject)
  })
  assert.match(reply, /^HTTP\/1\.1 400/)
  const ok = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'add', params: { a: 1, b: 1 } })
  assert.is(ok.json.result, 2)
})

test('deeply nested input does not crash anything', async () => {
  const deep = '['.repeat(200_000) + ']'.repeat(200_000)
  const asBatch = await post(h.url, deep)
  assert.is(asBatch.status, 200)
  const asParam = await post(h.url, `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"message":${deep}}}`)
  assert.is(asParam.json.error.code, -32602)
  assert.is(asParam.json.error.data.field, 'params.message')
})

test('a handler that ignores its signal is answered by the deadline (-32001)', async () => {
  const res = await rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'stuck', params: {} })
  assert.is(res.json.error.code, -32001)
  assert.ok(res.json.error.message.includes('50 ms'))
})

test('the default deadline applies to methods without their own', async () => {
  const quick = await startServer({ timeoutMs: 20 })
  try {
    const res = await rpc(quick.url, { jsonrpc: '2.0', id: 1, method: 'slow', params: {} })
    assert.is(res.json.error.code, -32001)
    const reason = await quick.ctx.slowAborted.promise
    assert.instance(reason, RpcError, 'the handler saw its signal abort')
  } finally {
    await quick.server.stop()
  }
})

test('client disconnect aborts the handler signal', async () => {
  const req = httpRequest(h.url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  req.on('error', () => {})
  req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'slow', params: {} }))
  const signal = await h.ctx.slowStarted.promise
  assert.not.ok(signal.aborted)
  req.destroy()
  const reason = await h.ctx.slowAborted.promise
  assert.ok(signal.aborted)
  assert.instance(reason, RpcError)
  assert.is((reason as RpcError).message, 'Client disconnected', 'aborted by the disconnect, not by a deadline')
})

test('stop answers in-flight calls with -32003 and closes promptly', async () => {
  // An idle keep-alive connection and an in-flight call that would otherwise wait 30 s.
  await rpc(h.url, { jsonrpc: '2.0', id: 0, method: 'add', params: { a: 1, b: 1 } })
  const pending = rpc(h.url, { jsonrpc: '2.0', id: 1, method: 'slow', params: {} })
  await h.ctx.slowStarted.promise
  const started = performance.now()
  await h.server.stop()
  const elapsed = performance.now() - started
  const res = await pending
  assert.equal(res.json.error, { code: -32003, message: 'Server is stopping' })
  assert.ok(elapsed < 1000, `stop took ${elapsed} ms`)
  assert.is(h.server.address, undefined)
  await h.server.stop() // idempotent
  let refused = false
  try { await rpc(h.url, { jsonrpc: '2.0', id: 2, method: 'add', params: { a: 1, b: 1 } }) } catch { refused = true }
  assert.ok(refused, 'nothing listens after stop')
})

test('start is idempotent and the server can start again after stop', async () => {
  assert.is((await h.server.start()).url, h.url)
  await h.server.stop()
  const again = await h.server.start()
  const res = await rpc(again.url, { jsonrpc: '2.0', id: 1, method: 'add', params: { a: 2, b: 2 } })
  assert.is(res.json.result, 4)
})

test('non-loopback hosts are refused unless allowed', () => {
  for (const host of ['0.0.0.0', '192.168.1.5', '::', 'example.com', '128.0.0.1', '::ffff:10.0.0.1']) {
    try {
      createRpcServer({ methods, context: newContext(), token: TOKEN, host })
      assert.unreachable(`host ${host} was accepted`)
    } catch (err) {
      assert.instance(err, NotLoopbackError)
      assert.is((err as NotLoopbackError).code, 'ERR_RPC_NOT_LOOPBACK')
    }
  }
  createRpcServer({ methods, context: newContext(), token: TOKEN, host: '0.0.0.0', allowNonLoopback: true })
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host)
  assert.throws(() => createRpcServer({ methods, context: newContext(), token: '' }), /token/)
})

test.run()
