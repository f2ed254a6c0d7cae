/** When the run calls replicas converged: statesAgree over full dumps. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { statesAgree } from '../src/state.js'
import type { NodeState, StoredEvent } from '../src/types.js'

const ev = (seq: number): StoredEvent => ({ seq, topic: 't', type: 'x', hlc: { wall: seq, logical: 0 }, data: null })
const node = (index: number, peerId: string, events: Record<string, StoredEvent[]>, kv: NodeState['kv'] = {}): NodeState => ({ index, peerId, kv, events })

test('a node is compared on its own origin unless it was wiped; other origins always', () => {
  // Node 5 ("p5") lost its db/ and has published nothing since: it holds none of its own events.
  const five = node(5, 'p5', { p1: [ev(1), ev(2)] })
  const one = node(1, 'p1', { p1: [ev(1), ev(2)], p5: [ev(1), ev(3)] })
  const two = node(2, 'p2', { p1: [ev(2)], p5: [ev(3)] })
  assert.not.ok(statesAgree([five, one, two]), 'not wiped: its own origin missing is a difference')
  assert.ok(statesAgree([five, one, two], new Set([5])), 'wiped: its own origin is not compared')
  // The others must still agree on the wiped origin's head.
  assert.not.ok(statesAgree([five, one, node(2, 'p2', { p1: [ev(2)], p5: [ev(1)] })], new Set([5])))
  // Another origin missing on the wiped node is a difference.
  assert.not.ok(statesAgree([node(5, 'p5', {}), one, two], new Set([5])))
  // Only the highest seq per origin counts (a wiped origin does not fetch back its own older events).
  assert.ok(statesAgree([node(2, 'p2', { p1: [ev(2)] }), node(3, 'p3', { p1: [ev(1), ev(2)] })]))
})

test('KV records must be equal everywhere, wiped or not', () => {
  const v = { wall: 1, logical: 0, node: 'p1' }
  assert.ok(statesAgree([node(1, 'p1', {}, { k: { value: 1, version: v } }), node(2, 'p2', {}, { k: { value: 1, version: v } })]))
  assert.not.ok(statesAgree([node(1, 'p1', {}, { k: { value: 1, version: v } }), node(2, 'p2', {})], new Set([2])))
})

test.run()
