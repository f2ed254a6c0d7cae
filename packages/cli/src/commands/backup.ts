/**
 * Backup and restore through the running daemon's RPC (kv.export / kv.import) and the data dir's files:
 *   shoal kv export [--prefix P] > file.jsonl    one exported record (with its signed event) per line
 *   shoal kv import FILE|-                       merge them in by the normal rules, 200 per call
 *   shoal backup DIR                             identity, config and every live record of a running node
 *   shoal restore DIR                            put a backup's identity and config into a fresh data dir
 * See docs/operations.md "Backup and restore" for what a backup holds and how a restored node catches up.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, writeFile, chmod, access, open } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { resolveDataDir, ShoalError } from '@shoal/core'
import { dataPath, defaultDataDir, SeqReservation } from '@shoal/node'
import type { RpcClient, ShoalMethods } from '@shoal/rpc'
import { connectClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse, str, UsageError } from '../args.js'
import type { Io } from '../output.js'

/** Records per kv.import call: well under the server's 1000 and its 1 MiB body limit for small values. */
const IMPORT_BATCH = 200
/** Records per kv.export page. */
const EXPORT_PAGE = 500

export const BACKUP_HELP = `Usage: shoal backup DIR [--data-dir DIR]
       shoal restore DIR --data-dir DIR

backup   writes DIR (new or empty): identity.key and config.json from the data dir (not rpc.token or swarm.key), kv.jsonl with every
         record of the running daemon's replica, deleted keys included, as of one instant (one LevelDB snapshot; the
         signed events that wrote them), and backup.json (peer id, times, record count, and that instant: the
         applied event-log LSN and greatest version)
restore  puts a backup's identity.key and config.json, and a new rpc.token, into a data dir that has none; then start the daemon
         and run \`shoal kv import DIR/kv.jsonl\`: the node rejoins under its old peer id, the import merges
         its records back, and anti-entropy brings what the swarm wrote since

${CLIENT_HELP}`

type Env = Record<string, string | undefined>

const KV_EXPORT_HELP = `Usage: shoal kv export [--prefix P] > file.jsonl
       shoal kv import FILE|-

export  records (deleted keys as tombstones) with the signed events that wrote them, one JSON line each, in key
        order, all from one snapshot of the replica
import  merges them into the local replica by the normal rules (older versions lose; importing twice changes
        nothing); exit code 1 if any record was refused (bad signature or malformed)

${CLIENT_HELP}`

/** The instant an export copies (kv.export `snapshot`). */
interface ExportSnapshot { appliedLsn: number, maxVersion?: { wall: number, logical: number, node: string }, keys: number, tombstones: number, lastChange: number, takenAt: number }

/**
 * Every record under `prefix` (tombstones included), as JSON lines passed to `line`, all read from one snapshot
 * of the daemon's replica (kv.export pages share it). Returns the count and the snapshot's instant.
 */
export async function exportRecords (client: RpcClient<ShoalMethods>, prefix: string | undefined, line: (text: string) => void | Promise<void>): Promise<{ records: number, tombstones: number, snapshot: ExportSnapshot }> {
  let cursor: string | undefined
  let records = 0
  let tombstones = 0
  let snapshot: ExportSnapshot | undefined
  do {
    const page = await client.call('kv.export', { ...(prefix !== undefined ? { prefix } : {}), ...(cursor !== undefined ? { cursor } : {}), limit: EXPORT_PAGE })
    snapshot ??= page.snapshot
    for (const r of page.records) { await line(JSON.stringify(r)); records++; if (r.tombstone === true) tombstones++ }
    cursor = page.next
  } while (cursor !== undefined)
  return { records, tombstones, snapshot: snapshot! }
}

/** Reads JSON lines from `file` ('-' = stdin) and sends them to kv.import in batches. */
export async function importRecords (client: RpcClient<ShoalMethods>, file: string): Promise<{ received: number, changed: number, refused: number }> {
  const input = file === '-' ? process.stdin : createReadStream(file)
  const lines = createInterface({ input, crlfDelay: Infinity })
  const total = { received: 0, changed: 0, refused: 0 }
  let batch: Array<{ event: Record<string, unknown> }> = []
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const r = await client.call('kv.import', { records: batch as never })
    total.received += r.received; total.changed += r.changed; total.refused += r.refused
    batch = []
  }
  let n = 0
  for await (const text of lines) {
    n++
    if (text.trim() === '') continue
    let record: unknown
    try { record = JSON.parse(text) } catch { throw new UsageError(`shoal kv import: ${file} line ${n} is not JSON`) }
    if (typeof record !== 'object' || record === null || typeof (record as { event?: unknown }).event !== 'object') {
      throw new UsageError(`shoal kv import: ${file} line ${n} has no signed "event" (was it written by \`shoal kv export\`?)`)
    }
    batch.push({ event: (record as { event: Record<string, unknown> }).event })
    if (batch.length >= IMPORT_BATCH) await flush()
  }
  await flush()
  return total
}

