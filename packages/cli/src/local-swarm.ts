/**
 * Runs daemons as real child processes on 127.0.0.1 with ephemeral ports, each with its own data dir: the
 * demo's engine, and the harness of the many-node end-to-end tests. Logs go to <data-dir>/daemon.log.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readDaemonInfo, readToken } from '@shoal/node'
import { createRpcClient } from '@shoal/rpc'
import type { RpcClient, ShoalMethods } from '@shoal/rpc'

export const BIN_PATH = fileURLToPath(new URL('./bin.js', import.meta.url))

export interface LocalNode {
  index: number
  dataDir: string
  child: ChildProcess
  peerId: string
  rpcUrl: string
  /** The node's listen addresses, each ending in /p2p/<peer id>. */
  addrs: string[]
  client: RpcClient<ShoalMethods>
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>
}

export interface StartOptions {
  bootstrap?: string[]
  /** More daemon flags, e.g. ['--swarm-key', file]. */
  args?: string[]
  env?: Record<string, string>
  /** Waits this long for the daemon to come up. */
  timeoutMs?: number
  /**
   * A command prefix the daemon runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] (fault harnesses). It must exec
   * the daemon in place (same pid, as `ip netns exec` and `env` do), since the pid written to daemon.json is how
   * the start is recognised and what kill() signals.
   */
  wrapper?: string[]
  /**
   * Replaces the default listen address /ip4/127.0.0.1/tcp/0; null passes no --listen, so the daemon listens on
   * its configured address (the built-in default /ip4/0.0.0.0/tcp/7700: every interface, the default port).
   */
  listen?: string | null
  /** Replaces the default RPC address 127.0.0.1:0 (a non-loopback host also needs --rpc-allow-remote). */
  rpc?: string
  /** Where stdout/stderr go instead of <data-dir>/daemon.log (e.g. off a data dir that a test fills up). */
  logFile?: string
}

export class LocalSwarm {
  readonly nodes = new Map<number, LocalNode>()
  private readonly lastStart = new Map<number, StartOptions>()

  private constructor (readonly root: string, private readonly baseArgs: string[], private readonly command: string[]) {}

  /**
   * `command` is what runs the CLI (`daemon ...` is appended): by default this Node with this checkout's bin.js;
   * a release's `bin/shoal` (an absolute path) runs the daemon from an unpacked release instead. It must exec
   * the daemon in place (same pid), as the release launcher does.
   */
  static async create (opts: { root?: string, args?: string[], command?: string[] } = {}): Promise<LocalSwarm> {
    const root = opts.root ?? await mkdtemp(join(tmpdir(), 'shoal-swarm-'))
    await mkdir(root, { recursive: true })
    return new LocalSwarm(root, opts.args ?? [], opts.command ?? [process.execPath, BIN_PATH])
  }

  dataDir (index: number): string {
    return join(this.root, `node-${index}`)
  }

  /** Starts (or restarts, with the same data dir and so the same identity) node `index`. */
  async start (index: number, opts: StartOptions = {}): Promise<LocalNode> {
    this.lastStart.set(index, opts)
    const dataDir = this.dataDir(index)
    await mkdir(dataDir, { recursive: true })
    const logFile = opts.logFile ?? join(dataDir, 'daemon.log')
    const log = await open(logFile, 'a')
    const listen = opts.listen === null ? [] : ['--listen', opts.listen ?? '/ip4/127.0.0.1/tcp/0']
    const args = [
      'daemon', '--data-dir', dataDir, ...listen, '--rpc', opts.rpc ?? '127.0.0.1:0',
      ...(opts.bootstrap ?? []).flatMap(b => ['--bootstrap', b]), ...this.baseArgs, ...(opts.args ?? [])
    ]
    const [command, ...prefix] = [...(opts.wrapper ?? []), ...this.command]
    const child = spawn(command!, [...prefix, ...args], { stdio: ['ignore', log.fd, log.fd], env: { ...process.env, ...opts.env } })
    const exited = new Promise<number | string>(resolve => {
      child.once('exit', (code, signal) => { void log.close(); resolve(code ?? signal ?? 'unknown') })
    })
    const info = await waitFor(async () => {
      const found = await readDaemonInfo(dataDir)
      return found?.pid === child.pid ? found : undefined
    }, opts.timeoutMs ?? 20_000, `node ${index} did not start (see ${logFile})`, exited)
      // A daemon that missed its deadline is not tracked, so nothing else would stop it (or let the test exit).
      .catch(err => { child.kill('SIGKILL'); throw err })
    const client = createRpcClient<ShoalMethods>({ url: info.rpcUrl, token: await readToken(dataDir) })
    const node: LocalNode = { index, dataDir, child, peerId: info.peerId, rpcUrl: info.rpcUrl, addrs: info.listen, client, exited }
    this.nodes.set(index, node)
    return node
  }

  async restart (index: number): Promise<LocalNode> {
    return await this.start(index, this.lastStart.get(index))
  }

  /** The options node `index` was last started with (what restart() reuses). */
  startOptions (index: number): StartOptions | undefined {
    return this.lastStart.get(index)
  }

  /** Sends a signal without forgetting the node (SIGSTOP/SIGCONT pauses); kill() is for ending it. */
  signal (index: number, signal: NodeJS.Signals): void {
    const node = this.nodes.get(index)
    if (node === undefined) throw new Error(`no node ${index}`)
    node.child.kill(signal)
  }

  /** kill -9 by default: no goodbye, the way a crash looks to the swarm. */
  async kill (index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string> {
    const node = this.nodes.get(index)
    if (node === undefined) throw new Error(`no node ${index}`)
    this.nodes.delete(index)
    node.child.kill(signal)
    return await node.exited
  }

  async stopAll (): Promise<void> {
    await Promise.all([...this.nodes.keys()].map(async i => await this.kill(i, 'SIGTERM')))
  }

  async destroy (): Promise<void> {
    for (const node of this.nodes.values()) node.child.kill('SIGKILL')
    await Promise.all([...this.nodes.values()].map(async n => await n.exited))
    this.nodes.clear()
    await rm(this.root, { recursive: true, force: true })
  }
}

/** Polls `probe` until it returns a value, the deadline passes, or `abandon` settles. */
export async function waitFor<T> (probe: () => Promise<T | undefined>, timeoutMs: number, what: string, abandon?: Promise<unknown>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let gaveUp = false
  void abandon?.then(() => { gaveUp = true })
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (gaveUp) throw new Error(`${what}: the process exited`)
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
