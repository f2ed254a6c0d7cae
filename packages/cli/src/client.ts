/**
 * How the CLI finds and calls a running daemon: --rpc URL or $SHOAL_RPC, else the data dir's daemon.json;
 * the token from --token, $SHOAL_RPC_TOKEN, or the data dir's rpc.token.
 */
import { resolveDataDir, ShoalError } from '@shoal/core'
import { join } from 'node:path'
import { dataPath, defaultDataDir, readDaemonInfo, readToken } from '@shoal/node'
import { createRpcClient, createWsClient, RpcConnectionError, RpcError, RpcErrorCode } from '@shoal/rpc'
import type { RpcClient, ShoalMethods, WsClient } from '@shoal/rpc'
import { str } from './args.js'

export const CLIENT_OPTIONS = {
  'data-dir': { type: 'string' },
  rpc: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' }
} as const

export const CLIENT_HELP = `  --data-dir DIR   the daemon's data dir, to find its RPC address and token (default ~/.shoal)
  --rpc URL        RPC endpoint, e.g. http://127.0.0.1:7701/rpc or 127.0.0.1:7701 ($SHOAL_RPC)
  --token TOKEN    RPC token ($SHOAL_RPC_TOKEN; default: <data-dir>/rpc.token)
  --json           print JSON instead of a table`

/** The same endpoint over WebSocket (for subscriptions): ws://HOST:PORT/rpc/ws. */
export async function connectWsClient (values: Record<string, unknown>, env: Record<string, string | undefined>): Promise<WsClient> {
  const ep = await endpoint(values, env)
  return await createWsClient({ url: ep.url.replace(/^http/, 'ws') + '/ws', token: ep.token }).catch((err: unknown) => { throw explain(err, ep) })
}

/** A client whose refusals (wrong token, nothing listening) say where the token and the address came from. */
export async function connectClient (values: Record<string, unknown>, env: Record<string, string | undefined>): Promise<RpcClient<ShoalMethods>> {
  const ep = await endpoint(values, env)
  const client = createRpcClient<ShoalMethods>({ url: ep.url, token: ep.token })
  const fail = (err: unknown): never => { throw explain(err, ep) }
  // Untyped forwarding (the generic signatures do not survive a spread); the types are the client's own.
  const untyped = client as unknown as { call: (...a: unknown[]) => Promise<unknown>, notify: (...a: unknown[]) => Promise<void> }
  return {
    call: (async (...args: unknown[]) => await untyped.call(...args).catch(fail)) as RpcClient<ShoalMethods>['call'],
    notify: (async (...args: unknown[]) => { await untyped.notify(...args).catch(fail) }) as RpcClient<ShoalMethods>['notify'],
    batch: async (calls, opts) => await client.batch(calls, opts).catch(fail)
  }
}

export interface Endpoint {
  url: string
  token: string
  dataDir: string
  /** Where the URL came from: '--rpc', '$SHOAL_RPC' or the daemon.json path. */
  urlFrom: string
  /** Where the token came from: '--token', '$SHOAL_RPC_TOKEN' or the rpc.token path. */
  tokenFrom: string
}

/** `shoal daemon`, with --data-dir when it is not the default, for hints a person can paste. */
function daemonHint (dataDir: string): string {
  return dataDir === defaultDataDir() ? 'shoal daemon' : `shoal daemon --data-dir ${dataDir}`
}

/** The CLI's own one-line error for a refused token or an address nothing answers at; others pass through. */
export function explain (err: unknown, ep: Endpoint): unknown {
  if (err instanceof RpcError && err.code === RpcErrorCode.UNAUTHORIZED) {
    const fix = ep.tokenFrom.startsWith('$') || ep.tokenFrom.startsWith('--')
      ? `pass the contents of that daemon's rpc.token (in its data dir), or drop ${ep.tokenFrom} to use ${join(ep.dataDir, 'rpc.token')}`
      : `the daemon there was started with another data dir: pass its --data-dir, or --token with the contents of its rpc.token`
    return new ShoalError('ERR_RPC_TOKEN', `the daemon at ${ep.url} refused the RPC token from ${ep.tokenFrom}; ${fix}`)
  }
  if (err instanceof RpcConnectionError && err.code === 'ERR_RPC_UNREACHABLE') {
    const stale = ep.urlFrom.endsWith('daemon.json')
      ? ` (the address in ${ep.urlFrom}, left by a daemon that is no longer running). Start it again with \`${daemonHint(ep.dataDir)}\``
      : ` (from ${ep.urlFrom}). Start a daemon with \`${daemonHint(ep.dataDir)}\`, or check ${ep.urlFrom}`
    return new ShoalError('ERR_NO_DAEMON', `no daemon is answering at ${err.url}${stale}.`, { url: err.url })
  }
  return err
}

/** The dashboard a daemon serves beside its RPC: http://HOST:PORT/ for http://HOST:PORT/rpc. */
export function dashboardUrl (rpcUrl: string): string {
  return rpcUrl.replace(/\/rpc$/, '/')
}

/** The RPC URL (ending in /rpc) and token, from flags, environment or the data dir, and where each came from. */
export async function endpoint (values: Record<string, unknown>, env: Record<string, string | undefined>): Promise<Endpoint> {
  const dataDir = resolveDataDir({ flags: { dataDir: str(values['data-dir']) }, env, defaultDataDir: defaultDataDir() })
  let url = str(values.rpc)
  let urlFrom = '--rpc'
  if (url === undefined && nonEmpty(env.SHOAL_RPC) !== undefined) { url = nonEmpty(env.SHOAL_RPC); urlFrom = '$SHOAL_RPC' }
  if (url === undefined) {
    const info = await readDaemonInfo(dataDir)
    if (info === undefined) {
      throw new ShoalError('ERR_NO_DAEMON', `no daemon is running for ${dataDir} (no daemon.json). Start one with \`${daemonHint(dataDir)}\`, or pass --rpc HOST:PORT.`)
    }
    url = info.rpcUrl
    urlFrom = dataPath(dataDir, 'daemon')
  }
  if (!/^https?:\/\//.test(url!)) url = `http://${url!}`
  if (!/\/rpc$/.test(url!)) url = url!.replace(/\/?$/, '/rpc')
  const flagToken = str(values.token)
  const envToken = nonEmpty(env.SHOAL_RPC_TOKEN)
  const token = flagToken ?? envToken ?? await readToken(dataDir)
  const tokenFrom = flagToken !== undefined ? '--token' : envToken !== undefined ? '$SHOAL_RPC_TOKEN' : dataPath(dataDir, 'token')
  return { url: url!, token, dataDir, urlFrom, tokenFrom }
}

function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}
