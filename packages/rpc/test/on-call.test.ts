/** The dispatcher's onCall hook: one report per call with a method name, code 0 or the JSON-RPC error code. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createDispatcher, type CallReport } from '../src/index.js'
import { methods, newContext } from './fixtures.js'

test('onCall reports method, code and duration for successes, errors and notifications', async () => {
  const calls: CallReport[] = []
  const d = createDispatcher({ methods, context: newContext(), onCall: c => { calls.push(c) } })
  const signal = new AbortController().signal
  await d.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 'hi' } }), signal)
  await d.handle(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'nope' }), signal)
  await d.handle(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'echo', params: { message: 1 } }), signal)
  await d.handle(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: { message: 'note' } }), signal)
  await d.handle(JSON.stringify({ jsonrpc: '1.0', id: 4, method: 'echo' }), signal)
  assert.equal(calls.map(c => [c.method, c.code]), [['echo', 0], ['nope', -32601], ['echo', -32602], ['echo', 0]])
  for (const c of calls) assert.ok(c.durationMs >= 0 && Number.isFinite(c.durationMs))
})

test('a throwing onCall does not fail the call', async () => {
  const errors: unknown[] = []
  const d = createDispatcher({ methods, context: newContext(), onCall: () => { throw new Error('boom') }, onInternalError: e => { errors.push(e) } })
  const out = await d.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { message: 'hi' } }), new AbortController().signal)
  assert.equal(JSON.parse(out ?? ''), { jsonrpc: '2.0', id: 1, result: { message: 'hi' } })
  assert.is(errors.length, 1)
})

test.run()
