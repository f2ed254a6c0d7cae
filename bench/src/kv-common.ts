/**
 * What the KV benchmarks share: key/value payloads, a bounded concurrent driver, and in-process nodes over
 * the memory transport that keep their identity across a restart (MemorySwarm draws a new key per node).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig, seededRng, silentLogger } from '@shoal/core'
import type { ConfigInput } from '@shoal/core'
import { createShoalNode, systemClock } from '@shoal/node'
import type { ShoalNode, ShoalNodeInit } from '@shoal/node'
import { DATA_BYTES, sleep } from './common.js'

/** A JSON value of about DATA_BYTES bytes, the size the event benchmarks use for `data`. */
export function kvValue (n: number): { n: number, t: number, pad: string } {
  const t = Date.now()
  const head = JSON.stringify({ n, t, pad: '' }).length
  return { n, t, pad: 'x'.repeat(Math.max(0, DATA_BYTES - head)) }
}

/**
 * Runs op(0..count-1) with `concurrency` loops pulling the next index; returns ops per second. Gives up
 * (throws) past `deadlineMs` so a stuck backend cannot hang the run.
 */
export async function drive (count: number, concurrency: number, op: (i: number) => Promise<unknown>, deadlineMs = 300_000): Promise<number> {
  let next = 0
  const deadline = Date.now() + deadlineMs
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      if (Date.now() > deadline) throw new Error(`gave up after ${deadlineMs} ms with ${next} of ${count} done`)
      await op(next++)
    }
  }))
  return count / ((performance.now() - t0) / 1000)
}

/** Polls `probe` every `everyMs` until it returns true; false once `timeoutMs` has passed. */
export async function pollUntil (probe: () => Promise<boolean> | boolean, timeoutMs: number, everyMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await probe()) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}

let counter = 0

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>

/** In-process Shoal nodes over libp2p's memory transport, each a real LevelDB in a temp dir. */
export class MemoryNodes {
  private readonly keys = new Map<number, PrivateKey>()
  readonly nodes = new Map<number, ShoalNode>()
  private readonly prefix = `shoal-bench-${process.pid}-${counter++}`

  private constructor (readonly root: string, private readonly config: ConfigInput) {}

  static async create (config: ConfigInput = {}): Promise<MemoryNodes> {
    return new MemoryNodes(await mkdtemp(join(tmpdir(), 'shoal-bench-')), config)
  }

  dataDir (i: number): string {
    return join(this.root, `node-${i}`)
  }

  /** Starts (or restarts, same data dir and identity) node `i`, bootstrapping through `bootstrap`. */
  async start (i: number, bootstrap?: ShoalNode, wrapStore?: ShoalNodeInit['wrapStore']): Promise<ShoalNode> {
    let key = this.keys.get(i)
    if (key === undefined) {
      key = await generateKeyPair('Ed25519')
      this.keys.set(i, key)
    }
    const config = resolveConfig({
      defaultDataDir: this.dataDir(i),
      flags: { ...this.config, listen: [`/memory/${this.prefix}-${i}`], bootstrap: bootstrap === undefined ? [] : [bootstrap.info().addresses[0]!] }
    })
    const node = await createShoalNode({ clock: systemClock, rng: seededRng(i), logger: silentLogger }, { config, privateKey: key, transport: 'memory', ...(wrapStore !== undefined ? { wrapStore } : {}) })
    this.nodes.set(i, node)
    return node
  }

  async stop (i: number): Promise<void> {
    const node = this.nodes.get(i)
    this.nodes.delete(i)
    await node?.stop()
  }

  async destroy (): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map(async n => { await n.stop() }))
    this.nodes.clear()
    await rm(this.root, { recursive: true, force: true })
  }
}
