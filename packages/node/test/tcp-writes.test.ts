/**
 * The @libp2p/tcp patch (docs/decisions/0015-one-write-per-frame-list.md): Noise hands TCP each encrypted frame as
 * a list (its 2-byte length, then the ciphertext). Unpatched, @libp2p/tcp writes each chunk of the list with its
 * own socket write, so every message costs two syscalls; corked, the list leaves in one writev.
 * Two libp2p nodes of the daemon's stack over real TCP on loopback; socket writes counted at net.Socket.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Socket } from 'node:net'
import { tcpPair } from './helpers/tcp-pair.js'

const ECHO = '/shoal/tcp-writes-test/echo/1.0.0'
const MESSAGES = 200

test('one socket write per message, not one per chunk of the frame list', async () => {
  const { a, b, close } = await tcpPair('tcp-writes-test')
  const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown }
  const original = proto._writeGeneric
  try {
    await b.handle(ECHO, stream => {
      stream.addEventListener('message', evt => { stream.send(evt.data) })
    })
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, ECHO)
    let received = 0
    let wake: () => void = () => {}
    stream.addEventListener('message', () => { received++; wake() })
    // Warm: identify and the stream's own set-up are done before counting.
    stream.send(new Uint8Array(100))
    await new Promise<void>(resolve => { wake = resolve })
    await new Promise(resolve => setTimeout(resolve, 500))

    let writes = 0
    proto._writeGeneric = function (this: unknown, ...args: unknown[]) { writes++; return original.apply(this, args) }
    for (let i = 0; i < MESSAGES; i++) {
      const echoed = new Promise<void>(resolve => { wake = resolve })
      stream.send(new Uint8Array(100))
      await echoed
    }
    proto._writeGeneric = original
    // Each round trip is one message each way; unpatched that is 4 writes (2 per frame), patched 2.
    const perMessage = writes / (2 * MESSAGES)
    assert.ok(perMessage < 1.25, `socket writes per message: ${perMessage.toFixed(2)} (unpatched: 2)`)
    assert.ok(received >= MESSAGES)
  } finally {
    proto._writeGeneric = original
    await close()
  }
})

test.run()
