/**
 * The node's configuration, described once. Everything else follows from this schema:
 * - the TypeScript types (`ShoalConfig = Static<typeof CONFIG_SCHEMA>`),
 * - the defaults (`default` keywords, values and reasons in constants.ts),
 * - the checks and their messages (field, value, `expected`; config.ts),
 * - the SHOAL_* environment mapping (`env` keywords; config-env.ts),
 * - the settings table in docs/architecture.md and the variables `shoal daemon --help` names, both checked
 *   against this schema by test/config-docs.test.ts.
 * Non-standard keywords (`expected`, `env`, `envFormat`) are annotations: JSON Schema validators ignore them.
 */
import { Type, type Static, type TSchema } from './schema/index.js'
import * as C from './constants.js'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = typeof LOG_FORMATS[number]

const NON_EMPTY = 'a non-empty string'
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** What node:dns `setServers` takes: 1.2.3.4, 1.2.3.4:53, ::1, [::1]:53. */
const DNS_SERVER = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\[[0-9a-fA-F:.]+\](?::\d{1,5})?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/
/** Names of task handlers and exec commands (they appear in job specs as `exec:<name>`). */
const HANDLER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

const text = (opts: Record<string, unknown> = {}) => Type.String({ minLength: 1, expected: NON_EMPTY, ...opts })
const flag = (fallback: boolean, description: string, env?: string) =>
  Type.Boolean({ default: fallback, expected: 'true or false', description, ...(env !== undefined ? { env } : {}) })
const int = (min: number, max: number, fallback: number | undefined, description?: string) =>
  Type.Integer({ minimum: min, maximum: max, ...(fallback !== undefined ? { default: fallback } : {}), ...(description !== undefined ? { description } : {}) })
/** A nested section: unknown keys are refused, a non-object says "an object". */
const section = <P extends Record<string, TSchema>>(properties: P, description: string) =>
  Type.Object(properties, { additionalProperties: false, expected: 'an object', default: {}, description })
const multiaddrs = (minItems: number, fallback: readonly string[], description: string, env: string) => Type.Array(
  Type.String({ pattern: '^/', expected: 'a multiaddr such as /ip4/127.0.0.1/tcp/7700' }),
  { minItems, expected: `a list of at least ${minItems} multiaddr(s)`, default: [...fallback], description, env })

export const MEMBERSHIP_CONFIG = section({
  probeIntervalMs: int(50, 60_000, C.PROBE_INTERVAL_MS, 'SWIM protocol period: one member probed per interval'),
  probeTimeoutMs: int(10, 60_000, C.PROBE_TIMEOUT_MS, 'direct probe deadline; must be below probeIntervalMs'),
  indirectProbes: int(0, 16, C.INDIRECT_PROBES, 'members asked to probe on our behalf after a missed direct probe'),
  suspicionTimeoutMs: int(100, 600_000, C.SUSPICION_TIMEOUT_MS, 'how long a suspect may refute before it is declared dead'),
  pushPullIntervalMs: int(100, HOUR_MS, C.PUSH_PULL_INTERVAL_MS, 'full-state exchange with a random member'),
  deadMemberRetentionMs: int(1000, 30 * DAY_MS, C.DEAD_MEMBER_RETENTION_MS, 'dead and left members are forgotten after this')
}, 'SWIM membership timings (docs/protocols/membership.md)')

export const EVENTS_CONFIG = section({
  maxPayloadBytes: int(16, 1024 * 1024, C.EVENT_MAX_PAYLOAD_BYTES, 'largest `data` of one event, in UTF-8 bytes'),
  maxClockDriftMs: int(100, DAY_MS, C.EVENT_MAX_CLOCK_DRIFT_MS, 'a remote clock further ahead than this is rejected, not adopted'),
  digestIntervalMs: int(100, HOUR_MS, C.EVENT_DIGEST_INTERVAL_MS, 'how often heads are compared with a random live member'),
  retentionMs: int(1000, 3650 * DAY_MS, C.EVENT_RETENTION_MS, 'events older than this are compacted...'),
  retentionMaxEvents: int(1, 1_000_000_000, C.EVENT_RETENTION_MAX_EVENTS, '...and so are the oldest beyond this many'),
  compactIntervalMs: int(100, DAY_MS, C.EVENT_COMPACT_INTERVAL_MS, 'how often the event log is compacted')
}, 'the signed event log (docs/protocols/events.md)')

