/**
 * The cluster under test: real daemons through LocalSwarm, each optionally inside its own network namespace
 * (NetnsLab), with a movable wall clock (libfaketime preloaded, offset read from a per-node file on every
 * clock call) and a size-limited tmpfs data dir (a real ENOSPC when filled). Faults are methods here; which
 * fault runs when is the nemesis's business.
 */
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile, appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode, StartOptions } from '@shoal/cli/local-swarm'
import type { RpcClient, ShoalMethods } from '@shoal/rpc'
import { NetnsLab } from './netns.js'
import { run, tryRun } from './sh.js'

/** Debian's libfaketime (package `faketime`); preloaded directly so the daemon keeps its pid (the faketime binary forks). */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'

/** Daemons started at once; more only queue for the same 2 cores. */
const START_BATCH = 2
/** A daemon start measured ~1 s on a quiet machine and >30 s at load average 30 (other work on the box). */
const START_TIMEOUT_MS = 90_000

export interface ClusterInit {
  nodes: number
  /** Run directory: data dirs, clock files and the chaos-sum module go under it. */
  dir: string
  netns: boolean
  /** libfaketime available: every daemon starts with a clock file (offset 0 until a skew fault). */
  clocks: boolean
  /** tmpfs size per node data dir in MiB (root only), or undefined for plain directories. */
  tmpfsMb?: number
  /** Fixed clock offset per node for the whole run, ms (skew faults add to it; healing returns to it). */
  baseOffsetMs?: Record<number, number>
  /** Per-node config.json contents (mixed fleets). */
  config: (index: number) => Record<string, unknown>
  /** Name prefix for namespaces and links. */
  prefix: string
  subnet: string
  log: (line: string) => void
}

export class ChaosCluster {
  readonly swarm: LocalSwarm
  readonly lab: NetnsLab | undefined
  readonly indexes: number[]
  readonly peerIds: Record<number, string> = {}
  private readonly mounted: string[] = []
  private readonly paused = new Set<number>()
  private readonly filled = new Set<number>()
  private wipes = 0
  /** Daemons that exited without the nemesis killing them (a crash is a finding of its own). */
  readonly crashes: Array<{ node: number, at: number, exit: number | string }> = []
  private readonly expectedExit = new Set<number>()
  /** When each node's db/ was moved aside (checkers discount what the node knew before). */
  readonly wipeLog: Array<{ node: number, at: number }> = []

  private constructor (readonly init: ClusterInit, swarm: LocalSwarm) {
    this.swarm = swarm
    this.indexes = Array.from({ length: init.nodes }, (_, i) => i + 1)
    this.lab = init.netns ? new NetnsLab({ prefix: init.prefix, subnet: init.subnet, members: this.indexes }) : undefined
  }

  static async create (init: ClusterInit): Promise<ChaosCluster> {
    const root = join(init.dir, 'nodes')
    await mkdir(root, { recursive: true })
    const swarm = await LocalSwarm.create({ root, args: ['--log-level', 'warn', '--swarm', 'chaos', '--debug'] })
    return new ChaosCluster(init, swarm)
  }

  clockFile (i: number): string { return join(this.init.dir, `clock-${i}`) }

  /** The RPC client of node i as it runs now (a restart makes a new one), or undefined while it is down. */
  client (i: number): RpcClient<ShoalMethods> | undefined { return this.swarm.nodes.get(i)?.client }
  isUp (i: number): boolean {
    const n = this.swarm.nodes.get(i)
    return n !== undefined && n.child.exitCode === null && n.child.signalCode === null
  }

  logFile (i: number): string { return join(this.init.dir, 'logs', `node-${i}.log`) }

  /** Starts node i through LocalSwarm and watches for an exit nobody asked for. */
  private async launch (i: number, bootstrap: string[]): Promise<LocalNode> {
    this.expectedExit.delete(i)
    const node = await this.swarm.start(i, this.startOptions(i, bootstrap))
    void node.exited.then(exit => {
      if (this.expectedExit.has(i)) return
      this.crashes.push({ node: i, at: Date.now(), exit })
      this.init.log(`node ${i} exited on its own (${String(exit)}); see ${this.logFile(i)}`)
      void this.record(`node ${i} crashed: ${String(exit)}`)
    })
    return node
  }
  isPaused (i: number): boolean { return this.paused.has(i) }

  async start (): Promise<void> {
    if (this.lab !== undefined) await this.lab.setup()
    for (const i of this.indexes) {
      const dir = this.swarm.dataDir(i)
      await mkdir(dir, { recursive: true })
      if (this.init.tmpfsMb !== undefined) {
        await tryRun('umount', ['-l', dir])
        await run('mount', ['-t', 'tmpfs', '-o', `size=${this.init.tmpfsMb}m`, `${this.init.prefix}-tmpfs`, dir])
        this.mounted.push(dir)
      }
      await writeFile(join(dir, 'config.json'), JSON.stringify(this.init.config(i), null, 2) + '\n')
      if (this.init.clocks) await this.setClock(i, 0)
    }
    const first = await this.launch(1, [])
    this.peerIds[1] = first.peerId
    const boot = first.addrs[0]!
    // Two at a time: starting many Node processes at once on 2 busy cores can take longer than a start deadline.
    const rest = this.indexes.slice(1)
    for (let k = 0; k < rest.length; k += START_BATCH) {
      await Promise.all(rest.slice(k, k + START_BATCH).map(async i => {
        const n = await this.launch(i, [boot])
        this.peerIds[i] = n.peerId
      }))
    }
  }

