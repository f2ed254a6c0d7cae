import { join, resolve } from 'node:path'
import { LOG_LEVELS, parseHostPort, resolveDataDir } from '@shoal/core'
import { defaultDataDir, readConfigFile } from '@shoal/node'
import type { ConfigInput, LogFormat, LogLevel } from '@shoal/core'
import { dashboardUrl } from '../client.js'
import { startDaemon } from '../daemon.js'
import { parse, str, strs } from '../args.js'
import type { Io } from '../output.js'

export const DAEMON_HELP = `Usage: shoal daemon [options]

Runs a node in the foreground until SIGINT/SIGTERM (then announces its departure and exits 0).
Settings come from flags, then SHOAL_* environment variables, then <data-dir>/config.json, then defaults.

  --data-dir DIR          data dir (default ~/.shoal, $SHOAL_DATA_DIR); created if missing
  --listen MULTIADDR      libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/7700; $SHOAL_LISTEN)
  --rpc HOST:PORT         JSON-RPC endpoint (default 127.0.0.1:7701; port 0 picks one; $SHOAL_RPC)
  --bootstrap MULTIADDR   a peer to join through, repeatable ($SHOAL_BOOTSTRAP, comma-separated)
  --swarm NAME            swarm name ($SHOAL_SWARM)
  --swarm-key FILE        private swarm: pnet key file ($SHOAL_SWARM_KEY)
  --log-level LEVEL       ${LOG_LEVELS.join(', ')} (default info; $SHOAL_LOG_LEVEL)
  --log-format FORMAT     pretty (one readable line each; the default when stderr is a terminal) or
                          json (JSON lines; the default otherwise, e.g. under systemd) ($SHOAL_LOG_FORMAT)
  --rpc-allow-remote      serve RPC on a non-loopback address (the token then travels in clear text)
  --mdns                  find members on the local network by mDNS ($SHOAL_MDNS)
  --debug                 enable debug.* RPC methods (fault injection for tests) ($SHOAL_DEBUG)

Environment only: $SHOAL_DNS_SERVERS (DNS servers for /dns4 and /dnsaddr bootstrap names, comma-separated).
Every setting, with its default: docs/architecture.md#configuration.`

/**
 * The log format when no flag, SHOAL_LOG_FORMAT or config file sets one: readable lines for a person at a
 * terminal, JSON lines for a supervisor or a log shipper. Undefined when a setting decides.
 */
export async function defaultLogFormat (flags: ConfigInput, env: Record<string, string | undefined>, stderrIsTTY: boolean): Promise<LogFormat | undefined> {
  if (flags.logFormat !== undefined || (env.SHOAL_LOG_FORMAT ?? '').trim() !== '') return undefined
  const dataDir = resolveDataDir({ flags, env, defaultDataDir: defaultDataDir() })
  // A config file that does not parse is reported by the start itself, with its field and line.
  const file = await readConfigFile(dataDir).catch(() => undefined) as { logFormat?: unknown } | undefined
  if (file !== null && typeof file === 'object' && file.logFormat !== undefined) return undefined
  return stderrIsTTY ? 'pretty' : 'json'
}

export function daemonFlags (values: Record<string, unknown>): ConfigInput {
  const flags: ConfigInput = {}
  const dataDir = str(values['data-dir']); if (dataDir !== undefined) flags.dataDir = dataDir
  const listen = strs(values.listen); if (listen !== undefined && listen.length > 0) flags.listen = listen
  const bootstrap = strs(values.bootstrap); if (bootstrap !== undefined && bootstrap.length > 0) flags.bootstrap = bootstrap
  const swarm = str(values.swarm); if (swarm !== undefined) flags.swarm = swarm
  // A path given on the command line is relative to where the command runs, not to the data dir.
  const key = str(values['swarm-key']); if (key !== undefined) flags.swarmKeyFile = resolve(key)
  const level = str(values['log-level']); if (level !== undefined) flags.logLevel = level as LogLevel
  const format = str(values['log-format']); if (format !== undefined) flags.logFormat = format as LogFormat
  const rpc = str(values.rpc)
  if (rpc !== undefined || values['rpc-allow-remote'] === true) {
    flags.rpc = { ...(rpc !== undefined ? parseHostPort(rpc, 'rpc') : {}), ...(values['rpc-allow-remote'] === true ? { allowNonLoopback: true } : {}) }
  }
  if (values.debug === true) flags.debug = true
  if (values.mdns === true) flags.mdns = true
  return flags
}

export const DAEMON_OPTIONS = {
  'data-dir': { type: 'string' },
  listen: { type: 'string', multiple: true },
  rpc: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  swarm: { type: 'string' },
  'swarm-key': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'rpc-allow-remote': { type: 'boolean' },
  debug: { type: 'boolean' },
  mdns: { type: 'boolean' }
} as const

/** Graceful stop must finish within this, or the process exits anyway (the 5 s bound, with margin). */
const SHUTDOWN_DEADLINE_MS = 4500

export async function daemonCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('daemon', argv, DAEMON_OPTIONS)
  if (values.help === true) { io.out(DAEMON_HELP); return 0 }
  const flags = daemonFlags(values)
  const format = await defaultLogFormat(flags, env, process.stderr.isTTY === true)
  if (format !== undefined) flags.logFormat = format
  const daemon = await startDaemon({ flags, env })
  // A safety net, not a control path: a bug that leaves a promise unhandled is logged, and the node runs on.
  process.on('unhandledRejection', err => { daemon.logger.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection') })
  const info = daemon.node.info()
  if (daemon.initialised) io.out(`initialised a new data dir at ${daemon.config.dataDir}`)
  io.out([
    `shoal ${info.version} daemon running`,
    `peer id:  ${info.peerId}`,
    `swarm:    ${info.swarm}${info.private ? ' (private)' : ''}`,
    ...info.addresses.map((a, i) => `${i === 0 ? 'listen:  ' : '         '} ${a}`),
    `rpc:      ${daemon.rpcUrl}`,
    `dashboard: ${dashboardUrl(daemon.rpcUrl)} (log in with the token in ${join(daemon.config.dataDir, 'rpc.token')})`,
    `data dir: ${daemon.config.dataDir}`
  ].join('\n'))

  return await new Promise<number>(resolve => {
    const shutdown = (signal: string): void => {
      daemon.logger.info({ signal }, 'shutting down')
      const force = setTimeout(() => {
        daemon.logger.warn('graceful shutdown took too long; exiting anyway')
        resolve(0)
      }, SHUTDOWN_DEADLINE_MS)
      force.unref()
      daemon.stop().then(() => { clearTimeout(force); resolve(0) }, err => {
        daemon.logger.error({ err: (err as Error).message }, 'error while stopping')
        clearTimeout(force)
        resolve(1)
      })
    }
    process.once('SIGINT', () => { shutdown('SIGINT') })
    process.once('SIGTERM', () => { shutdown('SIGTERM') })
  })
}
