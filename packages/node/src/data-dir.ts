/**
 * The data dir's layout and its one-time set-up: config.json, identity.key, rpc.token, an optional swarm.key,
 * the LevelDB under db/, and daemon.json while a daemon runs (how the CLI finds it).
 */
import { chmod, mkdir, readFile, rm, stat, writeFile, copyFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { join, resolve, isAbsolute } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { AlreadyExistsError, ConfigError, ShoalError } from '@shoal/core'

export const FILES = {
  config: 'config.json',
  identity: 'identity.key',
  token: 'rpc.token',
  swarmKey: 'swarm.key',
  db: 'db',
  daemon: 'daemon.json'
} as const

export function defaultDataDir (): string {
  return join(homedir(), '.shoal')
}

export function dataPath (dataDir: string, file: keyof typeof FILES): string {
  return join(dataDir, FILES[file])
}

/** Paths in the config file are relative to the data dir. */
export function resolveInDataDir (dataDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dataDir, path)
}

export interface InitOptions {
  dataDir: string
  swarm?: string
  /** A pnet key file to copy into the data dir (the swarm becomes private). */
  swarmKeyFile?: string
}

export interface InitResult {
  peerId: string
  dataDir: string
  created: string[]
}

/** Creates a data dir; refuses to overwrite an existing identity. */
export async function initDataDir (opts: InitOptions): Promise<InitResult> {
  const { dataDir } = opts
  if (await exists(dataPath(dataDir, 'identity'))) {
    throw new AlreadyExistsError(`${dataPath(dataDir, 'identity')} already exists; this data dir is initialised (use another --data-dir, or delete it to start over with a new identity)`, { dataDir })
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const created: string[] = []
  const config: Record<string, unknown> = {}
  if (opts.swarm !== undefined) config.swarm = opts.swarm
  if (opts.swarmKeyFile !== undefined) {
    const key = await readFile(opts.swarmKeyFile).catch(() => { throw new ConfigError('swarmKeyFile', opts.swarmKeyFile, 'a readable pnet key file (make one with `shoal swarm-key > swarm.key`)') })
    parseSwarmKey(key, opts.swarmKeyFile)
    await copyFile(opts.swarmKeyFile, dataPath(dataDir, 'swarmKey'))
    await chmod(dataPath(dataDir, 'swarmKey'), 0o600)
    config.swarmKeyFile = FILES.swarmKey
    created.push(FILES.swarmKey)
  }
  const key = await generateKeyPair('Ed25519')
  await writeFile(dataPath(dataDir, 'identity'), privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  created.push(FILES.identity)
  if (!(await exists(dataPath(dataDir, 'token')))) {
    await writeFile(dataPath(dataDir, 'token'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
    created.push(FILES.token)
  }
  if (!(await exists(dataPath(dataDir, 'config')))) {
    await writeFile(dataPath(dataDir, 'config'), JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
    created.push(FILES.config)
  }
  return { peerId: peerIdFromPrivateKey(key).toString(), dataDir, created }
}

export async function isInitialised (dataDir: string): Promise<boolean> {
  return await exists(dataPath(dataDir, 'identity'))
}

export async function loadIdentity (dataDir: string): Promise<PrivateKey> {
  const path = dataPath(dataDir, 'identity')
  const bytes = await readFile(path).catch(() => {
    throw new ShoalError('ERR_NO_IDENTITY', `no identity at ${path}; run \`shoal init --data-dir ${dataDir}\` first`, { path })
  })
  try {
    return privateKeyFromProtobuf(bytes)
  } catch {
    throw new ShoalError('ERR_BAD_IDENTITY', `${path} is not a valid libp2p private key; restore it from a backup or move it aside and run \`shoal init\` (a new peer id)`, { path })
  }
}

export async function readToken (dataDir: string): Promise<string> {
  const path = dataPath(dataDir, 'token')
  const text = await readFile(path, 'utf8').catch(() => {
    throw new ShoalError('ERR_NO_TOKEN', `no RPC token at ${path}; run \`shoal init --data-dir ${dataDir}\``, { path })
  })
  const token = text.trim()
  if (token.length < 16) throw new ShoalError('ERR_BAD_TOKEN', `${path} holds no usable token (expected 64 hex characters)`, { path })
  return token
}

/** The config file, parsed; undefined if there is none. */
export async function readConfigFile (dataDir: string): Promise<unknown> {
  const path = dataPath(dataDir, 'config')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ConfigError(path, text.slice(0, 40), `valid JSON (${(err as Error).message})`)
  }
}

/**
 * The libp2p pnet key file format: "/key/swarm/psk/1.0.0/", "/base16/", then 64 hex digits.
 * Checked here so a bad file is a clear config error, not a failure deep inside libp2p.
 */
export function parseSwarmKey (bytes: Uint8Array, path: string): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split(/\r?\n/).map(l => l.trim())
  if (lines[0] !== '/key/swarm/psk/1.0.0/' || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new ConfigError('swarmKeyFile', path, 'a libp2p pnet key file (3 lines: /key/swarm/psk/1.0.0/, /base16/, 64 hex digits); make one with `shoal swarm-key`')
  }
  return bytes
}

export async function readSwarmKey (dataDir: string, path: string): Promise<Uint8Array> {
  const full = resolveInDataDir(dataDir, path)
  const bytes = await readFile(full).catch(() => { throw new ConfigError('swarmKeyFile', full, 'a readable pnet key file') })
  return parseSwarmKey(bytes, full)
}

/** Written while a daemon runs so the CLI can find its RPC endpoint (ports may be ephemeral). */
export interface DaemonInfo {
  pid: number
  peerId: string
  rpcUrl: string
  listen: string[]
  startedAt: number
}

export async function writeDaemonInfo (dataDir: string, info: DaemonInfo): Promise<void> {
  await writeFile(dataPath(dataDir, 'daemon'), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 })
}

export async function readDaemonInfo (dataDir: string): Promise<DaemonInfo | undefined> {
  try {
    return JSON.parse(await readFile(dataPath(dataDir, 'daemon'), 'utf8')) as DaemonInfo
  } catch {
    return undefined
  }
}

export async function removeDaemonInfo (dataDir: string): Promise<void> {
  await rm(dataPath(dataDir, 'daemon'), { force: true })
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** A new pre-shared key in the libp2p pnet file format (same as @libp2p/pnet's generateKey). */
export function generateSwarmKey (): string {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`
}
