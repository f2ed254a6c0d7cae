/**
 * The two systems the delivery benches drive the same way: N Shoal daemons (an `events.publish` or a `kv.put`
 * over HTTP JSON-RPC, delivery seen through a WebSocket `events.subscribe` or `kv.watch` per node) and N plain
 * gossipsub peers, one process each (publish and delivery over IPC). Both report deliveries to one Recorder.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { waitFor } from '@shoal/cli/local-swarm'
import type { LocalSwarm, LocalNode } from '@shoal/cli/local-swarm'
import { KV_TOPIC } from '@shoal/core'
import { readToken } from '@shoal/node'
import { createWsClient } from '@shoal/rpc'
import type { WsClient } from '@shoal/rpc'
import { DATA_BYTES, eventData, formSwarm, nodes } from './common.js'
import type { Recorder } from './recorder.js'
import type { FromPeer, ToPeer } from './gossip-ipc.js'

export interface Cluster {
  readonly n: number
  /** The processes of the nodes (for their CPU time). */
  pids: () => number[]
  /** Average open connections per node, to compare the two topologies. */
  connections: () => Promise<number>
  /** Sends one message from node 1; resolves when the publisher has accepted it. */
  publish: (id: number) => Promise<void>
  /** Publishes ids [firstId, firstId + count) from node 1 as fast as it accepts them, `concurrency` at a time. */
  burst: (firstId: number, count: number, concurrency: number) => Promise<void>
  close: () => Promise<void>
}

const TOPIC = 'bench'
/** N processes loading the libp2p stack at once on 2 cores (50 for the scale bench) take a while. */
const PEER_START_TIMEOUT_MS = 120_000

/**
 * What a Shoal message is: an event published on the bench's topic, or a KV write (acks 1) under the bench's
 * prefix, which travels as an event on the KV topic and is seen once the receiver's replica has it.
 */
export type ShoalMode = 'events' | 'kv'

const KV_PREFIX = 'bench/'

export class ShoalCluster implements Cluster {
  private readonly ws: WsClient[] = []
  private readonly run = `r${Date.now()}`
  /** Round trip of each single publish on node 1 (events.publish or kv.put), ms, in call order. */
  readonly publishMs: number[] = []

  private constructor (readonly n: number, private readonly swarm: LocalSwarm, private readonly mode: ShoalMode) {}

  static async start (n: number, recorder: () => Recorder, mode: ShoalMode = 'events'): Promise<ShoalCluster> {
    const swarm = await formSwarm(n)
    const cluster = new ShoalCluster(n, swarm, mode)
    try {
      for (const [i, node] of nodes(swarm).entries()) {
        const ws = await createWsClient({ url: node.rpcUrl.replace(/^http/, 'ws') + '/ws', token: await readToken(node.dataDir) })
        cluster.ws.push(ws)
        if (mode === 'kv') {
          const prefix = `${KV_PREFIX}${cluster.run}/`
          await ws.subscribe<{ key: string }>('kv.watch', { prefix }, {
            onNotification: c => { const id = Number(c.key.slice(prefix.length)); if (Number.isSafeInteger(id)) recorder().markReceived(i, id) }
          })
          continue
        }
        const { lastLsn } = await node.client.call('events.stats', {})
        await ws.subscribe<{ data: { run?: string, n?: number } }>('events.subscribe', { topic: TOPIC, since: lastLsn }, {
          onNotification: e => { if (e.data?.run === cluster.run && typeof e.data.n === 'number') recorder().markReceived(i, e.data.n) }
        })
      }
      return cluster
    } catch (err) {
      await cluster.close()
      throw err
    }
  }

  /**
   * Bytes of the gossip message the last write from node 1 travelled in (envelope and signed event), as
   * shoalMessageBytes gives for an event: the size a baseline message is padded to. KV mode only.
   */
  async lastKvMessageBytes (): Promise<number> {
    const { lastLsn } = await this.first.client.call('events.stats', {})
    const page = await this.first.client.call('events.list', { topic: KV_TOPIC, since: Math.max(0, lastLsn - 100), limit: 100 })
    const delivered = page.events.at(-1)
    if (delivered === undefined) throw new Error('no KV event among node 1\'s last 100 deliveries')
    const { lsn: _lsn, ...event } = delivered
    return Buffer.byteLength(JSON.stringify({ v: 1, type: 'event', sentAt: Date.now(), payload: event }))
  }

  pids (): number[] {
    return nodes(this.swarm).map(n => n.child.pid!)
  }

  private get first (): LocalNode {
    return nodes(this.swarm)[0]!
  }

  async connections (): Promise<number> {
    const counts = await Promise.all(nodes(this.swarm).map(async node => (await node.client.call('swarm.peers', {})).length))
    return counts.reduce((a, b) => a + b, 0) / counts.length
  }

  async publish (id: number): Promise<void> {
    const t0 = performance.now()
    await this.first.client.call(this.mode === 'kv' ? 'kv.put' : 'events.publish', this.message(id), { timeoutMs: 30_000 })
    this.publishMs.push(performance.now() - t0)
  }

  private message (id: number): { topic: string, data: ReturnType<typeof eventData> } | { key: string, value: ReturnType<typeof eventData> } {
    return this.mode === 'kv' ? { key: `${KV_PREFIX}${this.run}/${id}`, value: eventData(this.run, id) } : { topic: TOPIC, data: eventData(this.run, id) }
  }

