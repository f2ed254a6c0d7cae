/**
 * `shoal doctor`: checks a running node's set-up against the traps we know (docs/operations.md, "shoal doctor").
 * Each check reads facts the node already has (info, members, connections, stats, config, the disk) and says
 * ok, warn or fail, with a fix when it is not ok. Nothing here changes the node.
 */
import { statfs } from 'node:fs/promises'
import type { ShoalConfig } from '@shoal/core'
import type { ShoalNode } from './shoal-node.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface Check {
  id: string
  status: CheckStatus
  message: string
  fix?: string
}

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** Below this much free space the store will soon refuse writes (ENOSPC): fail. */
export const DISK_FAIL_BYTES = 100 * MiB
/** Below 1 GiB or 5% free: warn while there is still time to act. */
export const DISK_WARN_BYTES = GiB
export const DISK_WARN_FRACTION = 0.05
/** Event-loop p99 delay above this delays probes and acks enough to make peers suspect us. */
export const LOOP_LAG_WARN_MS = 200
/** Clock skew a healthy NTP-synced swarm never reaches; events are refused at events.maxClockDriftMs. */
export const SKEW_WARN_MS = 2000
/** Skews older than this are not "recent": the peer may have fixed its clock since. */
export const SKEW_RECENT_MS = 10 * 60 * 1000
/** libp2p's own default inbound threshold: too low for many nodes sharing 127.0.0.1. */
export const LIBP2P_DEFAULT_INBOUND_PER_HOST = 5

/** Transports that @libp2p/pnet does not protect, or that this daemon does not run (TCP only). */
const UNPROTECTED = ['webrtc', 'webrtc-direct', 'webtransport']
const NOT_TCP = ['ws', 'wss', 'quic', 'quic-v1', ...UNPROTECTED]

export async function diagnose (node: ShoalNode, config: ShoalConfig, now: number): Promise<Check[]> {
  return [
    dht(node),
    transports(node, config),
    rpcHost(config),
    await disk(config.dataDir),
    loopLag(node),
    clockSkew(node, config, now),
    membership(node, config),
    connections(node),
    inboundThreshold(config),
    kvConvergence(node)
  ]
}

function check (id: string, status: CheckStatus, message: string, fix?: string): Check {
  return status === 'ok' || fix === undefined ? { id, status, message } : { id, status, message, fix }
}

function otherAlive (node: ShoalNode): string[] {
  return node.members().filter(m => m.id !== node.peerId && (m.state === 'alive' || m.state === 'suspect')).map(m => m.id)
}

/** The parts of a multiaddr string (protocol names and values alike: enough to spot a protocol name). */
function protocolsOf (addr: string): string[] {
  return addr.toLowerCase().split('/')
}

function dht (node: ShoalNode): Check {
  const { mode, routingTableSize } = node.info().dht
  const others = otherAlive(node).length
  if (mode !== 'server') {
    return check('dht', 'warn', `the DHT runs in ${mode} mode: it answers no queries, so a LAN or loopback swarm forms no DHT`,
      'kad-dht needs clientMode: false (and a peer-info mapper that keeps private addresses) on a private network')
  }
  if (routingTableSize === 0 && others > 0) {
    return check('dht', 'warn', `DHT in server mode but its routing table is empty while ${others} member(s) are alive`,
      'check that peers speak the same swarm (same --swarm name) and that identify succeeds (see the daemon log)')
  }
  return check('dht', 'ok', `DHT in ${mode} mode, ${routingTableSize} peer(s) in the routing table`)
}

function transports (node: ShoalNode, config: ShoalConfig): Check {
  const isPrivate = node.info().private
  const listed = config.listen.length === 0 ? 'none' : config.listen.join(', ')
  const unprotected = config.listen.filter(a => protocolsOf(a).some(p => NOT_TCP.includes(p)))
  if (isPrivate && unprotected.length > 0) {
    return check('transports', 'fail', `private swarm with listen address(es) pnet cannot protect or that bypass the swarm key: ${unprotected.join(', ')}`,
      'remove every /webrtc, /webrtc-direct, /webtransport, /ws and /wss address from listen: @libp2p/pnet does not protect WebRTC or WebTransport, so a private swarm must listen on TCP only')
  }
  if (unprotected.length > 0) {
    return check('transports', 'warn', `listen address(es) this daemon has no transport for (it runs TCP only): ${unprotected.join(', ')}`,
      'remove them from listen, or use /ip4/<addr>/tcp/<port>')
  }
  return check('transports', 'ok', `${isPrivate ? 'private' : 'public'} swarm, listening on ${listed}`)
}

function isLoopbackHost (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\./.test(h)
}

function rpcHost (config: ShoalConfig): Check {
  const { host, allowNonLoopback } = config.rpc
  if (isLoopbackHost(host)) return check('rpc', 'ok', `RPC on ${host} (this machine only)`)
  return check('rpc', 'warn', `RPC listens on ${host}${allowNonLoopback ? ' (rpc.allowNonLoopback)' : ''}: other machines can reach it and the token travels in clear text`,
    'serve RPC on 127.0.0.1 (--rpc 127.0.0.1:7701) and reach it through an SSH tunnel or a TLS proxy')
}

