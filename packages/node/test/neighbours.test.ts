import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connectedFirst } from '../src/neighbours.js'

const libp2pWith = (...connected: string[]): Parameters<typeof connectedFirst>[1] =>
  ({ getConnections: () => connected.map(id => ({ remotePeer: { toString: () => id } })) }) as unknown as Parameters<typeof connectedFirst>[1]

test('background rounds go to connected members only, in the order given', () => {
  assert.equal(connectedFirst(['a', 'b', 'c', 'd'], libp2pWith('d', 'b', 'x')), ['b', 'd'])
})

test('with no connected member, every live member is a candidate (a node that just started)', () => {
  assert.equal(connectedFirst(['a', 'b'], libp2pWith('x')), ['a', 'b'])
  assert.equal(connectedFirst([], libp2pWith('x')), [])
})

test.run()