export async function kvExportCommand (argv: string[], io: Io, env: Env): Promise<number> {
  const { values } = parse('kv export', argv, { ...CLIENT_OPTIONS, prefix: { type: 'string' } })
  if (values.help === true) { io.out(KV_EXPORT_HELP); return 0 }
  const client = await connectClient(values, env)
  await exportRecords(client, str(values.prefix), text => { io.out(text) })
  return 0
}

export async function kvImportCommand (argv: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parse('kv import', argv, CLIENT_OPTIONS, 1)
  if (values.help === true) { io.out(KV_EXPORT_HELP); return 0 }
  const [file] = positionals
  if (file === undefined) throw new UsageError('shoal kv import: need FILE (a `shoal kv export` output, or - for stdin)')
  const r = await importRecords(await connectClient(values, env), file)
  io.out(values.json === true ? JSON.stringify(r) : `imported ${r.received} records: ${r.changed} changed this replica, ${r.received - r.changed - r.refused} were already here or older, ${r.refused} refused`)
  return r.refused > 0 ? 1 : 0
}

export async function backupCommand (argv: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parse('backup', argv, CLIENT_OPTIONS, 1)
  if (values.help === true) { io.out(BACKUP_HELP); return 0 }
  const [target] = positionals
  if (target === undefined) throw new UsageError('shoal backup: need DIR (new or empty)')
  const dir = resolve(target)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if ((await readdir(dir)).length > 0) throw new UsageError(`shoal backup: ${dir} is not empty`)
  const dataDir = resolveDataDir({ flags: { dataDir: str(values['data-dir']) }, env, defaultDataDir: defaultDataDir() })
  const client = await connectClient(values, env)
  const info = await client.call('node.info')
  const startedAt = Date.now()
  await copyFile(dataPath(dataDir, 'identity'), join(dir, 'identity.key'))
  await chmod(join(dir, 'identity.key'), 0o600)
  if (await exists(dataPath(dataDir, 'config'))) await copyFile(dataPath(dataDir, 'config'), join(dir, 'config.json'))
  const out = await open(join(dir, 'kv.jsonl'), 'wx', 0o600)
  let copied: Awaited<ReturnType<typeof exportRecords>>
  try {
    copied = await exportRecords(client, undefined, async text => { await out.write(text + '\n') })
    await out.sync()
  } finally {
    await out.close()
  }
  // `snapshot` is the instant kv.jsonl holds: the replica after it had applied event-log LSN `appliedLsn`,
  // its greatest version `maxVersion`, taken at `takenAt` (daemon clock).
  const { records, tombstones, snapshot } = copied
  const manifest = { peerId: info.peerId, swarm: info.swarm, version: info.version, startedAt, finishedAt: Date.now(), records, tombstones, snapshot }
  await writeFile(join(dir, 'backup.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 })
  io.out(values.json === true ? JSON.stringify(manifest) : `backed up ${info.peerId}: ${records} records to ${dir}`)
  return 0
}

export async function restoreCommand (argv: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parse('restore', argv, CLIENT_OPTIONS, 1)
  if (values.help === true) { io.out(BACKUP_HELP); return 0 }
  const [source] = positionals
  if (source === undefined) throw new UsageError('shoal restore: need DIR (a `shoal backup` directory)')
  const dir = resolve(source)
  const manifest = JSON.parse(await readFile(join(dir, 'backup.json'), 'utf8').catch(() => { throw new UsageError(`shoal restore: ${dir} has no backup.json`) })) as { peerId: string }
  const dataDir = resolveDataDir({ flags: { dataDir: str(values['data-dir']) }, env, defaultDataDir: defaultDataDir() })
  if (await exists(dataPath(dataDir, 'identity'))) {
    throw new ShoalError('ERR_ALREADY_EXISTS', `${dataPath(dataDir, 'identity')} exists: restore into an empty data dir (move the old one aside first)`)
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  // First: the original went on publishing after the backup, so the node must learn its last seq from peers
  // before it signs. Marked before the identity lands, so no half-done restore starts without the mark.
  await SeqReservation.markRestored(dataDir)
  await copyFile(join(dir, 'identity.key'), dataPath(dataDir, 'identity'))
  await chmod(dataPath(dataDir, 'identity'), 0o600)
  if (await exists(join(dir, 'config.json'))) await copyFile(join(dir, 'config.json'), dataPath(dataDir, 'config'))
  // A new RPC token: the old one is not part of a backup (clients of the restored node read the new file).
  await writeFile(dataPath(dataDir, 'token'), randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
  io.out(`restored ${manifest.peerId} into ${dataDir}; now start the daemon and run: shoal kv import ${join(dir, 'kv.jsonl')}`)
  return 0
}

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}
