/**
 * The baseline's peer: one plain libp2p node (the daemon's own stack from buildLibp2p, gossipsub with the same
 * score and IP-colocation settings, no Shoal services on top) in its own process, driven by the bench over IPC.
 * Its gossip is signed (StrictSign, gossipsub's default), as the baseline was measured before Shoal's own gossip
 * went unsigned (decisions/0010): the baseline is the library as it comes, not Shoal's configuration of it.
 * It reports every message it receives (and every one it publishes, as its own delivery) so the parent can
 * timestamp both sides the same way it does for the daemons.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { resolveConfig } from '@shoal/core'
import { buildLibp2p, DenyList, swarmProtocols } from '@shoal/node'
import type { ToPeer, FromPeer } from './gossip-ipc.js'

const protocols = swarmProtocols('bench-baseline')
const topic = protocols.topics.events
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function send (msg: FromPeer): void {
  process.send?.(msg)
}

const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-peer-'))
const config = resolveConfig({ defaultDataDir: dir, flags: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
const node = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), config, protocols, denyList: new DenyList(), topics: [topic], signedGossip: true })
const pubsub = node.services.pubsub
pubsub.subscribe(topic)
pubsub.addEventListener('message', evt => {
  if (evt.detail.topic !== topic) return
  try {
    const { id } = JSON.parse(decoder.decode(evt.detail.data)) as { id: number }
    send({ type: 'recv', id })
  } catch { /* not ours */ }
})

/** A message of exactly `size` bytes (for ASCII padding) carrying the id and the send time. */
function message (id: number, size: number): Uint8Array {
  const head = JSON.stringify({ id, t: Date.now(), pad: '' })
  return encoder.encode(JSON.stringify({ id, t: Date.now(), pad: 'x'.repeat(Math.max(0, size - head.length)) }))
}

async function publish (id: number, size: number): Promise<void> {
  await pubsub.publish(topic, message(id, size))
  send({ type: 'recv', id })
}

let stopping = false
async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  const timer = setTimeout(() => process.exit(0), 5000)
  await Promise.resolve(node.stop()).catch(() => {})
  await rm(dir, { recursive: true, force: true })
  clearTimeout(timer)
  process.exit(0)
}
process.on('disconnect', () => { void stop() })

process.on('message', (raw: unknown) => {
  const msg = raw as ToPeer
  void (async () => {
    switch (msg.cmd) {
      case 'dial':
        for (const a of msg.addrs) await node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) })
        send({ type: 'dialed' })
        break
      case 'subscribers':
        send({ type: 'subscribers', count: pubsub.getSubscribers(topic).length })
        break
      case 'publish':
        await publish(msg.id, msg.size)
        break
      case 'burst': {
        let next = msg.firstId
        const end = msg.firstId + msg.count
        await Promise.all(Array.from({ length: msg.concurrency }, async () => {
          for (let id = next++; id < end; id = next++) await publish(id, msg.size)
        }))
        break
      }
      case 'stop':
        await stop()
        break
    }
  })().catch(err => { send({ type: 'error', message: String(err?.message ?? err) }) })
})

send({ type: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()) })
