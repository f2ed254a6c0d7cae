/**
 * How the CLI finds and calls a running daemon: --rpc URL or $SHOAL_RPC, else the data dir's daemon.json;
 * the token from --token, $SHOAL_RPC_TOKEN, or the data dir's rpc.token.
 */
import { resolveDataDir, ShoalError } from '@shoal/core'
import { defaultDataDir, readDaemonInfo, readToken } from '@shoal/node'
import { createRpcClient, createWsClient } from '@shoal/rpc'
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
  const { url, token } = await endpoint(values, env)
  return await createWsClient({ url: url.replace(/^http/, 'ws') + '/ws', token })
}

export async function connectClient (values: Record<string, unknown>, env: Record<string, string | undefined>): Promise<RpcClient<ShoalMethods>> {
  const { url, token } = await endpoint(values, env)
  return createRpcClient<ShoalMethods>({ url, token })
}

/** The dashboard a daemon serves beside its RPC: http://HOST:PORT/ for http://HOST:PORT/rpc. */
export function dashboardUrl (rpcUrl: string): string {
  return rpcUrl.replace(/\/rpc$/, '/')
}

/** The RPC URL (ending in /rpc) and token, from flags, environment or the data dir. */
export async function endpoint (values: Record<string, unknown>, env: Record<string, string | undefined>): Promise<{ url: string, token: string }> {
  const dataDir = resolveDataDir({ flags: { dataDir: str(values['data-dir']) }, env, defaultDataDir: defaultDataDir() })
  let url = str(values.rpc) ?? nonEmpty(env.SHOAL_RPC)
  if (url === undefined) {
    const info = await readDaemonInfo(dataDir)
    if (info === undefined) {
      throw new ShoalError('ERR_NO_DAEMON', `no daemon is running for ${dataDir} (no daemon.json). Start one with \`shoal daemon --data-dir ${dataDir}\`, or pass --rpc HOST:PORT.`)
    }
    url = info.rpcUrl
  }
  if (!/^https?:\/\//.test(url)) url = `http://${url}`
  if (!/\/rpc$/.test(url)) url = url.replace(/\/?$/, '/rpc')
  const token = str(values.token) ?? nonEmpty(env.SHOAL_RPC_TOKEN) ?? await readToken(dataDir)
  return { url, token }
}

function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}
