/**
 * Starts a daemon: resolves config (flags > SHOAL_* env > config file > defaults), loads the identity, starts
 * the node and the RPC server, and writes daemon.json so the CLI can find it. Used by `shoal daemon` and tests.
 */
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError, resolveConfig, resolveDataDir } from '@shoal/core'
import type { ConfigInput, Logger, ShoalConfig } from '@shoal/core'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  createLogger, createShoalNode, dataPath, defaultDataDir, initDataDir, instrumentRpc, instrumentRpcSockets, isInitialised, loadIdentity, readConfigFile,
  readSwarmKey, readToken, removeDaemonInfo, systemClock, systemRng, traceRpc, writeDaemonInfo, VERSION, exposition
} from '@shoal/node'
import type { ShoalNode } from '@shoal/node'
import { createRpcServer, isLoopbackHost, shoalMethods, shoalSubscriptions, SHOAL_ERROR_TABLE } from '@shoal/rpc'
import { dashboardAssets, DASHBOARD_CSP } from '@shoal/dashboard'
import type { RpcContext } from '@shoal/rpc'
import { addHealthRoutes } from './health.js'
import { checkPortsFree, explainStartFailure, StartError, tcpListenPort } from './start-errors.js'

export interface DaemonOptions {
  flags: ConfigInput
  env: Record<string, string | undefined>
  /** Where JSON log lines go (stderr by default). */
  logDestination?: NodeJS.WritableStream
}

export interface Daemon {
  node: ShoalNode
  config: ShoalConfig
  rpcUrl: string
  logger: Logger
  /** Graceful: announce departure, close RPC and libp2p, remove daemon.json. Idempotent. */
  stop(): Promise<void>
  /** Whether the data dir was initialised by this start (no `shoal init` before). */
  initialised: boolean
}

/** Loads and checks config without starting anything; throws ConfigError naming the bad field. */
export async function loadConfig (flags: ConfigInput, env: Record<string, string | undefined>): Promise<ShoalConfig> {
  const dataDir = resolveDataDir({ flags, env, defaultDataDir: defaultDataDir() })
  const config = resolveConfig({ flags, env, file: await readConfigFile(dataDir), defaultDataDir: dataDir })
  checkMultiaddrs(config.listen, 'listen')
  checkMultiaddrs(config.bootstrap, 'bootstrap')
  if (!config.rpc.allowNonLoopback && !isLoopbackHost(config.rpc.host)) {
    throw new ConfigError('rpc.host', config.rpc.host, 'a loopback address (127.0.0.1, ::1 or localhost); to serve RPC beyond this machine set rpc.allowNonLoopback (--rpc-allow-remote), knowing the token travels in clear text')
  }
  return config
}

/**
 * Starts a daemon. Nothing is written before the config checks out; a data dir this start initialised is
 * removed again if the start fails (a port in use must not leave a new identity behind). Failures a person can
 * fix by a setting throw StartError (one line; exit code 2), bad settings ConfigError.
 */
export async function startDaemon (opts: DaemonOptions): Promise<Daemon> {
  const dataDir = resolveDataDir({ flags: opts.flags, env: opts.env, defaultDataDir: defaultDataDir() })
  await checkDataDir(dataDir)
  const config = await loadConfig(opts.flags, opts.env)
  await checkPortsFree([
    ...config.listen.flatMap(addr => { const p = tcpListenPort(addr); return p === undefined ? [] : [{ ...p, step: { kind: 'listen' as const, addrs: [addr] } }] }),
    ...(config.rpc.port > 0 ? [{ host: config.rpc.host, port: config.rpc.port, step: { kind: 'rpc' as const, host: config.rpc.host, port: config.rpc.port } }] : [])
  ])
  let fresh: FreshDataDir | undefined
  if (!(await isInitialised(dataDir))) fresh = await initFresh(dataDir)
  try {
    return await run(opts, dataDir, config, fresh !== undefined)
  } catch (err) {
    if (fresh !== undefined) await undoInit(fresh)
    throw err
  }
}

interface FreshDataDir { dataDir: string, created: string[], dirExisted: boolean, dbExisted: boolean }

async function checkDataDir (dataDir: string): Promise<void> {
  const st = await stat(dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw explainStartFailure(err, { kind: 'dataDir', dataDir }) ?? err
  })
  if (st !== undefined && !st.isDirectory()) throw new StartError(`cannot use the data dir ${dataDir}: it is a file, not a directory (check --data-dir or $SHOAL_DATA_DIR)`)
}

async function initFresh (dataDir: string): Promise<FreshDataDir> {
  const dirExisted = await stat(dataDir).then(() => true, () => false)
  const dbExisted = await stat(dataPath(dataDir, 'db')).then(() => true, () => false)
  try {
    const { created } = await initDataDir({ dataDir })
    return { dataDir, created, dirExisted, dbExisted }
  } catch (err) {
    throw explainStartFailure(err, { kind: 'dataDir', dataDir }) ?? err
  }
}

