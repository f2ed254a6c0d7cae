/**
 * The daemon's JSON-RPC endpoint over real HTTP: token checks, every error code, batches, notifications,
 * size limits, and that no bad input disturbs the daemon.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'

let swarm: LocalSwarm
let node: LocalNode
let token: string

async function post (body: string, auth: string | null = `Bearer ${token}`): Promise<{ status: number, json: any }> {
  const res = await fetch(node.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth !== null ? { authorization: auth } : {}) },
    body
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

const call = (method: string, params?: unknown, id: unknown = 1): string => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) })

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  node = await swarm.start(1)
  token = await readToken(node.dataDir)
})

test.after(async () => {
  await swarm.destroy()
})

test('no token or a wrong token gets HTTP 401 and runs nothing', async () => {
  const none = await post(call('swarm.connect', { addr: '/ip4/127.0.0.1/tcp/1' }), null)
  assert.is(none.status, 401)
  const wrong = await post(call('node.info'), 'Bearer not-the-token')
  assert.is(wrong.status, 401)
  const basic = await post(call('node.info'), `Basic ${token}`)
  assert.is(basic.status, 401)
})

test('node.info answers with the peer id and swarm', async () => {
  const { status, json } = await post(call('node.info', {}))
  assert.is(status, 200)
  assert.is(json.result.peerId, node.peerId)
  assert.is(json.result.swarm, 'default')
  assert.type(json.result.uptimeMs, 'number')
})

test('node.ping answers with the node\'s clock and takes no params', async () => {
  const before = Date.now()
  const { json } = await post(call('node.ping', {}))
  assert.equal(Object.keys(json.result), ['time'])
  assert.ok(json.result.time >= before && json.result.time <= Date.now(), `time ${json.result.time}`)
  const wrong = await post(call('node.ping', { now: true }))
  assert.is(wrong.json.error.code, -32602)
})

test('parse error -32700, invalid request -32600, unknown method -32601', async () => {
  assert.is((await post('{"jsonrpc": "2.0", "method": ')).json.error.code, -32700)
  assert.is((await post(JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'node.info' }))).json.error.code, -32600)
  assert.is((await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 42 }))).json.error.code, -32600)
  assert.is((await post('[]')).json.error.code, -32600)
  const unknown = await post(call('no.such.method', {}, 7))
  assert.is(unknown.json.error.code, -32601)
  assert.is(unknown.json.id, 7)
})

test('invalid params -32602 name the offending field', async () => {
  const missing = await post(call('swarm.connect', {}))
  assert.is(missing.json.error.code, -32602)
  assert.match(missing.json.error.message, 'addr')
  const wrongType = await post(call('swarm.connect', { addr: 42 }))
  assert.is(wrongType.json.error.code, -32602)
  assert.is(wrongType.json.error.data.field, 'params.addr')
  const extra = await post(call('node.info', { verbose: true }))
  assert.is(extra.json.error.code, -32602)
  assert.match(extra.json.error.message, 'verbose')
  const badEnum = await post(call('swarm.members', { state: 'zombie' }))
  assert.is(badEnum.json.error.code, -32602)
  const notMultiaddr = await post(call('swarm.connect', { addr: '/not/a/multiaddr' }))
  assert.is(notMultiaddr.json.error.code, -32602)
  assert.match(notMultiaddr.json.error.message, 'multiaddr')
})

test('an unreachable peer is a clear application error, not an internal one', async () => {
  const { json } = await post(call('swarm.connect', { addr: '/ip4/127.0.0.1/tcp/1' }))
  assert.is(json.error.code, -32003)
  assert.not.match(JSON.stringify(json), 'at ', 'no stack trace leaks')
})

test('debug methods are refused unless the daemon runs with --debug', async () => {
  const { json } = await post(call('debug.partition', { deny: [] }))
  assert.is(json.error.code, -32005)
})

test('with --debug, debug.partition cuts a peer off and an empty list heals', async () => {
  const debugNode = await swarm.start(2, { args: ['--debug'] })
  const client = debugNode.client
  assert.is((await client.call('swarm.connect', { addr: node.addrs[0]! })).peerId, node.peerId)
  assert.equal(await client.call('debug.partition', { deny: [node.peerId] }), { denied: [node.peerId] })
  const peers = await client.call('swarm.peers', {})
  assert.not.ok(peers.some(p => p.peerId === node.peerId), 'the open connection was closed')
  try {
    await client.call('swarm.connect', { addr: node.addrs[0]! })
    assert.unreachable('a denied peer cannot be dialled')
  } catch (err) {
    assert.is((err as { code?: number }).code, -32003)
  }
  assert.equal(await client.call('debug.partition', { deny: [] }), { denied: [] })
  assert.is((await client.call('swarm.connect', { addr: node.addrs[0]! })).peerId, node.peerId)
})

test('a batch mixing good and bad calls answers each in place; notifications get no answer', async () => {
  const batch = JSON.stringify([
    { jsonrpc: '2.0', id: 'a', method: 'node.info' },
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
    { jsonrpc: '2.0', method: 'node.info' },
    { jsonrpc: '2.0', id: 'c', method: 'swarm.connect', params: { addr: 1 } },
    { foo: 'bar' }
  ])
  const { status, json } = await post(batch)
  assert.is(status, 200)
  assert.is(json.length, 4, 'the notification gets no entry')
  const byId = new Map(json.map((r: any) => [r.id, r]))
  assert.is((byId.get('a') as any).result.peerId, node.peerId)
  assert.is((byId.get('b') as any).error.code, -32601)
  assert.is((byId.get('c') as any).error.code, -32602)
  assert.is((byId.get(null) as any).error.code, -32600)
  const onlyNotifications = await post(JSON.stringify([{ jsonrpc: '2.0', method: 'node.info' }]))
  assert.is(onlyNotifications.status, 204)
  const single = await post(JSON.stringify({ jsonrpc: '2.0', method: 'node.info' }))
  assert.is(single.status, 204)
})

test('an oversized request is refused with 413 and the daemon keeps serving', async () => {
  // Larger than any body the daemon accepts (2 x kv.maxValueBytes + 64 KiB).
  const huge = call('swarm.connect', { addr: '/' + 'x'.repeat(4 * 1024 * 1024) })
  const { status } = await post(huge)
  assert.is(status, 413)
  const after = await post(call('node.info', {}))
  assert.is(after.json.result.peerId, node.peerId)
})

test('garbage of every kind leaves the daemon running', async () => {
  const junk = ['', 'null', '1', '"x"', '{}', '[1,2,3]', '{"jsonrpc":"2.0","id":{},"method":"node.info"}', '\u0000\u0001', '{"jsonrpc":"2.0","id":1,"method":"node.info","params":"x"}']
  for (const body of junk) {
    const { status } = await post(body)
    assert.ok(status === 200 || status === 400 || status === 204, `status ${status} for ${JSON.stringify(body)}`)
  }
  assert.is(node.child.exitCode, null, 'daemon still running')
  assert.is((await post(call('node.info', {}))).json.result.peerId, node.peerId)
})

test('rpc.discover returns an OpenRPC document listing every method', async () => {
  const { json } = await post(call('rpc.discover', {}))
  const names = json.result.methods.map((m: any) => m.name)
  for (const m of ['node.info', 'swarm.peers', 'swarm.members', 'swarm.connect']) assert.ok(names.includes(m), `${m} listed`)
})

test.run()
