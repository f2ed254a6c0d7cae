/**
 * Checks every field of a merged config; a bad value raises ConfigError naming field, value and expectation.
 */
import * as C from './constants.js'
import { ConfigError } from './errors.js'
import { LOG_LEVELS } from './config-types.js'
import type { ShoalConfig, TasksConfig, TracingConfig } from './config-types.js'

/** What node:dns `setServers` takes: 1.2.3.4, 1.2.3.4:53, ::1, [::1]:53. */
const DNS_SERVER = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\[[0-9a-fA-F:.]+\](?::\d{1,5})?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/

/** Checks every field of a fully merged config. */
export function validateConfig (c: ShoalConfig): ShoalConfig {
  str(c.swarm, 'swarm')
  if (!C.SWARM_NAME_PATTERN.test(c.swarm)) throw new ConfigError('swarm', c.swarm, 'lowercase letters, digits and dashes, 1-32 characters')
  if (c.swarmKeyFile !== undefined) str(c.swarmKeyFile, 'swarmKeyFile')
  multiaddrList(c.listen, 'listen', 1)
  multiaddrList(c.bootstrap, 'bootstrap', 0)
  if (!Array.isArray(c.dnsServers)) throw new ConfigError('dnsServers', c.dnsServers, "a list of DNS servers ('IP' or 'IP:PORT')")
  c.dnsServers.forEach((d, i) => {
    if (typeof d !== 'string' || !DNS_SERVER.test(d)) throw new ConfigError(`dnsServers[${i}]`, d, "a DNS server: an IPv4 address with an optional :PORT, or [IPv6]:PORT, or a bare IPv6 address")
  })
  str(c.rpc.host, 'rpc.host')
  int(c.rpc.port, 'rpc.port', 0, 65535)
  bool(c.rpc.allowNonLoopback, 'rpc.allowNonLoopback')
  if (!LOG_LEVELS.includes(c.logLevel)) throw new ConfigError('logLevel', c.logLevel, `one of ${LOG_LEVELS.join(', ')}`)
  if (c.logFormat !== 'json' && c.logFormat !== 'pretty') throw new ConfigError('logFormat', c.logFormat, 'json or pretty')
  bool(c.debug, 'debug')
  if (!Array.isArray(c.deny)) throw new ConfigError('deny', c.deny, 'a list of peer ids')
  c.deny.forEach((p, i) => { str(p, `deny[${i}]`) })
  const m = c.membership
  int(m.probeIntervalMs, 'membership.probeIntervalMs', 50, 60_000)
  int(m.probeTimeoutMs, 'membership.probeTimeoutMs', 10, 60_000)
  if (m.probeTimeoutMs >= m.probeIntervalMs) {
    throw new ConfigError('membership.probeTimeoutMs', m.probeTimeoutMs, `less than membership.probeIntervalMs (${m.probeIntervalMs})`)
  }
  int(m.indirectProbes, 'membership.indirectProbes', 0, 16)
  int(m.suspicionTimeoutMs, 'membership.suspicionTimeoutMs', 100, 600_000)
  int(m.pushPullIntervalMs, 'membership.pushPullIntervalMs', 100, 3_600_000)
  int(m.deadMemberRetentionMs, 'membership.deadMemberRetentionMs', 1000, 30 * 24 * 3_600_000)
  const e = c.events
  int(e.maxPayloadBytes, 'events.maxPayloadBytes', 16, 1024 * 1024)
  int(e.maxClockDriftMs, 'events.maxClockDriftMs', 100, 24 * 3_600_000)
  int(e.digestIntervalMs, 'events.digestIntervalMs', 100, 3_600_000)
  int(e.retentionMs, 'events.retentionMs', 1000, 3650 * 24 * 3_600_000)
  int(e.retentionMaxEvents, 'events.retentionMaxEvents', 1, 1_000_000_000)
  int(e.compactIntervalMs, 'events.compactIntervalMs', 100, 24 * 3_600_000)
  const kv = c.kv
  int(kv.maxKeyBytes, 'kv.maxKeyBytes', 1, 64 * 1024)
  int(kv.maxValueBytes, 'kv.maxValueBytes', 16, 1024 * 1024)
  int(kv.tombstoneHorizonMs, 'kv.tombstoneHorizonMs', 1000, 3650 * 24 * 3_600_000)
  int(kv.antiEntropyIntervalMs, 'kv.antiEntropyIntervalMs', 100, 3_600_000)
  int(kv.ackTimeoutMs, 'kv.ackTimeoutMs', 100, 600_000)
  int(kv.changesRetention, 'kv.changesRetention', 1, 1_000_000_000)
  int(kv.compactIntervalMs, 'kv.compactIntervalMs', 100, 24 * 3_600_000)
  validateTasks(c.tasks)
  int(c.gossip.maxMessageBytes, 'gossip.maxMessageBytes', 256, 4 * 1024 * 1024)
  int(c.connections.maxConnections, 'connections.maxConnections', 2, 100_000)
  int(c.connections.inboundPerSecondPerHost, 'connections.inboundPerSecondPerHost', 1, 100_000)
  int(c.connections.maxIncomingPending, 'connections.maxIncomingPending', 1, 100_000)
  bool(c.metrics.public, 'metrics.public')
  validateTracing(c.tracing)
  return c
}

