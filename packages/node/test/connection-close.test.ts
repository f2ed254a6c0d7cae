/**
 * `closedByRemote` (membership-service.ts): a connection the other side closed itself (its yamux muxer sent a
 * GoAway, on a close or an abort) is no news of its death, so membership does not probe it at once. A process
 * killed with SIGKILL sends none, and its connections still are. libp2p nodes of the daemon's stack over TCP,
 * one of them in a child process for the kill; this also fails if a yamux upgrade renames the field it reads.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { closedByRemote } from '../src/membership-service.js'
import { tcpPair } from './helpers/tcp-pair.js'
import type { ShoalLibp2p } from '../src/libp2p.js'

/** Resolves with the next connection `node` sees close. */
async function nextClose (node: ShoalLibp2p): Promise<Connection> {
  return await new Promise(resolve => {
    node.addEventListener('connection:close', evt => { resolve(evt.detail) }, { once: true })
  })
}

test('a graceful close by the other side reads as closed by the remote there, and not at the side that closed', async () => {
  const { a, b, close } = await tcpPair('close-test')
  try {
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    const atB = nextClose(b)
    const atA = nextClose(a)
    await conn.close()
    assert.ok(closedByRemote(await atB), 'b heard a say goodbye')
    assert.not.ok(closedByRemote(await atA), 'a closed it itself')
  } finally {
    await close()
  }
})

test('a connection the other side aborts reads as closed by the remote too (it sent a GoAway, so it is alive)', async () => {
  const { a, b, close } = await tcpPair('abort-test')
  try {
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    const atB = nextClose(b)
    conn.abort(new Error('gone'))
    assert.ok(closedByRemote(await atB))
  } finally {
    await close()
  }
})

test('a connection to a process killed with SIGKILL does not read as closed by the remote', async () => {
  const { a, close } = await tcpPair('kill-test')
  const child = spawn(process.execPath, [fileURLToPath(new URL('./helpers/peer-process.js', import.meta.url)), 'kill-test'], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string]
    await a.dial(multiaddr(line))
    const atA = nextClose(a)
    child.kill('SIGKILL')
    assert.not.ok(closedByRemote(await atA))
  } finally {
    child.kill('SIGKILL')
    await close()
  }
})

test.run()