async function disk (dataDir: string): Promise<Check> {
  let free: number, total: number
  try {
    const s = await statfs(dataDir)
    free = Number(s.bavail) * Number(s.bsize)
    total = Number(s.blocks) * Number(s.bsize)
  } catch (err) {
    return check('disk', 'warn', `could not read free space of ${dataDir}: ${(err as Error).message}`)
  }
  const pct = total > 0 ? (100 * free) / total : 0
  const what = `${fmtBytes(free)} free of ${fmtBytes(total)} (${pct.toFixed(1)}%) on ${dataDir}`
  const fix = 'free space on that file system or move the data dir (--data-dir) to a larger one; writes fail with ERR_STORE_FULL when it runs out'
  if (free < DISK_FAIL_BYTES) return check('disk', 'fail', what, fix)
  if (free < DISK_WARN_BYTES || free < DISK_WARN_FRACTION * total) return check('disk', 'warn', what, fix)
  return check('disk', 'ok', what)
}

function fmtBytes (n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`
  return `${(n / MiB).toFixed(1)} MiB`
}

function loopLag (node: ShoalNode): Check {
  const { p99Ms, maxMs } = node.eventLoopDelay()
  const what = `event-loop delay p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms since start`
  if (p99Ms > LOOP_LAG_WARN_MS) {
    return check('event-loop', 'warn', what,
      'the process is starved: give it CPU (fewer task slots, tasks.slots), move heavy task handlers to exec, or check for swapping')
  }
  return check('event-loop', 'ok', what)
}

function clockSkew (node: ShoalNode, config: ShoalConfig, now: number): Check {
  const recent = Object.entries(node.events.clockSkews()).filter(([, s]) => now - s.at <= SKEW_RECENT_MS)
  if (recent.length === 0) return check('clock', 'ok', 'clock skew unknown: no recent events from peers')
  const [worstId, worst] = recent.reduce((a, b) => Math.abs(b[1].skewMs) > Math.abs(a[1].skewMs) ? b : a)
  const what = `largest clock skew ${worst.skewMs} ms (peer ${worstId}${worst.skewMs > 0 ? ' ahead' : ' behind'}), from ${recent.length} peer(s)' latest events`
  const fix = 'run NTP (chrony or systemd-timesyncd) on every machine; events more than events.maxClockDriftMs in the future are refused'
  const failAt = config.events.maxClockDriftMs / 2
  if (Math.abs(worst.skewMs) > failAt) return check('clock', 'fail', `${what}; over half of events.maxClockDriftMs (${config.events.maxClockDriftMs} ms)`, fix)
  if (Math.abs(worst.skewMs) > SKEW_WARN_MS) return check('clock', 'warn', what, fix)
  return check('clock', 'ok', what)
}

function membership (node: ShoalNode, config: ShoalConfig): Check {
  const others = otherAlive(node)
  if (others.length > 0) return check('membership', 'ok', `${others.length} other member(s) alive or suspect`)
  const fix = config.bootstrap.length > 0
    ? `none of the bootstrap peers answered (${config.bootstrap.join(', ')}): check they run, share the swarm name and key, and are reachable`
    : 'start with --bootstrap /ip4/<addr>/tcp/<port>/p2p/<peer id> of a running member (see `shoal status` there), or connect with `shoal connect`'
  return check('membership', 'warn', 'alone in the swarm: no other member alive', fix)
}

function connections (node: ShoalNode): Check {
  const connected = new Set(node.peers().map(p => p.peerId))
  const others = otherAlive(node)
  const unconnected = others.filter(id => !connected.has(id))
  const what = `${connected.size} connection(s), ${others.length} other live member(s)`
  const degree = node.config.connections.degree
  // With a bounded degree a node holds about `degree` links by design; too few connected members is the problem.
  const short = degree > 0
    ? others.length - unconnected.length < Math.min(degree, others.length)
    : unconnected.length > 0
  if (short && connected.size < node.config.connections.maxConnections) {
    const ids = unconnected.slice(0, 3).join(', ') + (unconnected.length > 3 ? ` and ${unconnected.length - 3} more` : '')
    return check('connections', 'warn', `${what}; alive but not connected: ${ids}`,
      'those members are known through gossip but cannot be dialled from here: check their announced addresses, firewalls/NAT, and the swarm key; the daemon log names each failed dial')
  }
  return check('connections', 'ok', what)
}

function inboundThreshold (config: ShoalConfig): Check {
  const n = config.connections.inboundPerSecondPerHost
  const loopback = config.listen.length > 0 && config.listen.every(a => /^\/(ip4\/127\.|ip6\/::1\/|dns[46]?\/localhost\/)/.test(a))
  if (loopback && n <= LIBP2P_DEFAULT_INBOUND_PER_HOST) {
    return check('inbound-limit', 'warn', `connections.inboundPerSecondPerHost is ${n} on a loopback swarm: every peer shares 127.0.0.1, so dials past ${n}/s are reset (ECONNRESET)`,
      'raise connections.inboundPerSecondPerHost in config.json (the default is 100)')
  }
  return check('inbound-limit', 'ok', `accepting up to ${n} inbound connections per second per host`)
}

function kvConvergence (node: ShoalNode): Check {
  const peers = Object.entries(node.kv.stats().peers).filter(([, p]) => p.lastRound !== undefined)
  const unequal = peers.filter(([, p]) => !p.match).map(([id]) => id)
  if (unequal.length > 0) {
    // Info, not a warning: under steady writes the last round often ends a write apart; it converges later.
    return check('kv', 'ok', `KV: last anti-entropy round with ${unequal.length} of ${peers.length} peer(s) ended with unequal roots (${unequal.slice(0, 3).join(', ')}); normal under writes, converges on later rounds`)
  }
  return check('kv', 'ok', peers.length === 0 ? 'KV: no anti-entropy round yet' : `KV: equal roots with all ${peers.length} peer(s) after the last round`)
}
