/**
 * Node configuration: types, defaults and the pure precedence rule flags > SHOAL_* env > config file >
 * defaults. Each value is checked here; a bad one raises ConfigError naming field, value and expectation.
 */
import * as C from './constants.js'
import { validateConfig } from './config-validate.js'
export { validateConfig } from './config-validate.js'
import { ConfigError } from './errors.js'

export { LOG_LEVELS } from './config-types.js'
export type { LogLevel, LogFormat, MembershipConfig, EventsConfig, KvConfig, ExecCommand, TasksConfig, ShoalConfig, TracingConfig, ConfigInput } from './config-types.js'
import type { ConfigInput, LogFormat, LogLevel, ShoalConfig } from './config-types.js'

export function defaultConfig (dataDir: string): ShoalConfig {
  return {
    dataDir,
    swarm: C.DEFAULT_SWARM,
    listen: [...C.DEFAULT_LISTEN],
    rpc: { host: C.DEFAULT_RPC_HOST, port: C.DEFAULT_RPC_PORT, allowNonLoopback: false },
    bootstrap: [],
    dnsServers: [],
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
    tasks: { slots: 0, leaseMs: C.TASK_LEASE_MS, retentionMs: C.TASK_RETENTION_MS, modules: {}, exec: { enabled: false, allow: {} } },
    gossip: { maxMessageBytes: C.MAX_GOSSIP_MESSAGE_BYTES },
    connections: {
      maxConnections: C.MAX_CONNECTIONS,
      inboundPerSecondPerHost: C.INBOUND_CONNECTIONS_PER_SECOND_PER_HOST,
      maxIncomingPending: C.MAX_INCOMING_PENDING_CONNECTIONS
    },
    // Token-protected by default: metrics reveal peer counts, traffic and method use.
    metrics: { public: false },
    // Off until an endpoint is set; the keys are listed so a config file may name them.
    tracing: { endpoint: undefined, serviceName: undefined, sampleRatio: 1 }
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
  const dnsServers = list('SHOAL_DNS_SERVERS'); if (dnsServers !== undefined) out.dnsServers = dnsServers
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

const NESTED = ['rpc', 'membership', 'events', 'kv', 'tasks', 'gossip', 'connections', 'metrics', 'tracing'] as const

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

function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stripUndefined (o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}
