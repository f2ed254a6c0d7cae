/**
 * Many Shoal nodes in one process over libp2p's memory transport: fast tests, and a base for simulating
 * larger swarms. Each node gets its own data dir (a real LevelDB) and a seeded random source.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig, seededRng, silentLogger } from '@shoal/core'
import type { Clock, ConfigInput, Logger } from '@shoal/core'
import type { PrivateKey } from '@libp2p/interface'
import { createShoalNode, systemClock } from '@shoal/node'
import type { ShoalNode, ShoalNodeInit } from '@shoal/node'

export interface MemorySwarmInit {
  /** Seeds each node's random source (node i gets seed + i), so probe orders replay. */
  seed?: number
  logger?: Logger
  /** Config for every node (membership timings, swarm name...). */
  config?: ConfigInput
}

export interface AddOptions {
  bootstrap?: ShoalNode | null
  config?: ConfigInput
  clock?: Clock
  privateKey?: PrivateKey
  wrapStore?: ShoalNodeInit['wrapStore']
}

/**
 * A wall clock `offsetMs` ahead of the system clock (behind when negative), as a skewed machine's would be; set
 * `offsetMs` to make it jump. Timers and the monotonic clock stay real (as with faketime's DONT_FAKE_MONOTONIC).
 */
export function skewedClock (offsetMs: number): Clock & { offsetMs: number } {
  const clock = {
    offsetMs,
    now: () => Date.now() + clock.offsetMs,
    monotonic: () => performance.now(),
    setTimer: (fn: () => void, ms: number) => systemClock.setTimer(fn, ms)
  }
  return clock
}

let swarmCounter = 0

export class MemorySwarm {
  readonly nodes: ShoalNode[] = []
  private readonly prefix = `shoal-${process.pid}-${swarmCounter++}`

  private constructor (private readonly root: string, private readonly init: MemorySwarmInit) {}

  static async create (init: MemorySwarmInit = {}): Promise<MemorySwarm> {
    return new MemorySwarm(await mkdtemp(join(tmpdir(), 'shoal-mem-')), init)
  }

  /** How each node was made, so `restart` can make it again with the same key and data dir. */
  private readonly made: Array<AddOptions & { privateKey: PrivateKey }> = []

  /**
   * Adds a node that bootstraps through `bootstrap` (default: the first node). `clock` skews its time (default
   * the system clock); `wrapStore` injects store faults.
   */
  async add (opts: AddOptions = {}): Promise<ShoalNode> {
    const i = this.nodes.length
    const made = { ...opts, privateKey: opts.privateKey ?? await generateKeyPair('Ed25519') }
    this.made.push(made)
    const node = await this.make(i, made)
    this.nodes.push(node)
    return node
  }

  /** Stops node `i` (gracefully) and starts it again on its data dir with its key; `opts` override how it was made. */
  async restart (i: number, opts: Partial<Omit<AddOptions, 'privateKey'>> = {}): Promise<ShoalNode> {
    await this.nodes[i]!.stop()
    const made = { ...this.made[i]!, ...opts }
    this.made[i] = made
    const node = await this.make(i, { ...made, bootstrap: made.bootstrap === undefined ? (i === 0 ? null : this.nodes[0]) : made.bootstrap })
    this.nodes[i] = node
    return node
  }

  /** Where node `i` keeps its data. */
  dataDir (i: number): string {
    return join(this.root, `node-${i}`)
  }

  private async make (i: number, opts: AddOptions & { privateKey: PrivateKey }): Promise<ShoalNode> {
    const boot = opts.bootstrap === undefined ? this.nodes[0] : opts.bootstrap
    const config = resolveConfig({
      defaultDataDir: this.dataDir(i),
      flags: {
        ...this.init.config,
        ...opts.config,
        listen: [`/memory/${this.prefix}-${i}`],
        bootstrap: boot === null || boot === undefined ? [] : [boot.info().addresses[0]!]
      }
    })
    return await createShoalNode(
      { clock: opts.clock ?? systemClock, rng: seededRng((this.init.seed ?? 1) + i), logger: this.init.logger ?? silentLogger },
      { config, privateKey: opts.privateKey, transport: 'memory', ...(opts.wrapStore !== undefined ? { wrapStore: opts.wrapStore } : {}) }
    )
  }

  /** How many members each node sees in `state`. */
  counts (state: string): number[] {
    return this.nodes.map(n => n.members().filter(m => m.state === state).length)
  }

  async destroy (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => { await n.stop() }))
    await rm(this.root, { recursive: true, force: true })
  }
}