function validateTracing (t: TracingConfig): void {
  if (t.endpoint !== undefined) {
    str(t.endpoint, 'tracing.endpoint')
    let url: URL | undefined
    try { url = new URL(t.endpoint) } catch { /* reported below */ }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError('tracing.endpoint', t.endpoint, 'an http(s) URL of an OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces')
    }
  }
  if (t.serviceName !== undefined) str(t.serviceName, 'tracing.serviceName')
  if (typeof t.sampleRatio !== 'number' || !(t.sampleRatio >= 0 && t.sampleRatio <= 1)) {
    throw new ConfigError('tracing.sampleRatio', t.sampleRatio, 'a number from 0 to 1')
  }
}

const HANDLER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

function validateTasks (t: TasksConfig): void {
  int(t.slots, 'tasks.slots', 0, 1024)
  int(t.leaseMs, 'tasks.leaseMs', 100, 3_600_000)
  int(t.retentionMs, 'tasks.retentionMs', 1000, 3650 * 24 * 3_600_000)
  if (!isPlainObject(t.modules)) throw new ConfigError('tasks.modules', t.modules, 'an object of handler name -> module path')
  for (const [name, path] of Object.entries(t.modules)) {
    if (!HANDLER_NAME.test(name)) throw new ConfigError(`tasks.modules.${name}`, name, 'a handler name: lowercase letters, digits, . _ -')
    str(path, `tasks.modules.${name}`)
  }
  if (!isPlainObject(t.exec)) throw new ConfigError('tasks.exec', t.exec, 'an object { enabled, allow }')
  // Either half may be left out of a config file.
  t.exec.enabled ??= false
  t.exec.allow ??= {}
  bool(t.exec.enabled, 'tasks.exec.enabled')
  if (!isPlainObject(t.exec.allow)) throw new ConfigError('tasks.exec.allow', t.exec.allow, 'an object of name -> { command, args?, timeoutMs? }')
  for (const [name, cmd] of Object.entries(t.exec.allow)) {
    const field = `tasks.exec.allow.${name}`
    if (!HANDLER_NAME.test(name)) throw new ConfigError(field, name, 'a name: lowercase letters, digits, . _ -')
    if (!isPlainObject(cmd)) throw new ConfigError(field, cmd, 'an object { command, args?, timeoutMs? }')
    str(cmd.command, `${field}.command`)
    if (cmd.args !== undefined && (!Array.isArray(cmd.args) || !cmd.args.every(a => typeof a === 'string'))) throw new ConfigError(`${field}.args`, cmd.args, 'a list of strings')
    if (cmd.timeoutMs !== undefined) int(cmd.timeoutMs, `${field}.timeoutMs`, 1, 24 * 3_600_000)
  }
}

function str (v: unknown, field: string): void {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(field, v, 'a non-empty string')
}

function bool (v: unknown, field: string): void {
  if (typeof v !== 'boolean') throw new ConfigError(field, v, 'true or false')
}

function int (v: unknown, field: string, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, v, `an integer from ${min} to ${max}`)
  }
}

function multiaddrList (v: unknown, field: string, min: number): void {
  if (!Array.isArray(v) || v.length < min) throw new ConfigError(field, v, `a list of at least ${min} multiaddr(s)`)
  v.forEach((a, i) => {
    if (typeof a !== 'string' || !a.startsWith('/')) throw new ConfigError(`${field}[${i}]`, a, 'a multiaddr such as /ip4/127.0.0.1/tcp/7700')
  })
}


function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