export const KV_CONFIG = section({
  maxKeyBytes: int(1, 64 * 1024, C.KV_MAX_KEY_BYTES, 'longest key in UTF-8 bytes; the RPC methods check keys against this value'),
  maxValueBytes: int(16, 1024 * 1024, C.KV_MAX_VALUE_BYTES, 'largest value as JSON text, in UTF-8 bytes'),
  tombstoneHorizonMs: int(1000, 3650 * DAY_MS, C.KV_TOMBSTONE_HORIZON_MS, 'tombstones older than this are collected; a node away longer may bring a deleted key back'),
  antiEntropyIntervalMs: int(100, HOUR_MS, C.KV_ANTI_ENTROPY_INTERVAL_MS, 'Merkle comparison with a random live member'),
  ackTimeoutMs: int(100, 600_000, C.KV_ACK_TIMEOUT_MS, 'how long a write waits for the acknowledgements it asked for'),
  changesRetention: int(1, 1_000_000_000, C.KV_CHANGES_RETENTION, 'local change-log entries kept for kv.watch cursors'),
  compactIntervalMs: int(100, DAY_MS, C.EVENT_COMPACT_INTERVAL_MS, 'how often the change log is trimmed to changesRetention')
}, 'the replicated key-value store (docs/protocols/kv.md)')

const EXEC_COMMAND = Type.Object({
  command: text(),
  args: Type.Optional(Type.Array(Type.String(), { expected: 'a list of strings' })),
  timeoutMs: Type.Optional(int(1, DAY_MS, undefined))
}, { expected: 'an object { command, args?, timeoutMs? }' })

export const TASKS_CONFIG = section({
  slots: int(0, 1024, 0, 'subtasks this node runs at once; 0 = one per CPU core'),
  leaseMs: int(100, HOUR_MS, C.TASK_LEASE_MS, 'a subtask lease; a worker that stops renewing loses it after this'),
  retentionMs: int(1000, 3650 * DAY_MS, C.TASK_RETENTION_MS, "a finished job's records are deleted this long after its final state"),
  modules: Type.Record(Type.String(), text(), {
    propertyNames: { type: 'string', pattern: HANDLER_NAME.source, expected: 'a handler name: lowercase letters, digits, . _ -' },
    expected: 'an object of handler name -> module path',
    default: {},
    description: 'module handlers: name -> path of a JS module exporting run (and optionally split, reduce)'
  }),
  exec: Type.Object({
    enabled: flag(false, '`exec:<name>` handlers run only when enabled'),
    allow: Type.Record(Type.String(), EXEC_COMMAND, {
      propertyNames: { type: 'string', pattern: HANDLER_NAME.source, expected: 'a name: lowercase letters, digits, . _ -' },
      expected: 'an object of name -> { command, args?, timeoutMs? }',
      default: {},
      description: 'the only commands `exec:<name>` may run'
    })
  }, { expected: 'an object { enabled, allow }', default: {}, description: '`exec:<name>` handlers: off unless enabled, and only allowlisted commands' })
}, 'distributed jobs (docs/protocols/tasks.md)')

export const TRACING_CONFIG = section({
  endpoint: Type.Optional(Type.Intersect([
    text(),
    Type.String({ pattern: '^https?://[^\\s/]+', expected: 'an http(s) URL of an OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces' })
  ], { description: 'OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces; unset = tracing off' })),
  serviceName: Type.Optional(text({ description: 'service.name of the exported resource' })),
  sampleRatio: Type.Number({ minimum: 0, maximum: 1, default: 1, description: "share of new (root) traces recorded; a remote parent's sampling decision is followed" })
}, 'OpenTelemetry traces over OTLP/HTTP (JSON); off unless `endpoint` is set (docs/operations.md, "Tracing")')

