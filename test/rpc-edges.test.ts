/**
 * JSON-RPC edges against a real daemon (issue 13): request ids above 2^53 come back exactly as sent, and
 * params nested thousands deep answer -32602 on every method the daemon serves, never -32603.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { LocalSwarm, LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { startSwarm } from './helpers/swarm.js'

let swarm: LocalSwarm
let n1: LocalNode
let token: string

test.before(async () => {
  const started = await startSwarm(1)
  swarm = started.swarm
  n1 = started.node(1)
  token = await readToken(n1.dataDir)
})
test.after(async () => { await swarm?.destroy() })

async function post (body: string): Promise<{ text: string, json: any }> {
  const res = await fetch(n1.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body })
  const text = await res.text()
  return { text, json: JSON.parse(text) }
}

test('ids above 2^53 are echoed exactly as sent by the daemon', async () => {
  for (const id of ['9007199254740993', '12345678901234567890']) {
    const res = await post(`{"jsonrpc":"2.0","id":${id},"method":"node.info"}`)
    assert.ok(res.text.startsWith(`{"jsonrpc":"2.0","id":${id},`), res.text.slice(0, 200))
  }
})

test('params nested 5,000 deep: -32602 on every method (events.publish included), never -32603', async () => {
  const discover = await post('{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}')
  const names: string[] = discover.json.result.methods.map((m: { name: string }) => m.name)
  assert.ok(names.includes('events.publish') && names.includes('kv.put'), names.join(' '))
  const depth = 5_000
  const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
  for (const method of names) {
    for (const field of ['data', 'value', 'topic']) {
      const res = await post(`{"jsonrpc":"2.0","id":1,"method":"${method}","params":{"${field}":${deep}}}`)
      // Subscriptions are listed too; over HTTP they answer -32600 "use the WebSocket endpoint".
      const want = /use the WebSocket/.test(res.json.error?.message ?? '') ? -32600 : -32602
      assert.is(res.json.error?.code, want, `${method} ${field}: ${res.text.slice(0, 200)}`)
      assert.is.not(res.json.error?.code, -32603, method)
    }
  }
  // With every other param valid, so that the deep value reaches the handler on a server without a bound.
  for (const depth of [5_000, 20_000]) {
    const value = '['.repeat(depth) + ']'.repeat(depth)
    for (const body of [
      `{"jsonrpc":"2.0","id":2,"method":"events.publish","params":{"topic":"deep","data":${value}}}`,
      `{"jsonrpc":"2.0","id":3,"method":"kv.put","params":{"key":"deep","value":${value}}}`
    ]) {
      const res = await post(body)
      assert.is(res.json.error?.code, -32602, `${depth}: ${res.text.slice(0, 200)}`)
      assert.match(res.json.error.data.expected, /nested at most 64 levels/)
    }
  }
})

test.run()
