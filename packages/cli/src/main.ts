/**
 * `shoal` entry: main(argv) dispatches to one command each and turns errors into a message and an exit code
 * (0 ok, 1 failed, 2 bad usage or config, 3 no daemon answering).
 */
import { ConfigError, ShoalError } from '@shoal/core'
import { VERSION } from '@shoal/node'
import { RpcConnectionError, RpcError } from '@shoal/rpc'
import { UsageError } from './args.js'
import { explainFileSystemFailure, StartError } from './start-errors.js'
import { versionLine } from './build-info.js'
import { processIo } from './output.js'
import type { Io } from './output.js'
import { initCommand } from './commands/init.js'
import { swarmKeyCommand } from './commands/swarm-key.js'
import { daemonCommand } from './commands/daemon.js'
import { statusCommand } from './commands/status.js'
import { doctorCommand } from './commands/doctor.js'
import { peersCommand } from './commands/peers.js'
import { membersCommand } from './commands/members.js'
import { connectCommand } from './commands/connect.js'
import { demoCommand } from './commands/demo.js'
import { eventsCommand } from './commands/events.js'
import { kvCommand } from './commands/kv.js'
import { taskCommand } from './commands/task.js'
import { backupCommand, restoreCommand } from './commands/backup.js'

type Env = Record<string, string | undefined>
type Command = (argv: string[], io: Io, env: Env) => Promise<number> | number

const COMMANDS: Record<string, { run: Command, summary: string }> = {
  init: { run: initCommand, summary: 'create a data dir: identity, RPC token, config' },
  'swarm-key': { run: swarmKeyCommand, summary: 'print a new pre-shared key for a private swarm' },
  daemon: { run: daemonCommand, summary: 'run a node in the foreground' },
  status: { run: statusCommand, summary: "the local daemon's identity, uptime, peers and members" },
  doctor: { run: doctorCommand, summary: "check the local daemon's set-up against known traps; say what to fix" },
  peers: { run: peersCommand, summary: 'connected peers' },
  members: { run: membersCommand, summary: 'the membership view: alive, suspect, dead, left' },
  connect: { run: connectCommand, summary: 'dial a multiaddr' },
  task: { run: taskCommand, summary: 'distributed jobs: run (with a progress bar), status, result, list, cancel' },
  kv: { run: kvCommand, summary: 'the replicated key-value store: put, get, del, list, watch, stats' },
  events: { run: eventsCommand, summary: 'publish, list, tail events; event log stats' },
  backup: { run: backupCommand, summary: "copy a running node's identity, config and KV records to a directory" },
  restore: { run: restoreCommand, summary: "put a backup's identity and config into an empty data dir" },
  demo: { run: demoCommand, summary: 'start a local swarm of daemons and watch it form' }
}

export const HELP = `shoal ${VERSION}: a peer-to-peer node daemon

Usage: shoal COMMAND [options]    (shoal COMMAND --help for a command's options)

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}`

export async function main (argv: string[], io: Io = processIo, env: Env = process.env): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') { io.out(HELP); return name === undefined ? 2 : 0 }
  if (name === '--version' || name === 'version') { io.out(versionLine(VERSION)); return 0 }
  const command = COMMANDS[name]
  if (command === undefined) {
    io.err(`shoal: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}. See \`shoal --help\`.`)
    return 2
  }
  try {
    return await command.run(rest, io, env)
  } catch (err) {
    return report(err, io)
  }
}

export function report (err: unknown, io: Io): number {
  if (err instanceof UsageError) { io.err(err.message); return 2 }
  if (err instanceof ConfigError) { io.err(`shoal: ${err.message}`); return 2 }
  if (err instanceof StartError) { io.err(`shoal: ${err.message}`); return 2 }
  if (err instanceof RpcConnectionError) {
    io.err(err.code === 'ERR_RPC_UNREACHABLE'
      ? `shoal: no daemon is answering at ${err.url}. Start one with \`shoal daemon\` (or check --data-dir / --rpc).`
      : `shoal: ${err.message}`)
    return 3
  }
  if (err instanceof RpcError) {
    const data = err.data as { field?: string } | undefined
    io.err(`shoal: ${err.message}${data?.field !== undefined ? ` (field: ${data.field})` : ''} [code ${err.code}]`)
    return 1
  }
  if (err instanceof ShoalError) {
    io.err(`shoal: ${err.message}`)
    return err.code === 'ERR_NO_DAEMON' ? 3 : 1
  }
  // A file or directory the command was given (or its parent) is not what it needs: say which, in one line; exit
  // 2 when the user can fix it by naming another path, 1 when the disk itself failed (full, I/O error).
  const fs = explainFileSystemFailure(err)
  if (fs !== undefined) { io.err(`shoal: ${fs}`); return ['ENOSPC', 'EIO', 'EDQUOT'].includes((err as { code: string }).code) ? 1 : 2 }
  io.err(`shoal: unexpected error: ${(err as Error)?.stack ?? String(err)}`)
  return 1
}
