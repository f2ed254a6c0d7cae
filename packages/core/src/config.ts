/**
 * Node configuration: types, defaults and the pure precedence rule flags > SHOAL_* env > config file >
 * defaults. Each value is checked here; a bad one raises ConfigError naming field, value and expectation.
 */
import * as C from './constants.js'
import { ConfigError } from './errors.js'
import type { MembershipTimings } from './membership/types.js'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'silent']
export type LogFormat = 'json' | 'pretty'

/** The SWIM timings, set in config as `membership.*`. */
export type MembershipConfig = MembershipTimings

export interface EventsConfig {
  /** Largest `data` of one event, in UTF-8 bytes. */
  maxPayloadBytes: number
  /** A remote clock further ahead than this is rejected, not adopted. */
  maxClockDriftMs: number
  /** How often heads are compared with a random live member. */
  digestIntervalMs: number
  /** Events older than this are compacted... */
  retentionMs: number
  /** ...and so are the oldest beyond this many. */
  retentionMaxEvents: number
  compactIntervalMs: number
}

export interface KvConfig {
  maxKeyBytes: number
  maxValueBytes: number
  /** Tombstones older than this are collected; a node away longer may bring a deleted key back. */
  tombstoneHorizonMs: number
  antiEntropyIntervalMs: number
  /** How long a write waits for the acknowledgements it asked for. */
  ackTimeoutMs: number
  /** Local change-log entries kept for kv.watch cursors. */
  changesRetention: number
  /** How often the change log is trimmed to changesRetention. */
  compactIntervalMs: number
}

export interface ExecCommand { command: string, args?: string[], timeoutMs?: number }

export interface TasksConfig {
  /** Subtasks this node runs at once; 0 = one per CPU core. */
  slots: number
  leaseMs: number
  /** Module handlers: name -> path of a JS module exporting run (and optionally split, reduce). */
  modules: Record<string, string>
  /** `exec:<name>` handlers: off unless enabled, and only allowlisted commands. */
  exec: { enabled: boolean, allow: Record<string, ExecCommand> }
}

export interface ShoalConfig {
  dataDir: string
  /** Scopes protocol ids and topics. */
  swarm: string
  /** Path to a libp2p pnet pre-shared key; set = private swarm. */
  swarmKeyFile?: string
  listen: string[]
  rpc: { host: string, port: number, allowNonLoopback: boolean }
  bootstrap: string[]
  logLevel: LogLevel
  logFormat: LogFormat
  /** Enables debug.* RPC methods (partitions for fault tests). */
  debug: boolean
  /** Peer ids the connection gater refuses. */
  deny: string[]
  membership: MembershipConfig
  events: EventsConfig
  kv: KvConfig
  tasks: TasksConfig
  gossip: { maxMessageBytes: number }
  connections: { maxConnections: number, inboundPerSecondPerHost: number, maxIncomingPending: number }
}

/** What the user can set: the same shape, every field optional. */
export type ConfigInput = {
  [K in keyof ShoalConfig]?: ShoalConfig[K] extends string[] ? string[]
    : ShoalConfig[K] extends object ? Partial<ShoalConfig[K]> : ShoalConfig[K]
}

