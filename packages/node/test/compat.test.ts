/** incompatibilities(): which Shoal protocols a peer announces only in other versions. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { incompatibilities } from '../src/compat.js'
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

test.run()