/** Removes what initFresh and the failed start created: the new identity, token, config and store. */
async function undoInit (fresh: FreshDataDir): Promise<void> {
  await Promise.all([
    ...fresh.created.map(async file => { await rm(join(fresh.dataDir, file), { force: true }) }),
    ...(fresh.dbExisted ? [] : [rm(dataPath(fresh.dataDir, 'db'), { recursive: true, force: true })])
  ]).catch(() => {})
  if (!fresh.dirExisted) await rm(fresh.dataDir, { recursive: true, force: true }).catch(() => {})
}

async function run (opts: DaemonOptions, dataDir: string, config: ShoalConfig, initialised: boolean): Promise<Daemon> {
  const swarmKey = config.swarmKeyFile !== undefined ? await readSwarmKey(dataDir, config.swarmKeyFile) : undefined
  const privateKey = await loadIdentity(dataDir)
  const token = await readToken(dataDir)
  // Every line names the node it came from, so logs of many daemons can be merged and still read.
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, base: { swarm: config.swarm, peerId: peerIdFromPrivateKey(privateKey).toString() }, destination: opts.logDestination })
  // libp2p's own metrics stay off: some of its names break Prometheus conventions (milliseconds, gauges named
  // _total) that `promtool check metrics` rejects, and Shoal's families cover what an operator needs.
  const node = await createShoalNode({ clock: systemClock, rng: systemRng, logger }, { config, privateKey, swarmKey }).catch((err: unknown) => {
    throw (err as { code?: string }).code === 'ERR_START_FAILED' ? explainStartFailure(err, { kind: 'listen', addrs: config.listen }) ?? err : err
  })
  const rpcLog = logger.child({ component: 'shoal:rpc' })
  const rpc = createRpcServer<RpcContext>({
    methods: shoalMethods,
    subscriptions: shoalSubscriptions,
    context: { node, debug: config.debug },
    token,
    host: config.rpc.host,
    port: config.rpc.port,
    allowNonLoopback: config.rpc.allowNonLoopback,
    // A kv.put must fit its largest value, whose JSON escaping may double it, plus the envelope.
    maxBodyBytes: Math.max(1024 * 1024, 2 * config.kv.maxValueBytes + 64 * 1024),
    errorTable: SHOAL_ERROR_TABLE,
    discover: { title: 'Shoal node JSON-RPC', version: VERSION },
    onInternalError: err => { rpcLog.error({ err: (err as Error)?.stack ?? String(err) }, 'internal error in RPC handler') },
    onCall: instrumentRpc(node.metrics),
    traceCall: traceRpc(node.tracing),
    logger: {
      debug: (msg, fields) => { rpcLog.debug(fields ?? {}, msg) },
      warn: (msg, fields) => { rpcLog.warn(fields ?? {}, msg) }
    }
  })
  instrumentRpcSockets(node.metrics, () => rpc.wsStats())
  rpc.route('GET', '/metrics', async (_req, res) => {
    const text = exposition(await node.metrics.metrics())
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' })
    res.end(text)
  }, { public: config.metrics.public })
  // The dashboard's page and scripts carry no swarm data (that needs the token, over /rpc/ws), so they are public.
  for (const [path, asset] of dashboardAssets()) {
    rpc.route('GET', path, (_req, res) => {
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'content-security-policy': DASHBOARD_CSP, 'referrer-policy': 'no-referrer' })
      res.end(asset.body)
    }, { public: true })
  }
  // Health for supervisors and probes (public; status word only): see health.ts.
  let stopping: Promise<void> | undefined
  let nodeStopping = false
  addHealthRoutes(rpc.route, { self: node.peerId, members: () => node.members(), bootstrapCount: config.bootstrap.length, stopping: () => stopping !== undefined, storeOpen: () => !nodeStopping })
  let rpcUrl: string
  try {
    rpcUrl = (await rpc.start()).url
  } catch (err) {
    await node.stop()
    throw explainStartFailure(err, { kind: 'rpc', host: config.rpc.host, port: config.rpc.port }) ?? err
  }
  await writeDaemonInfo(dataDir, { pid: process.pid, peerId: node.peerId, rpcUrl, listen: node.info().addresses, startedAt: Date.now() })

  return {
    node,
    config,
    rpcUrl,
    logger,
    initialised,
    async stop () {
      stopping ??= (async () => {
        await rpc.stop()
        nodeStopping = true
        await node.stop()
        await removeDaemonInfo(dataDir)
      })()
      await stopping
    }
  }
}

function checkMultiaddrs (addrs: string[], field: string): void {
  addrs.forEach((a, i) => {
    try {
      multiaddr(a)
    } catch (err) {
      throw new ConfigError(`${field}[${i}]`, a, `a valid multiaddr (${(err as Error).message})`)
    }
  })
}