export function defaultConfig (dataDir: string): ShoalConfig {
  return {
    dataDir,
    swarm: C.DEFAULT_SWARM,
    listen: [...C.DEFAULT_LISTEN],
    rpc: { host: C.DEFAULT_RPC_HOST, port: C.DEFAULT_RPC_PORT, allowNonLoopback: false },
    bootstrap: [],
    logLevel: 'info',
    logFormat: 'json',
    debug: false,
    deny: [],
    membership: {
      probeIntervalMs: C.PROBE_INTERVAL_MS,
      probeTimeoutMs: C.PROBE_TIMEOUT_MS,
      indirectProbes: C.INDIRECT_PROBES,
      suspicionTimeoutMs: C.SUSPICION_TIMEOUT_MS,
      pushPullIntervalMs: C.PUSH_PULL_INTERVAL_MS,
      deadMemberRetentionMs: C.DEAD_MEMBER_RETENTION_MS
    },
    events: {
      maxPayloadBytes: C.EVENT_MAX_PAYLOAD_BYTES,
      maxClockDriftMs: C.EVENT_MAX_CLOCK_DRIFT_MS,
      digestIntervalMs: C.EVENT_DIGEST_INTERVAL_MS,
      retentionMs: C.EVENT_RETENTION_MS,
      retentionMaxEvents: C.EVENT_RETENTION_MAX_EVENTS,
      compactIntervalMs: C.EVENT_COMPACT_INTERVAL_MS
    },
    kv: {
      maxKeyBytes: C.KV_MAX_KEY_BYTES,
      maxValueBytes: C.KV_MAX_VALUE_BYTES,
      tombstoneHorizonMs: C.KV_TOMBSTONE_HORIZON_MS,
      antiEntropyIntervalMs: C.KV_ANTI_ENTROPY_INTERVAL_MS,
      ackTimeoutMs: C.KV_ACK_TIMEOUT_MS,
      changesRetention: C.KV_CHANGES_RETENTION,
      compactIntervalMs: C.EVENT_COMPACT_INTERVAL_MS
    },
    tasks: { slots: 0, leaseMs: C.TASK_LEASE_MS, modules: {}, exec: { enabled: false, allow: {} } },
    gossip: { maxMessageBytes: C.MAX_GOSSIP_MESSAGE_BYTES },
    connections: {
      maxConnections: C.MAX_CONNECTIONS,
      inboundPerSecondPerHost: C.INBOUND_CONNECTIONS_PER_SECOND_PER_HOST,
      maxIncomingPending: C.MAX_INCOMING_PENDING_CONNECTIONS
    }
  }
}

export interface ConfigSources {
  /** Parsed config file (JSON), if any. */
  file?: unknown
  /** process.env or a test's stand-in. */
  env?: Record<string, string | undefined>
  /** Already-parsed command-line flags. */
  flags?: ConfigInput
  /** Default data dir (e.g. ~/.shoal) when neither flag nor env name one. */
  defaultDataDir: string
}

/** Where the data dir comes from (the config file lives inside it, so it cannot come from the file). */
export function resolveDataDir (sources: Pick<ConfigSources, 'env' | 'flags' | 'defaultDataDir'>): string {
  const dir = sources.flags?.dataDir ?? nonEmpty(sources.env?.SHOAL_DATA_DIR) ?? sources.defaultDataDir
  if (typeof dir !== 'string' || dir.length === 0) throw new ConfigError('dataDir', dir, 'a directory path')
  return dir
}

export function resolveConfig (sources: ConfigSources): ShoalConfig {
  const dataDir = resolveDataDir(sources)
  const fromFile = checkFileShape(sources.file)
  const fromEnv = configFromEnv(sources.env ?? {})
  const merged = mergeInputs(defaultConfig(dataDir), fromFile, fromEnv, sources.flags ?? {})
  merged.dataDir = dataDir
  return validateConfig(merged)
}

/** Environment variables: SHOAL_<FIELD>, lists comma-separated. */
export function configFromEnv (env: Record<string, string | undefined>): ConfigInput {
  const out: ConfigInput = {}
  const str = (name: string): string | undefined => nonEmpty(env[name])
  const list = (name: string): string[] | undefined => str(name)?.split(',').map(s => s.trim()).filter(Boolean)
  const bool = (name: string, field: string): boolean | undefined => {
    const v = str(name)
    if (v === undefined) return undefined
    if (/^(1|true|yes|on)$/i.test(v)) return true
    if (/^(0|false|no|off)$/i.test(v)) return false
    throw new ConfigError(field, v, `true or false (from ${name})`)
  }
  const swarm = str('SHOAL_SWARM'); if (swarm !== undefined) out.swarm = swarm
  const key = str('SHOAL_SWARM_KEY'); if (key !== undefined) out.swarmKeyFile = key
  const listen = list('SHOAL_LISTEN'); if (listen !== undefined) out.listen = listen
  const bootstrap = list('SHOAL_BOOTSTRAP'); if (bootstrap !== undefined) out.bootstrap = bootstrap
  const rpc = str('SHOAL_RPC'); if (rpc !== undefined) out.rpc = parseHostPort(rpc, 'rpc')
  const level = str('SHOAL_LOG_LEVEL'); if (level !== undefined) out.logLevel = level as LogLevel
  const format = str('SHOAL_LOG_FORMAT'); if (format !== undefined) out.logFormat = format as LogFormat
  const debug = bool('SHOAL_DEBUG', 'debug'); if (debug !== undefined) out.debug = debug
  return out
}

