/** incompatibilities(): which Shoal protocols a peer announces only in other versions. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { gossipMismatch, incompatibilities } from '../src/compat.js'
import { swarmProtocols } from '../src/protocols.js'

const ours = swarmProtocols('lab')
const LIBP2P = ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/meshsub/1.1.0']

test('a peer of the same build: nothing to report', () => {
  assert.equal(incompatibilities(ours, [...LIBP2P, ours.membership, ours.events, ours.kv, ours.dht]), [])
})

test('a newer build that speaks the old id too (N and N-1): still compatible', () => {
  assert.equal(incompatibilities(ours, [ours.membership, '/shoal/lab/membership/2.0.0', ours.events, ours.kv]), [])
})

test('a build with only a newer membership version: reported with both versions', () => {
  assert.equal(incompatibilities(ours, [...LIBP2P, '/shoal/lab/membership/2.0.0', ours.events, ours.kv]),
    [{ protocol: 'membership', ours: '1.0.0', theirs: ['2.0.0'] }])
})

test('non-Shoal peers and other swarms are not a version question', () => {
  assert.equal(incompatibilities(ours, LIBP2P), [])
  assert.equal(incompatibilities(ours, ['/shoal/other/membership/2.0.0', '/shoal/lab-2/events/1.0.0']), [])
})

const topics = Object.values(ours.topics)

test('gossip: a peer subscribed to one of our topics on another wire version is named with both versions', () => {
  assert.equal(gossipMismatch(topics, '/shoal/lab/events/1'), { topic: '/shoal/lab/events', ours: '2', theirs: '1' })
  assert.equal(gossipMismatch(topics, '/shoal/lab/membership/3'), { topic: '/shoal/lab/membership', ours: '2', theirs: '3' })
})

test('gossip: our own topics, other swarms and other software are not a mismatch', () => {
  for (const t of [...topics, '/shoal/lab-2/events/1', '/shoal/other/events/1', '/shoal/lab/events', 'events', '/shoal/lab/unknown/1', '/shoal/lab/events/1/x']) {
    assert.is(gossipMismatch(topics, t), undefined, t)
  }
})

test.run()
