/**
 * exec handlers: each allowlisted entry tasks.exec.allow.<name> becomes the handler `exec:<name>`. A run spawns the
 * command directly (never through a shell) with its fixed args, writes the input as JSON to stdin and takes stdout
 * as the result (JSON if it parses, else the trimmed text). Bounded in output (EXEC_MAX_STDOUT_BYTES), time
 * (timeoutMs) and by ctx.signal; every way out kills the process. Disabled (the default), nothing is registered.
 */
import { spawn } from 'node:child_process'
import { ConfigError, TimeoutError, UnavailableError } from '@shoal/core'
import type { Logger } from '@shoal/core'
import { abortError } from './abort.js'
import { EXEC_DEFAULT_TIMEOUT_MS, EXEC_MAX_STDOUT_BYTES, EXEC_STDERR_CHARS } from './constants.js'
import { HandlerError } from './errors.js'
import type { ExecAllowEntry, ExecInit, Handler, HandlerContext } from './types.js'

export const EXEC_PREFIX = 'exec:'

export interface ExecComponents {
  logger: Logger
  /** Aborts every running command when the registry closes. */
  closing: AbortSignal
}

/** What the task service tells a caller who submits an exec handler this node does not run. */
export function execDisabledError (handler = 'exec'): UnavailableError {
  return new UnavailableError(`handler '${handler}' is not available: exec handlers run only on members with tasks.exec.enabled = true and the command in tasks.exec.allow`, { handler })
}

function checkEntry (name: string, entry: unknown): Required<ExecAllowEntry> {
  const field = `tasks.exec.allow.${name}`
  if (!/^[\w.-]+$/.test(name)) throw new ConfigError(field, name, 'a name of letters, digits, _, . or -')
  if (typeof entry !== 'object' || entry === null) throw new ConfigError(field, entry, 'an object {command, args?, timeoutMs?}')
  const { command, args = [], timeoutMs = EXEC_DEFAULT_TIMEOUT_MS } = entry as Partial<ExecAllowEntry>
  if (typeof command !== 'string' || command === '') throw new ConfigError(`${field}.command`, command, 'a non-empty command path')
  if (!Array.isArray(args) || !args.every(a => typeof a === 'string')) throw new ConfigError(`${field}.args`, args, 'an array of strings')
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`${field}.timeoutMs`, timeoutMs, 'a positive integer (milliseconds)')
  return { command, args, timeoutMs }
}

/** stdout as the result: JSON if it parses, else the trimmed text. */
export function parseOutput (stdout: string): unknown {
  try {
    return JSON.parse(stdout)
  } catch {
    return stdout.trim()
  }
}

async function runCommand (components: ExecComponents, name: string, entry: Required<ExecAllowEntry>, input: unknown, ctx: HandlerContext): Promise<unknown> {
  const what = `${EXEC_PREFIX}${name}`
  if (ctx.signal.aborted) throw abortError(ctx.signal, what)
  if (components.closing.aborted) throw new UnavailableError(`${what}: handlers are closed`)
  const stdin = JSON.stringify(input) ?? 'null'
  return await new Promise((resolve, reject) => {
    const child = spawn(entry.command, entry.args, { shell: false, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true })
    const out: Buffer[] = []
    let outBytes = 0
    let stderr = ''
    let failure: Error | undefined

    const fail = (err: Error): void => {
      if (failure !== undefined) return
      failure = err
      child.kill('SIGKILL')
    }
    const onAbort = (): void => { fail(abortError(ctx.signal, what)) }
    const onClosing = (): void => { fail(new UnavailableError(`${what}: handlers closed`)) }
    const timer = setTimeout(() => { fail(new TimeoutError(`${what} timed out after ${entry.timeoutMs} ms`, { timeoutMs: entry.timeoutMs })) }, entry.timeoutMs)
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    components.closing.addEventListener('abort', onClosing, { once: true })
    const cleanup = (): void => {
      clearTimeout(timer)
      ctx.signal.removeEventListener('abort', onAbort)
      components.closing.removeEventListener('abort', onClosing)
    }

    child.stdout.on('data', (b: Buffer) => {
      if (failure !== undefined) return
      outBytes += b.length
      if (outBytes > EXEC_MAX_STDOUT_BYTES) fail(new HandlerError(`${what}: stdout exceeded ${EXEC_MAX_STDOUT_BYTES} bytes; process killed`))
      else out.push(b)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (s: string) => { if (stderr.length < EXEC_STDERR_CHARS) stderr += s })
    // A command that exits without reading its stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on('error', () => {})
    child.stdin.end(stdin)

    child.on('error', err => {
      // Spawning failed (ENOENT, EACCES): no 'close' may follow.
      cleanup()
      reject(failure ?? new HandlerError(`${what}: cannot run ${entry.command}: ${err.message}`))
    })
    child.on('close', (code, signal) => {
      cleanup()
      if (failure !== undefined) { reject(failure); return }
      if (code !== 0) {
        const status = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`
        const head = stderr.slice(0, EXEC_STDERR_CHARS).trim()
        reject(new HandlerError(`${what} ${status}${head === '' ? '' : `: ${head}`}`, { exitCode: code, signal, stderr: head }))
        return
      }
      resolve(parseOutput(Buffer.concat(out).toString('utf8')))
    })
  })
}

/** The exec:<name> handlers for an enabled config; none when exec is disabled or absent. */
export function createExecHandlers (components: ExecComponents, init: ExecInit | undefined): Handler[] {
  if (init === undefined || init.enabled !== true) return []
  const allow = init.allow ?? {}
  if (typeof allow !== 'object' || allow === null) throw new ConfigError('tasks.exec.allow', allow, 'an object {name: {command, args?, timeoutMs?}}')
  return Object.entries(allow).map(([name, raw]) => {
    const entry = checkEntry(name, raw)
    components.logger.info({ handler: `${EXEC_PREFIX}${name}`, command: entry.command }, 'exec handler allowlisted')
    return { name: `${EXEC_PREFIX}${name}`, run: async (input: unknown, ctx: HandlerContext) => await runCommand(components, name, entry, input, ctx) }
  })
}