/** "HOST:PORT", "[::1]:PORT" or ":PORT"; an RPC URL (http://HOST:PORT/rpc) is read the same way. */
export function parseHostPort (text: string, field: string): { host?: string, port: number } {
  const bare = text.trim().replace(/^https?:\/\//, '').replace(/\/(rpc)?$/, '')
  const m = /^(?:\[([^\]]+)\]|([^:/]*)):(\d{1,5})$/.exec(bare)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(field, text, 'HOST:PORT, e.g. 127.0.0.1:7701 (port 0 picks a free one)')
  }
  const host = m[1] ?? m[2]
  return host === undefined || host === '' ? { port } : { host, port }
}

const NESTED = ['rpc', 'membership', 'events', 'kv', 'tasks', 'gossip', 'connections'] as const

function mergeInputs (base: ShoalConfig, ...layers: ConfigInput[]): ShoalConfig {
  const out: Record<string, unknown> = { ...base }
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue
      if ((NESTED as readonly string[]).includes(k) && isPlainObject(v)) {
        out[k] = { ...(out[k] as object), ...stripUndefined(v) }
      } else {
        out[k] = v
      }
    }
  }
  return out as unknown as ShoalConfig
}

const TOP_FIELDS: ReadonlySet<string> = new Set(Object.keys(defaultConfig('x')).concat('swarmKeyFile'))

function checkFileShape (file: unknown): ConfigInput {
  if (file === undefined) return {}
  if (!isPlainObject(file)) throw new ConfigError('(config file)', file, 'a JSON object')
  const defaults = defaultConfig('x') as unknown as Record<string, unknown>
  for (const [k, v] of Object.entries(file)) {
    if (!TOP_FIELDS.has(k)) throw new ConfigError(k, v, `a known field (${[...TOP_FIELDS].join(', ')})`)
    if (k === 'dataDir') throw new ConfigError('dataDir', v, 'no dataDir in the config file (use --data-dir or SHOAL_DATA_DIR)')
    const nested = defaults[k]
    if (isPlainObject(nested)) {
      if (!isPlainObject(v)) throw new ConfigError(k, v, 'an object')
      for (const sub of Object.keys(v)) {
        if (!Object.hasOwn(nested, sub)) throw new ConfigError(`${k}.${sub}`, v[sub], `a known field (${Object.keys(nested).join(', ')})`)
      }
    }
  }
  return file as ConfigInput
}

/** Checks every field of a fully merged config. */
export function validateConfig (c: ShoalConfig): ShoalConfig {
  str(c.swarm, 'swarm')
  if (!C.SWARM_NAME_PATTERN.test(c.swarm)) throw new ConfigError('swarm', c.swarm, 'lowercase letters, digits and dashes, 1-32 characters')
  if (c.swarmKeyFile !== undefined) str(c.swarmKeyFile, 'swarmKeyFile')
  multiaddrList(c.listen, 'listen', 1)
  multiaddrList(c.bootstrap, 'bootstrap', 0)
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
  return c
}

const HANDLER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

function validateTasks (t: TasksConfig): void {
  int(t.slots, 'tasks.slots', 0, 1024)
  int(t.leaseMs, 'tasks.leaseMs', 100, 3_600_000)
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

function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stripUndefined (o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}