export const CONFIG_SCHEMA = Type.Object({
  dataDir: Type.String({ minLength: 1, expected: 'a directory path', env: 'SHOAL_DATA_DIR', description: 'identity, store and config.json live here (flag or env only; default ~/.shoal)' }),
  swarm: Type.Intersect([
    text(),
    Type.String({ pattern: C.SWARM_NAME_PATTERN.source, expected: 'lowercase letters, digits and dashes, 1-32 characters' })
  ], { default: C.DEFAULT_SWARM, env: 'SHOAL_SWARM', description: 'swarm name; scopes protocol ids and topics' }),
  swarmKeyFile: Type.Optional(text({ env: 'SHOAL_SWARM_KEY', description: 'path to a libp2p pnet pre-shared key; set = private swarm' })),
  listen: multiaddrs(1, C.DEFAULT_LISTEN, 'libp2p listen addresses', 'SHOAL_LISTEN'),
  rpc: section({
    host: text({ default: C.DEFAULT_RPC_HOST }),
    port: int(0, 65535, C.DEFAULT_RPC_PORT, '0 picks a free port'),
    allowNonLoopback: flag(false, 'serve RPC on a non-loopback host (the token is then the only protection)')
  }, 'the JSON-RPC endpoint; SHOAL_RPC takes HOST:PORT'),
  bootstrap: multiaddrs(0, [], 'peers to join through', 'SHOAL_BOOTSTRAP'),
  dnsServers: Type.Array(
    Type.String({ pattern: DNS_SERVER.source, expected: 'a DNS server: an IPv4 address with an optional :PORT, or [IPv6]:PORT, or a bare IPv6 address' }),
    { expected: "a list of DNS servers ('IP' or 'IP:PORT')", default: [], env: 'SHOAL_DNS_SERVERS', description: 'DNS servers for /dnsaddr, /dns4, /dns6 and /dns addresses; empty = the system resolver and resolv.conf' }),
  logLevel: Type.Enum(LOG_LEVELS, { expected: `one of ${LOG_LEVELS.join(', ')}`, default: 'info', env: 'SHOAL_LOG_LEVEL' }),
  logFormat: Type.Enum(LOG_FORMATS, { expected: 'json or pretty', default: 'json', env: 'SHOAL_LOG_FORMAT' }),
  mdns: flag(false, 'mDNS discovery on the local network: answer queries for this swarm\'s service name and dial the members it finds; off by default, since it announces this node\'s peer id and addresses to the whole LAN', 'SHOAL_MDNS'),
  debug: flag(false, 'enables debug.* RPC methods (partitions for fault tests)', 'SHOAL_DEBUG'),
  deny: Type.Array(text(), { expected: 'a list of peer ids', default: [], description: 'peer ids the connection gater refuses' }),
  membership: MEMBERSHIP_CONFIG,
  events: EVENTS_CONFIG,
  kv: KV_CONFIG,
  tasks: TASKS_CONFIG,
  gossip: section({ maxMessageBytes: int(256, 4 * 1024 * 1024, C.MAX_GOSSIP_MESSAGE_BYTES, 'largest gossipsub message') }, 'gossipsub limits'),
  connections: section({
    maxConnections: int(2, 100_000, C.MAX_CONNECTIONS),
    inboundPerSecondPerHost: int(1, 100_000, C.INBOUND_CONNECTIONS_PER_SECOND_PER_HOST),
    maxIncomingPending: int(1, 100_000, C.MAX_INCOMING_PENDING_CONNECTIONS),
    degree: int(0, 1000, C.OVERLAY_DEGREE, 'neighbours each node chooses to stay connected to (bounded-degree overlay, docs/protocols/membership.md); 0 connects to every live member')
  }, "libp2p connection manager limits (its defaults refuse a loopback swarm's burst of dials) and the overlay's degree"),
  // Token-protected by default: metrics reveal peer counts, traffic and method use.
  metrics: section({ public: flag(false, 'serve GET /metrics without the bearer token') }, 'GET /metrics (Prometheus text) on the RPC port'),
  tracing: TRACING_CONFIG
}, { additionalProperties: false })

/** SHOAL_RPC is HOST:PORT and sets rpc.host and rpc.port together. */
Object.assign(CONFIG_SCHEMA.properties.rpc, { env: 'SHOAL_RPC', envFormat: 'host-port' })

export type ShoalConfig = Static<typeof CONFIG_SCHEMA>
export type MembershipConfig = Static<typeof MEMBERSHIP_CONFIG>
export type EventsConfig = Static<typeof EVENTS_CONFIG>
export type KvConfig = Static<typeof KV_CONFIG>
export type TasksConfig = Static<typeof TASKS_CONFIG>
export type ExecCommand = Static<typeof EXEC_COMMAND>
export type TracingConfig = Static<typeof TRACING_CONFIG>

/** What the user can set: the same shape, every field optional. */
export type ConfigInput = {
  [K in keyof ShoalConfig]?: ShoalConfig[K] extends string[] ? string[]
    : ShoalConfig[K] extends object ? Partial<ShoalConfig[K]> : ShoalConfig[K]
}
