/**
 * The libp2p patch (docs/decisions/0016-one-peer-store-merge-per-protocol.md): libp2p 3 records the protocol of
 * every stream it opens or accepts with a peer-store merge (a lock, a protobuf decode and encode, a datastore
 * write when it changed), even when that connection recorded the same protocol a moment ago. Patched, each
 * connection records a protocol once. Two libp2p nodes of the daemon's stack over TCP; merges counted on both.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { tcpPair } from './helpers/tcp-pair.js'

const PROTOCOL = '/shoal/merges-test/echo/1.0.0'
const STREAMS = 20

test('streams of one protocol on one connection record it in the peer store once, not once per stream', async () => {
  const { a, b, close } = await tcpPair('merges-test')
  try {
    await b.handle(PROTOCOL, stream => { void stream.close() })
    const merges = { a: 0, b: 0 }
    for (const [name, n] of [['a', a], ['b', b]] as const) {
      const store = n.peerStore as unknown as { merge: (...args: unknown[]) => Promise<unknown> }
      const original = store.merge.bind(store)
      store.merge = async (...args: unknown[]) => {
        if ((args[1] as { protocols?: string[] }).protocols?.includes(PROTOCOL) === true) merges[name]++
        return await original(...args)
      }
    }
    await a.dial(b.getMultiaddrs()[0]!)
    for (let i = 0; i < STREAMS; i++) {
      const stream = await a.dialProtocol(b.peerId, PROTOCOL)
      await stream.close()
    }
    assert.is(a.getConnections(b.peerId).length, 1, 'all streams on one connection')
    assert.ok(merges.a <= 1, `opener merged the protocol ${merges.a} times for ${STREAMS} streams`)
    assert.ok(merges.b <= 1, `acceptor merged the protocol ${merges.b} times for ${STREAMS} streams`)
    const peer = await a.peerStore.get(b.peerId)
    assert.ok(peer.protocols.includes(PROTOCOL), 'the protocol is still recorded')
  } finally {
    await close()
  }
})

test.run()
