/** The shape of a node's configuration (config.ts resolves it, config-validate.ts checks it). */
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
  /** A finished job's records are deleted this long after its final state (TASK_RETENTION_MS). */
  retentionMs: number
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
  /**
   * DNS servers ('IP' or 'IP:PORT') that resolve /dnsaddr, /dns4, /dns6 and /dns bootstrap and peer addresses.
   * Empty (the default): /dns4 and friends go through the system resolver (hosts file, then resolv.conf) and
   * /dnsaddr TXT lookups through the servers in resolv.conf.
   */
  dnsServers: string[]
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
  /** GET /metrics (Prometheus text) on the RPC port; `public` serves it without the bearer token. */
  metrics: { public: boolean }
  /** OpenTelemetry traces over OTLP/HTTP (JSON); off unless `endpoint` is set (docs/operations.md, "Tracing"). */
  tracing: TracingConfig
}

export interface TracingConfig {
  /** OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. Unset = tracing off. */
  endpoint?: string
  /** service.name of the exported resource. */
  serviceName?: string
  /** Share of new (root) traces recorded, 0-1; a remote parent's sampling decision is followed. */
  sampleRatio: number
}

/** What the user can set: the same shape, every field optional. */
export type ConfigInput = {
  [K in keyof ShoalConfig]?: ShoalConfig[K] extends string[] ? string[]
    : ShoalConfig[K] extends object ? Partial<ShoalConfig[K]> : ShoalConfig[K]
}

