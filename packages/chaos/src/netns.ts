/**
 * Network namespaces for fault tests (root only): one bridge in the root namespace and one namespace per member,
 * each joined to the bridge by a veth pair and given its own address on a private /24. Links between two members
 * are cut with iptables DROP rules inside both namespaces (packets really stop, as with a pulled cable) and
 * healed by flushing them. The root namespace holds the bridge's address, so a client there reaches every
 * member's address directly (an RPC bound to the member's address with --rpc-allow-remote).
 *
 * Every name starts with `prefix` (interface names are at most 15 bytes, so keep it short), and setup() first
 * removes whatever an earlier crashed run left under that prefix: cleanup is idempotent and by name.
 */
import { readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, tryRun } from './sh.js'

/** Another live process holds the prefix: its namespaces must not be swept away by our cleanup. */
export class NetnsBusyError extends Error {
  readonly code = 'ERR_NETNS_BUSY'
  constructor (readonly prefix: string, readonly pid: number) {
    super(`network namespaces '${prefix}*' belong to a running process (pid ${pid}); use another prefix (scripts/dev chaos --netns-prefix NAME) or wait`)
    this.name = 'NetnsBusyError'
  }
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

export interface NetnsLabInit {
  /** Name prefix of every namespace and link, e.g. 'chaos' (at most 8 characters). */
  prefix: string
  /** First three octets of the private /24, e.g. '10.77.0'; the bridge is .1, member i is .(10 + i). */
  subnet: string
  /** Member indexes, e.g. [1, 2, 3]. */
  members: number[]
}

export class NetnsLab {
  readonly bridge: string
  private readonly cuts = new Set<string>()

  constructor (readonly init: NetnsLabInit) {
    if (init.prefix.length > 8 || !/^[a-z][a-z0-9]*$/.test(init.prefix)) throw new Error(`netns prefix '${init.prefix}': 1-8 lowercase letters/digits`)
    this.bridge = `${init.prefix}br`
  }

  ns (i: number): string { return `${this.init.prefix}${i}` }
  /** Member i's interface inside its namespace (its end of the veth pair). */
  iface (i: number): string { return `${this.init.prefix}n${i}` }
  addr (i: number): string { return `${this.init.subnet}.${10 + i}` }
  /** The command prefix that runs a process inside member i's namespace. */
  wrapper (i: number): string[] { return ['ip', 'netns', 'exec', this.ns(i)] }

  /** A lock file per prefix (pid inside): a second run with the same prefix fails instead of deleting ours. */
  private get lockFile (): string { return join(tmpdir(), `${this.init.prefix}.netns.lock`) }

  private lock (): void {
    let holder = NaN
    try { holder = Number(readFileSync(this.lockFile, 'utf8').trim()) } catch {}
    if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) throw new NetnsBusyError(this.init.prefix, holder)
    writeFileSync(this.lockFile, `${process.pid}\n`)
  }

  async setup (): Promise<void> {
    this.lock()
    await this.cleanup()
    const { prefix, subnet } = this.init
    await run('ip', ['link', 'add', this.bridge, 'type', 'bridge'])
    await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', this.bridge])
    await run('ip', ['link', 'set', this.bridge, 'up'])
    for (const i of this.init.members) {
      const ns = this.ns(i)
      const host = `${prefix}h${i}`
      const peer = this.iface(i)
      await run('ip', ['netns', 'add', ns])
      await run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer])
      await run('ip', ['link', 'set', peer, 'netns', ns])
      await run('ip', ['link', 'set', host, 'master', this.bridge])
      await run('ip', ['link', 'set', host, 'up'])
      await this.exec(i, ['ip', 'addr', 'add', `${this.addr(i)}/24`, 'dev', peer])
      await this.exec(i, ['ip', 'link', 'set', peer, 'up'])
      await this.exec(i, ['ip', 'link', 'set', 'lo', 'up'])
    }
  }

  async exec (i: number, cmd: string[]): Promise<string> {
    return await run('ip', ['netns', 'exec', this.ns(i), ...cmd])
  }

  /** Drops every packet between a and b, both ways (idempotent). */
  async cut (a: number, b: number): Promise<void> {
    await this.applyCuts([[a, b]])
  }

  /** Cuts every link between members of different groups; a member in two groups (a bridge) keeps both sides. */
  async partition (groups: number[][]): Promise<void> {
    const together = (a: number, b: number): boolean => groups.some(g => g.includes(a) && g.includes(b))
    const all = this.init.members
    const pairs: Array<[number, number]> = []
    for (const a of all) for (const b of all) if (a < b && !together(a, b)) pairs.push([a, b])
    await this.applyCuts(pairs)
  }

  /** One shell per namespace, all namespaces at once: a partition lands within one process spawn, not dozens. */
  private async applyCuts (pairs: Array<[number, number]>): Promise<void> {
    const rules = new Map<number, string[]>()
    for (const [a, b] of pairs) {
      const key = a < b ? `${a}-${b}` : `${b}-${a}`
      if (this.cuts.has(key)) continue
      this.cuts.add(key)
      for (const [x, y] of [[a, b], [b, a]] as const) {
        const list = rules.get(x) ?? []
        list.push(`iptables -w -A INPUT -s ${this.addr(y)} -j DROP`, `iptables -w -A OUTPUT -d ${this.addr(y)} -j DROP`)
        rules.set(x, list)
      }
    }
    await Promise.all([...rules].map(async ([x, cmds]) => await this.exec(x, ['sh', '-ec', cmds.join('; ')])))
  }

  /** Removes every DROP rule. */
  async heal (): Promise<void> {
    this.cuts.clear()
    await Promise.all(this.init.members.map(async i => await this.exec(i, ['sh', '-c', 'iptables -w -F INPUT; iptables -w -F OUTPUT']).catch(() => undefined)))
  }

  /** Removes everything (cleanup) and gives up the prefix's lock. */
  async teardown (): Promise<void> {
    await this.cleanup()
    try { if (Number(readFileSync(this.lockFile, 'utf8').trim()) === process.pid) rmSync(this.lockFile) } catch {}
  }

  /** Deletes every namespace and link named with the prefix (also those of a crashed earlier run). */
  async cleanup (): Promise<void> {
    const prefix = this.init.prefix
    const names = (await run('ip', ['netns', 'list']).catch(() => '')).split('\n').map(l => l.split(' ')[0] ?? '').filter(n => new RegExp(`^${prefix}\\d+$`).test(n))
    for (const n of names) await tryRun('ip', ['netns', 'del', n])
    const links = (await run('ip', ['-o', 'link', 'show']).catch(() => '')).split('\n')
      .map(l => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '').filter(n => n === this.bridge || new RegExp(`^${prefix}h\\d+$`).test(n))
    for (const l of links) await tryRun('ip', ['link', 'del', l])
  }
}
