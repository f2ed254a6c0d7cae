/** Running system commands (ip, iptables, mount, apt-get) with their output captured and a named error. */
import { execFile } from 'node:child_process'

export class CommandError extends Error {
  readonly code = 'ERR_CHAOS_COMMAND'
  constructor (readonly command: string, readonly stderr: string, cause?: unknown) {
    super(`${command} failed: ${stderr.trim() || String((cause as Error)?.message ?? cause)}`, { cause })
    this.name = 'CommandError'
  }
}

export async function run (cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new CommandError([cmd, ...args].join(' '), String(stderr), err))
      else resolve(String(stdout))
    })
  })
}

/** Like run() but never throws (cleanup paths). */
export async function tryRun (cmd: string, args: string[]): Promise<boolean> {
  return await run(cmd, args).then(() => true, () => false)
}

export const isRoot = (): boolean => process.getuid?.() === 0

export async function hasCommand (cmd: string): Promise<boolean> {
  return await tryRun('sh', ['-c', `command -v ${cmd}`])
}

/** Installs Debian packages whose command is missing (root only; apt-get update once first). */
export async function ensureDebianPackages (wanted: Array<{ command: string, pkg: string }>, log: (line: string) => void): Promise<string[]> {
  const missing: string[] = []
  for (const w of wanted) if (!(await hasCommand(w.command))) missing.push(w.pkg)
  if (missing.length === 0 || !isRoot()) return missing
  log(`installing ${missing.join(', ')} with apt-get`)
  await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 })
  await run('apt-get', ['install', '-y', '-qq', ...missing], { timeoutMs: 600_000 })
  const still: string[] = []
  for (const w of wanted) if (!(await hasCommand(w.command))) still.push(w.pkg)
  return still
}