  private startOptions (i: number, bootstrap: string[]): StartOptions {
    const env: Record<string, string> = {}
    if (this.init.clocks) {
      Object.assign(env, { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: this.clockFile(i), FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' })
    }
    const lab = this.lab
    if (lab === undefined) return { bootstrap, env, timeoutMs: START_TIMEOUT_MS, logFile: this.logFile(i) }
    return {
      bootstrap,
      logFile: this.logFile(i),
      env,
      timeoutMs: START_TIMEOUT_MS,
      wrapper: lab.wrapper(i),
      listen: `/ip4/${lab.addr(i)}/tcp/7700`,
      rpc: `${lab.addr(i)}:7701`,
      args: ['--rpc-allow-remote']
    }
  }

  /** Every member's listen address, for a restarted node to find the swarm again. */
  private bootstrapFor (i: number): string[] {
    return this.indexes.filter(j => j !== i && this.isUp(j)).flatMap(j => this.swarm.nodes.get(j)?.addrs.slice(0, 1) ?? [])
  }

  async kill (i: number): Promise<void> {
    if (!this.swarm.nodes.has(i)) return
    this.paused.delete(i)
    this.expectedExit.add(i)
    await this.swarm.kill(i, 'SIGKILL')
  }

  async restart (i: number): Promise<LocalNode | undefined> {
    if (this.isUp(i)) return this.swarm.nodes.get(i)
    if (this.swarm.nodes.has(i)) await this.kill(i)
    try {
      return await this.launch(i, this.bootstrapFor(i))
    } catch (err) {
      this.init.log(`node ${i} failed to restart: ${(err as Error).message}`)
      return undefined
    }
  }

  pause (i: number): void {
    if (!this.swarm.nodes.has(i) || this.paused.has(i)) return
    this.swarm.signal(i, 'SIGSTOP')
    this.paused.add(i)
  }

  resume (i: number): void {
    if (!this.paused.has(i)) return
    this.paused.delete(i)
    if (this.swarm.nodes.has(i)) this.swarm.signal(i, 'SIGCONT')
  }

  /** kill -9, move db/ aside (as an operator following an error message would), restart with an empty log. */
  async wipe (i: number): Promise<void> {
    await this.kill(i)
    const db = join(this.swarm.dataDir(i), 'db')
    if (existsSync(db)) await rename(db, `${db}.aside-${++this.wipes}`)
    this.wipeLog.push({ node: i, at: Date.now() })
    await this.restart(i)
  }

  /** Moves node i's wall clock to real time + its base offset + offsetMs (whole seconds; libfaketime reads the file on each call). */
  async setClock (i: number, offsetMs: number): Promise<void> {
    if (!this.init.clocks) return
    const s = Math.round((offsetMs + (this.init.baseOffsetMs?.[i] ?? 0)) / 1000)
    await writeFile(this.clockFile(i), `${s >= 0 ? '+' : ''}${s}\n`)
  }

  /** Fills node i's tmpfs data dir to the last byte (ENOSPC for every later write). */
  async fillDisk (i: number): Promise<void> {
    if (this.init.tmpfsMb === undefined) return
    this.filled.add(i)
    await tryRun('dd', ['if=/dev/zero', `of=${join(this.swarm.dataDir(i), 'ballast')}`, 'bs=1M', `count=${this.init.tmpfsMb}`])
  }

  async freeDisk (i: number): Promise<void> {
    if (!this.filled.delete(i)) return
    await rm(join(this.swarm.dataDir(i), 'ballast'), { force: true })
  }

  /** Cuts links between the groups: iptables in namespaces, else debug.partition on each node. */
  async partition (groups: number[][]): Promise<void> {
    if (this.lab !== undefined) { await this.lab.partition(groups); return }
    const together = (a: number, b: number): boolean => groups.some(g => g.includes(a) && g.includes(b))
    await Promise.all(this.indexes.map(async a => {
      const deny = this.indexes.filter(b => b !== a && !together(a, b)).map(b => this.peerIds[b]!)
      await this.client(a)?.call('debug.partition', { deny }, { timeoutMs: 5000 }).catch(() => undefined)
    }))
  }

  async healNetwork (): Promise<void> {
    if (this.lab !== undefined) { await this.lab.heal(); return }
    await Promise.all(this.indexes.map(async a => await this.client(a)?.call('debug.partition', { deny: [] }, { timeoutMs: 5000 }).catch(() => undefined)))
  }

  /** Undoes every fault: network, clocks, disks, pauses, and restarts every node that is down. */
  async healAll (): Promise<void> {
    await this.healNetwork()
    for (const i of this.indexes) {
      this.resume(i)
      await this.setClock(i, 0)
      await this.freeDisk(i)
    }
    for (const i of this.indexes) if (!this.isUp(i)) await this.restart(i)
    // debug.partition lives in memory: a restarted node starts healed, the others were healed above.
    if (this.lab === undefined) await this.healNetwork()
  }

  async record (line: string): Promise<void> {
    await appendFile(join(this.init.dir, 'cluster.log'), `${new Date().toISOString()} ${line}\n`)
  }

  /** Kills every daemon, removes namespaces and mounts. Idempotent; never throws. */
  async destroy (): Promise<void> {
    for (const i of this.indexes) { this.resume(i); this.expectedExit.add(i) }
    for (const n of this.swarm.nodes.values()) n.child.kill('SIGKILL')
    await Promise.all([...this.swarm.nodes.values()].map(async n => await n.exited))
    this.swarm.nodes.clear()
    for (const dir of this.mounted) await tryRun('umount', ['-l', dir])
    if (this.lab !== undefined) await this.lab.teardown()
  }
}
