/**
 * Why a daemon could not start, in one line a person can act on (exit code 2, like a config error): a port in
 * use, a data dir that is a file or not writable. The messages name the setting to change and never pass on a
 * library's internals (libp2p's "set transportManager.faultTolerance ..." advice is for embedders, not users).
 */
import { createServer } from 'node:net'
import { ShoalError } from '@shoal/core'

export class StartError extends ShoalError {
  static readonly code = 'ERR_START'
  constructor (message: string, data?: Record<string, unknown>) {
    super(StartError.code, message, data)
  }
}

/** What the failure was about: a libp2p listen address, the RPC endpoint, or the data dir. */
export type StartStep = { kind: 'listen', addrs: string[] } | { kind: 'rpc', host: string, port: number } | { kind: 'dataDir', dataDir: string }

/** The first system error code (EADDRINUSE, EACCES, ...) in an error, its causes or aggregated errors. */
export function systemCode (err: unknown, depth = 0): string | undefined {
  if (err === null || typeof err !== 'object' || depth > 8) return undefined
  const e = err as { code?: unknown, cause?: unknown, errors?: unknown, message?: unknown }
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = systemCode(inner, depth + 1)
    if (found !== undefined) return found
  }
  const inMessage = typeof e.message === 'string' ? /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES|EPERM|ENOTDIR|EEXIST|EROFS|ENOSPC)\b/.exec(e.message) : null
  return inMessage?.[1]
}

const WHY: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'no such address on this machine',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'not a directory',
  EEXIST: 'a file is in the way',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory',
  ENOTEMPTY: 'directory not empty'
}

/**
 * One line for a failed file-system call of Node's (an error with `code`, `syscall` and `path`), e.g.
 * "cannot mkdir /srv/shoal/sub: not a directory (ENOTDIR)"; undefined for any other error.
 */
export function explainFileSystemFailure (err: unknown): string | undefined {
  const e = err as { code?: unknown, syscall?: unknown, path?: unknown, dest?: unknown } | null
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return undefined
  if (typeof e.syscall !== 'string' || typeof e.path !== 'string') return undefined
  const target = typeof e.dest === 'string' ? `${e.path} to ${e.dest}` : e.path
  return `cannot ${e.syscall} ${target}: ${WHY[e.code] ?? e.code}${WHY[e.code] !== undefined ? ` (${e.code})` : ''}`
}

/** A StartError for `err` at `step`, or undefined when it is not a failure a person can fix by a setting. */
export function explainStartFailure (err: unknown, step: StartStep): StartError | undefined {
  if (err instanceof StartError) return err
  const code = systemCode(err)
  switch (step.kind) {
    case 'listen': {
      // libp2p lists each address that failed as "  <multiaddr>: <error>" under its own advice.
      const text = err instanceof Error ? err.message : String(err)
      const failed = [...text.matchAll(/^\s+(\/\S+): (.*)$/gm)].map(m => m[1]!)
      const where = (failed.length > 0 ? failed : step.addrs).join(', ')
      if (code === 'EADDRINUSE') return new StartError(`cannot listen on ${where}: address already in use (is another daemon running? choose a free port with --listen /ip4/0.0.0.0/tcp/PORT)`, { code })
      if (code !== undefined) return new StartError(`cannot listen on ${where}: ${WHY[code] ?? code} (check --listen)`, { code })
      if (failed.length > 0) return new StartError(`cannot listen on ${where} (check --listen)`)
      return new StartError(`could not start the node: ${firstSentence(err)}`)
    }
    case 'rpc': {
      const where = `${step.host}:${step.port}`
      if (code === 'EADDRINUSE') return new StartError(`cannot serve RPC on ${where}: address already in use (is another daemon running? choose another port with --rpc 127.0.0.1:PORT, or port 0 for any free one)`, { code })
      if (code !== undefined) return new StartError(`cannot serve RPC on ${where}: ${WHY[code] ?? code} (check --rpc)`, { code })
      return undefined
    }
    case 'dataDir':
      if (code !== undefined) return new StartError(`cannot use the data dir ${step.dataDir}: ${WHY[code] ?? code} (check --data-dir or $SHOAL_DATA_DIR)`, { code })
      return undefined
  }
}

/** A library message up to its first sentence, without advice meant for code that embeds the library. */
function firstSentence (err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.split(/(?<=[a-z0-9)])\. |\n/)[0]!.replace(/,? ?(please )?(check|set) .*transportManager.*$/i, '').trim()
}

/** A TCP port this daemon will bind: a libp2p listen address or the RPC endpoint. Port 0 is never checked. */
export interface PortUse { host: string, port: number, step: StartStep }

/** `/ip4/H/tcp/P` or `/ip6/H/tcp/P` with P > 0; other addresses (dns, ws, port 0) are left to libp2p. */
export function tcpListenPort (addr: string): { host: string, port: number } | undefined {
  const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)(\/p2p\/[^/]+)?$/.exec(addr)
  if (m === null || Number(m[3]) === 0) return undefined
  return { host: m[2]!, port: Number(m[3]) }
}

/**
 * Binds and releases each port before anything starts, so a port in use (or an address not on this machine, or
 * a port the user may not bind) fails the start at once, in one line, before any log line or file. The later binds can still lose a race; their errors are explained the same way.
 */
export async function checkPortsFree (uses: PortUse[]): Promise<void> {
  for (const use of uses) {
    const server = createServer()
    const failure = await new Promise<unknown>(resolve => {
      server.once('error', resolve)
      server.listen({ port: use.port, host: use.host, exclusive: true }, () => { resolve(undefined) })
    })
    await new Promise(resolve => server.close(resolve))
    if (failure !== undefined && systemCode(failure) !== undefined) throw explainStartFailure(failure, use.step)!
  }
}
