import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createRpcClient, RpcConnectionError, RpcError, type TypedClient } from '../src/index.js'
import { startServer, TOKEN, type Harness, type methods } from './fixtures.js'

const test = suite('client')

let h: Harness
let client: TypedClient<typeof methods>
test.before.each(async () => {
  h = await startServer()
  client = createRpcClient<typeof methods>({ url: h.url, token: TOKEN })
})
test.after.each(async () => { await h.server.stop() })

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

test('typed call returns the result', async () => {
  const sum: number = await client.call('add', { a: 2, b: 40 })
  assert.is(sum, 42)
  const echoed = await client.call('echo', { message: 'hi' })
  assert.is(echoed.message, 'hi')
  // @ts-expect-error params are typed from the schema
  await rejection(client.call('add', { a: 'x', b: 1 }))
  // @ts-expect-error unknown method names do not compile
  await rejection(client.call('nope'))
  assert.equal(await client.call('missing').catch((e: RpcError) => e.code), -32004, 'all-optional params may be omitted')
})

test('server errors become RpcError with code and data', async () => {
  const err = await rejection(client.call('echo', { message: 'x'.repeat(300) }))
  assert.instance(err, RpcError)
  assert.is((err as RpcError).code, -32602)
  assert.is(((err as RpcError).data as { field: string }).field, 'params.message')
  const wrongToken = createRpcClient({ url: h.url, token: 'nope' })
  const unauthorized = await rejection(wrongToken.call('add', { a: 1, b: 1 }))
  assert.instance(unauthorized, RpcError)
  assert.is((unauthorized as RpcError).code, -32006)
  assert.equal(h.ctx.calls, [])
})

test('batch: results in call order, errors per call', async () => {
  const results = await client.batch([
    { method: 'add', params: { a: 1, b: 2 } },
    { method: 'nope' },
    { method: 'echo', params: { message: 'm' } },
    { method: 'boom' }
  ])
  assert.equal(results.map(r => r.ok ? r.result : r.error.code), [3, -32601, { message: 'm' }, -32603])
})

test('notify runs the method and resolves on 204', async () => {
  await client.notify('echo', { message: 'n' })
  assert.equal(h.ctx.calls, ['echo'])
})

test('nothing listening: ERR_RPC_UNREACHABLE', async () => {
  await h.server.stop()
  const err = await rejection(client.call('add', { a: 1, b: 1 }))
  assert.instance(err, RpcConnectionError)
  assert.is((err as RpcConnectionError).code, 'ERR_RPC_UNREACHABLE')
  assert.ok((err as Error).message.includes(h.url))
})

test('client deadline: ERR_RPC_TIMEOUT; caller abort: the caller reason', async () => {
  const err = await rejection(client.call('slow', {}, { timeoutMs: 30 }))
  assert.is((err as RpcConnectionError).code, 'ERR_RPC_TIMEOUT')
  const controller = new AbortController()
  const pending = client.call('add', { a: 1, b: 1 }, { signal: controller.signal })
  const reason = new Error('user pressed ctrl-c')
  controller.abort(reason)
  assert.is(await rejection(pending), reason)
})

test('a non-JSON-RPC answer is ERR_RPC_BAD_RESPONSE', async () => {
  h.server.route('POST', '/html', (_req, res) => { res.end('<html>') })
  const other = createRpcClient({ url: h.url.replace('/rpc', '/html'), token: TOKEN })
  const err = await rejection(other.call('add', { a: 1, b: 1 }))
  assert.is((err as RpcConnectionError).code, 'ERR_RPC_BAD_RESPONSE')
})

test('calls go over node:http and reuse one kept-alive connection; a given fetch is used instead', async () => {
  const raw = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(body) as { id: number }).id, result: 'pong' }))
    })
  })
  let served = 0
  raw.on('connection', () => { served++ })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/rpc`
  const realFetch = globalThis.fetch
  try {
    // The global fetch is not what the client uses by default.
    globalThis.fetch = async () => { throw new Error('the global fetch was called') }
    const plain = createRpcClient({ url, token: TOKEN })
    for (let i = 0; i < 5; i++) assert.is(await plain.call('ping'), 'pong')
    assert.is(served, 1, 'five calls one after another share one connection')
    let fetched = 0
    const viaFetch = createRpcClient({ url, token: TOKEN, fetch: async (...args) => { fetched++; return await realFetch(...args) } })
    assert.is(await viaFetch.call('ping'), 'pong')
    assert.is(fetched, 1)
  } finally {
    globalThis.fetch = realFetch
    raw.closeAllConnections()
    await new Promise(resolve => raw.close(resolve))
  }
})

test('an answer cut off mid-body is ERR_RPC_CONNECTION, not a hang or a parse of half the text', async () => {
  const raw = createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
    res.write('{"jsonrpc":"2.0","id":1,')
    setImmediate(() => { res.socket?.destroy() })
  })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  try {
    const cut = createRpcClient({ url: `http://127.0.0.1:${(raw.address() as AddressInfo).port}/rpc`, token: TOKEN, timeoutMs: 5000 })
    const err = await rejection(cut.call('ping'))
    assert.instance(err, RpcConnectionError)
    assert.is((err as RpcConnectionError).code, 'ERR_RPC_CONNECTION')
  } finally {
    raw.closeAllConnections()
    await new Promise(resolve => raw.close(resolve))
  }
})

test.run()
