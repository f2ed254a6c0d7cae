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

test.run()