  async burst (firstId: number, count: number, concurrency: number): Promise<void> {
    const BATCH = 25
    let next = firstId
    const end = firstId + count
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < end) {
        const ids = Array.from({ length: Math.min(BATCH, end - next) }, (_, k) => next + k)
        next += ids.length
        const results = await this.first.client.batch(ids.map(id => ({ method: this.mode === 'kv' ? 'kv.put' : 'events.publish', params: this.message(id) })), { timeoutMs: 60_000 })
        const failed = results.find(r => !r.ok)
        if (failed !== undefined && !failed.ok) throw new Error(`publish failed: ${failed.error.message}`)
      }
    }))
  }

  async close (): Promise<void> {
    await Promise.all(this.ws.map(async ws => await ws.close().catch(() => {})))
    await this.swarm.destroy()
  }
}

/** Size of the gossip message a Shoal event with DATA_BYTES of data travels in (envelope + signed event). */
export function shoalMessageBytes (origin: string): number {
  const data = JSON.stringify(eventData('r1700000000000', 1000))
  const event = { v: 1, type: 'user', topic: TOPIC, origin, seq: 1000, hlc: { wall: Date.now(), logical: 0 }, data, sig: 'x'.repeat(86) }
  return Buffer.byteLength(JSON.stringify({ v: 1, type: 'event', sentAt: Date.now(), payload: event }))
}

const PEER_PATH = fileURLToPath(new URL('./gossip-peer.js', import.meta.url))

interface Peer { child: ChildProcess, peerId: string, addrs: string[], exited: Promise<void> }

export class GossipCluster implements Cluster {
  private readonly peers: Peer[] = []
  private readonly waiters = new Set<(msg: FromPeer, from: number) => void>()
  private failure: Error | undefined

  private constructor (readonly n: number, private readonly size: number, private readonly recorder: () => Recorder) {}

  static async start (n: number, size: number, recorder: () => Recorder): Promise<GossipCluster> {
    const cluster = new GossipCluster(n, size, recorder)
    try {
      await Promise.all(Array.from({ length: n }, async (_, i) => { await cluster.spawn(i) }))
      // Full mesh of connections, dialled one node at a time (the daemons' membership connects every pair too).
      for (let i = 1; i < n; i++) {
        const addrs = cluster.peers.slice(0, i).map(p => { const a = p.addrs.find(a => a.includes('/tcp/'))!; return a.includes('/p2p/') ? a : `${a}/p2p/${p.peerId}` })
        await cluster.request(i, { cmd: 'dial', addrs }, 'dialed', 30_000)
      }
      await waitFor(async () => {
        for (let i = 0; i < n; i++) {
          const r = await cluster.request(i, { cmd: 'subscribers' }, 'subscribers', 5000)
          if (r.type !== 'subscribers' || r.count < n - 1) return undefined
        }
        return true
      }, 30_000, 'every gossipsub peer to see the others subscribed')
      return cluster
    } catch (err) {
      await cluster.close()
      throw err
    }
  }

  private async spawn (i: number): Promise<void> {
    const child = fork(PEER_PATH, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
    const ready = new Promise<Peer>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`gossip peer ${i + 1} did not start`)) }, PEER_START_TIMEOUT_MS)
      child.once('exit', () => { clearTimeout(timer); reject(new Error(`gossip peer ${i + 1} exited`)) })
      child.on('message', (raw: unknown) => {
        const msg = raw as FromPeer
        if (msg.type === 'recv') this.recorder().markReceived(i, msg.id)
        else if (msg.type === 'ready') { clearTimeout(timer); resolve({ child, peerId: msg.peerId, addrs: msg.addrs, exited }) }
        else if (msg.type === 'error') this.failure = new Error(`gossip peer ${i + 1}: ${msg.message}`)
        for (const w of this.waiters) w(msg, i)
      })
    })
    this.peers[i] = { child, peerId: '', addrs: [], exited }
    this.peers[i] = await ready
  }

  private async request (i: number, msg: ToPeer, answer: FromPeer['type'], timeoutMs: number): Promise<FromPeer> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(waiter); reject(new Error(`gossip peer ${i + 1}: no ${answer} within ${timeoutMs} ms`)) }, timeoutMs)
      const waiter = (m: FromPeer, from: number): void => {
        if (from !== i || (m.type !== answer && m.type !== 'error')) return
        clearTimeout(timer)
        this.waiters.delete(waiter)
        if (m.type === 'error') reject(new Error(`gossip peer ${i + 1}: ${m.message}`))
        else resolve(m)
      }
      this.waiters.add(waiter)
      this.peers[i]!.child.send(msg)
    })
  }

  pids (): number[] {
    return this.peers.map(p => p!.child.pid!)
  }

  async connections (): Promise<number> {
    return this.n - 1
  }

  async publish (id: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    this.peers[0]!.child.send({ cmd: 'publish', id, size: this.size } satisfies ToPeer)
  }

  async burst (firstId: number, count: number, concurrency: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    this.peers[0]!.child.send({ cmd: 'burst', firstId, count, concurrency, size: this.size } satisfies ToPeer)
  }

  async close (): Promise<void> {
    for (const p of this.peers) {
      if (p?.child.connected === true) p.child.send({ cmd: 'stop' } satisfies ToPeer)
    }
    const timer = setTimeout(() => { for (const p of this.peers) p?.child.kill('SIGKILL') }, 8000)
    await Promise.all(this.peers.map(async p => await p?.exited))
    clearTimeout(timer)
  }
}

export { DATA_BYTES }
