/**
 * Many Shoal nodes in one process over libp2p's memory transport: fast tests, and a base for simulating
 * larger swarms. Each node gets its own data dir (a real LevelDB) and a seeded random source.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig, seededRng, silentLogger } from '@shoal/core'
import type { ConfigInput, Logger } from '@shoal/core'
import { createShoalNode, systemClock } from '@shoal/node'
import type { ShoalNode } from '@shoal/node'

export interface MemorySwarmInit {
  /** Seeds each node's random source (node i gets seed + i), so probe orders replay. */
  seed?: number
  logger?: Logger
  /** Config for every node (membership timings, swarm name...). */
  config?: ConfigInput
}

let swarmCounter = 0

export class MemorySwarm {
  readonly nodes: ShoalNode[] = []
  private readonly prefix = `shoal-${process.pid}-${swarmCounter++}`

  private constructor (private readonly root: string, private readonly init: MemorySwarmInit) {}

  static async create (init: MemorySwarmInit = {}): Promise<MemorySwarm> {
    return new MemorySwarm(await mkdtemp(join(tmpdir(), 'shoal-mem-')), init)
  }

  /** Adds a node that bootstraps through `bootstrap` (default: the first node). */
  async add (opts: { bootstrap?: ShoalNode | null, config?: ConfigInput } = {}): Promise<ShoalNode> {
    const i = this.nodes.length
    const boot = opts.bootstrap === undefined ? this.nodes[0] : opts.bootstrap
    const config = resolveConfig({
      defaultDataDir: join(this.root, `node-${i}`),
      flags: {
        ...this.init.config,
        ...opts.config,
        listen: [`/memory/${this.prefix}-${i}`],
        bootstrap: boot === null || boot === undefined ? [] : [boot.info().addresses[0]!]
      }
    })
    const node = await createShoalNode(
      { clock: systemClock, rng: seededRng((this.init.seed ?? 1) + i), logger: this.init.logger ?? silentLogger },
      { config, privateKey: await generateKeyPair('Ed25519'), transport: 'memory' }
    )
    this.nodes.push(node)
    return node
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
