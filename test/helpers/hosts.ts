/**
 * Many machines on one box (root only): each daemon runs from the unpacked release (bin/shoal, its own Node, a
 * PATH with no node on it) inside its own network namespace, joined to a bridge by a veth pair with an address
 * of the lab's choosing (NetnsLab from @shoal/chaos). Every host listens with the built-in default, so on the
 * same port (7700) at its own address, and serves RPC on its own address at the default RPC port (7701,
 * --rpc-allow-remote) so the test, in the root namespace, reaches each host over the bridge.
 *
 * Names: `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for the process it runs, so each
 * host resolves `<prefix>-host<i>` through its own hosts file, as a machine on a LAN resolves its neighbours
 * (bootstrap by name: /dns4/<prefix>-host1/tcp/7700, no peer id).
 *
 * Cleanup is by name and idempotent: setup() first removes what an earlier crashed run left (namespaces, links,
 * /etc/netns/<prefix><i>), destroy() kills every daemon and removes it all, also after a failed test.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NetnsLab } from '@shoal/chaos'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import type { UnpackedRelease } from './release.js'

/** The daemon's built-in ports (packages/core/src/constants.ts DEFAULT_LISTEN, DEFAULT_RPC_PORT). */
export const P2P_PORT = 7700
export const RPC_PORT = 7701
/** Where `ip netns exec` looks for per-namespace /etc files (iproute2's NETNS_ETC_DIR). */
const NETNS_ETC = '/etc/netns'
/** A daemon start measured ~1 s on a quiet machine and >30 s at load average 30 (packages/chaos cluster.ts). */
const START_TIMEOUT_MS = 90_000

export interface HostLabInit {
  release: UnpackedRelease
  hosts: number
  /** Namespace and link prefix, at most 8 characters; also the host name prefix (`<prefix>-host<i>`). */
  prefix: string
  /** First three octets of the lab's /24; host i gets .(10 + i), the bridge (the test's side) .1. */
  subnet: string
  /** Data dirs and logs go under it. */
  dir: string
  /** More daemon flags for every host. */
  args?: string[]
  /** Daemon logs go here as host-<i>.log (kept after destroy(), for a failed run); else into each data dir. */
  logDir?: string
}

export interface Run { code: number, stdout: string, stderr: string }

export class HostLab {
  readonly net: NetnsLab
  readonly swarm: LocalSwarm
  readonly indexes: number[]
  private ip = 'ip'
  /** Set once NetnsLab took the prefix's lock: only then may destroy() remove namespaces by that prefix. */
  private owned = false

  private constructor (readonly init: HostLabInit, swarm: LocalSwarm) {
    this.indexes = Array.from({ length: init.hosts }, (_, i) => i + 1)
    this.net = new NetnsLab({ prefix: init.prefix, subnet: init.subnet, members: this.indexes })
    this.swarm = swarm
  }

  static async create (init: HostLabInit): Promise<HostLab> {
    const swarm = await LocalSwarm.create({ root: join(init.dir, 'hosts'), command: [init.release.shoal], args: init.args ?? [] })
    return new HostLab(init, swarm)
  }

  /** Host i's name in every host's hosts file. */
  hostName (i: number): string { return `${this.init.prefix}-host${i}` }
  addr (i: number): string { return this.net.addr(i) }
  dataDir (i: number): string { return this.swarm.dataDir(i) }
  node (i: number): LocalNode {
    const n = this.swarm.nodes.get(i)
    if (n === undefined) throw new Error(`host ${i} is not running`)
    return n
  }

  /** The environment of every host process: no node on PATH, HOME inside the lab. */
  private env (): Record<string, string> {
    return { PATH: this.init.release.barePath, HOME: join(this.init.dir, 'home') }
  }

  /** Namespaces, bridge, veths, addresses, and each host's hosts file naming all of them. */
  async setup (): Promise<void> {
    if (this.init.logDir !== undefined) await mkdir(this.init.logDir, { recursive: true })
    this.ip = (await sh('command -v ip')).stdout.trim() || 'ip'
    try {
      await this.net.setup()
      this.owned = true
    } catch (err) {
      // Another live run holds the prefix (ERR_NETNS_BUSY): its namespaces are not ours to remove.
      if ((err as { code?: string }).code !== 'ERR_NETNS_BUSY') this.owned = true
      throw err
    }
    await this.removeEtc()
    const hosts = ['127.0.0.1 localhost', ...this.indexes.map(i => `${this.addr(i)} ${this.hostName(i)}`)].join('\n') + '\n'
    for (const i of this.indexes) {
      await mkdir(join(NETNS_ETC, this.net.ns(i)), { recursive: true })
      await writeFile(join(NETNS_ETC, this.net.ns(i), 'hosts'), hosts)
      // A LAN host has a default route; these have only their /24. Multicast (mDNS) needs a route of its own.
      await this.net.exec(i, ['ip', 'route', 'add', '224.0.0.0/4', 'dev', this.net.iface(i)])
    }
  }

  /** Runs bin/shoal on host i (inside its namespace, no node on PATH), e.g. ['init', '--data-dir', d]. */
  async shoal (i: number, args: string[], timeoutMs = 60_000): Promise<Run> {
    return await run(this.ip, ['netns', 'exec', this.net.ns(i), this.init.release.shoal, ...args], this.env(), timeoutMs)
  }

  /** `shoal init` on host i with the swarm key (the key is copied into the data dir, as an operator does). */
  async initHost (i: number, swarmKeyFile: string): Promise<void> {
    const r = await this.shoal(i, ['init', '--data-dir', this.dataDir(i), '--swarm-key', swarmKeyFile])
    if (r.code !== 0) throw new Error(`shoal init on host ${i} failed (${r.code}): ${r.stderr}`)
  }

  /** Starts (or restarts) host i's daemon: default listen address and port, RPC on its own address. */
  async start (i: number, bootstrap: string[] = [], args: string[] = []): Promise<LocalNode> {
    return await this.swarm.start(i, {
      bootstrap,
      wrapper: [this.ip, 'netns', 'exec', this.net.ns(i)],
      listen: null,
      rpc: `${this.addr(i)}:${RPC_PORT}`,
      args: ['--rpc-allow-remote', ...args],
      env: this.env(),
      timeoutMs: START_TIMEOUT_MS,
      ...(this.init.logDir !== undefined ? { logFile: join(this.init.logDir, `host-${i}.log`) } : {})
    })
  }

  /** Cuts host i off from every other host (iptables DROP both ways in each namespace); the test still reaches it. */
  async isolate (i: number): Promise<void> {
    await this.net.partition([this.indexes.filter(j => j !== i), [i]])
  }

  async heal (): Promise<void> { await this.net.heal() }

  /** Kills every daemon and removes namespaces, links, hosts files and data. Idempotent; never throws. */
  async destroy (): Promise<void> {
    await this.swarm.destroy().catch(() => undefined)
    if (!this.owned) return
    await this.net.teardown().catch(() => undefined)
    await this.removeEtc().catch(() => undefined)
  }

  /** /etc/netns/<prefix><n> of this lab's prefix (also a crashed run's). */
  private async removeEtc (): Promise<void> {
    if (!existsSync(NETNS_ETC)) return
    const mine = new RegExp(`^${this.init.prefix}\\d+$`)
    for (const name of await readdir(NETNS_ETC)) {
      if (mine.test(name)) await rm(join(NETNS_ETC, name), { recursive: true, force: true })
    }
  }
}

export async function run (file: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return await new Promise(resolve => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

async function sh (script: string): Promise<Run> {
  return await run('/bin/sh', ['-c', script], { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' })
}
