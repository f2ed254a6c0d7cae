import { connectClient, connectWsClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse, str, UsageError } from '../args.js'
import { table } from '../output.js'
import type { Io } from '../output.js'
import { readJsonValue } from '../values.js'
import { kvExportCommand, kvImportCommand } from './backup.js'

export const KV_HELP = `Usage: shoal kv put KEY VALUE|@FILE|- [--acks N|quorum|all]
       shoal kv get KEY
       shoal kv del KEY [--acks N|quorum|all]
       shoal kv list [PREFIX] [--cursor KEY] [--limit N]
       shoal kv watch [PREFIX] [--since CHANGE]
       shoal kv stats
       shoal kv export [--prefix P] > file.jsonl
       shoal kv import FILE|-

put    writes KEY; VALUE is JSON, inline, from a file (@FILE) or from stdin (-). Inline text that starts
       like JSON ({ [ " digit -) must parse; a bare word is stored as a string. --acks: how many nodes,
       this one included, must hold it on disk before the command returns (default 1)
get    reads KEY from the local replica (exit code 4 if it does not exist)
del    deletes KEY (a tombstone: the key stays deleted everywhere)
list   live keys in order, optionally under PREFIX; prints the cursor for the next page
watch  prints changes as they are applied here until Ctrl-C; resumable with --since
stats  keys, tombstones, Merkle root, and whether each peer's root matches ours (converged?)
export live records with the signed events that wrote them, one JSON line each
import merges exported records by the normal rules (older versions lose; importing twice changes nothing);
       exit code 1 if any were refused (bad signature)

${CLIENT_HELP}`

const OPTIONS = { ...CLIENT_OPTIONS, acks: { type: 'string' }, cursor: { type: 'string' }, limit: { type: 'string' }, since: { type: 'string' } } as const

export async function kvCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'export') return await kvExportCommand(rest, io, env)
  if (sub === 'import') return await kvImportCommand(rest, io, env)
  const { values, positionals } = parse(`kv ${sub ?? ''}`.trim(), rest, OPTIONS, 2)
  if (sub === undefined || values.help === true || sub === 'help' || sub === '--help' || sub === '-h') { io.out(KV_HELP); return sub === undefined ? 2 : 0 }
  const json = values.json === true
  switch (sub) {
    case 'put':
    case 'del': {
      const [key, raw] = positionals
      if (key === undefined || (sub === 'put' && raw === undefined)) throw new UsageError(`shoal kv ${sub}: need KEY${sub === 'put' ? ' and VALUE' : ''}, e.g. shoal kv put config/mode '"fast"'`)
      const acks = parseAcks(str(values.acks))
      // Read and checked before connecting: a bad value is a usage error even with no daemon running.
      const value = sub === 'put' ? await readJsonValue(raw!, 'kv put', 'VALUE') : undefined
      const client = await connectClient(values, env)
      const result = sub === 'put'
        ? await client.call('kv.put', { key, value: value!, ...(acks !== undefined ? { acks } : {}) })
        : await client.call('kv.delete', { key, ...(acks !== undefined ? { acks } : {}) })
      io.out(json ? JSON.stringify(result) : `${sub === 'put' ? 'stored' : 'deleted'} ${key} (acknowledged by ${result.acked} of ${result.required} required)`)
      return 0
    }
    case 'get': {
      const [key] = positionals
      if (key === undefined) throw new UsageError('shoal kv get: need KEY')
      try {
        const record = await (await connectClient(values, env)).call('kv.get', { key })
        io.out(json ? JSON.stringify(record) : JSON.stringify(record.value, null, 2))
        return 0
      } catch (err) {
        if ((err as { code?: number }).code === -32004) { io.err(`shoal: no key ${JSON.stringify(key)}`); return 4 }
        throw err
      }
    }
    case 'list': {
      const limit = str(values.limit) === undefined ? undefined : Number(str(values.limit))
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new UsageError(`shoal kv list: --limit must be a whole number >= 1, got '${str(values.limit) ?? ''}'`)
      const cursor = str(values.cursor)
      const page = await (await connectClient(values, env)).call('kv.list', { ...(positionals[0] !== undefined ? { prefix: positionals[0] } : {}), ...(cursor !== undefined ? { cursor } : {}), ...(limit !== undefined ? { limit } : {}) })
      if (json) { io.out(JSON.stringify(page, null, 2)); return 0 }
      io.out(table(['KEY', 'VALUE', 'WRITTEN BY'], page.records.map(r => [r.key, JSON.stringify(r.value), r.version.node])))
      if (page.next !== undefined) io.out(`more: shoal kv list${positionals[0] !== undefined ? ` ${positionals[0]}` : ''} --cursor ${JSON.stringify(page.next)}`)
      return 0
    }
    case 'watch': {
      const since = str(values.since) === undefined ? undefined : Number(str(values.since))
      if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new UsageError(`shoal kv watch: --since must be a whole number >= 0, got '${str(values.since) ?? ''}'`)
      const client = await connectWsClient(values, env)
      return await new Promise<number>(resolve => {
        const subscribed = client.subscribe('kv.watch', { ...(positionals[0] !== undefined ? { prefix: positionals[0] } : {}), ...(since !== undefined ? { since } : {}) }, {
          onNotification: (c: any) => { io.out(json ? JSON.stringify(c) : `${String(c.change).padStart(6)}  ${c.deleted === true ? 'deleted' : 'set    '}  ${c.key}${c.deleted === true ? '' : `  ${JSON.stringify(c.value)}`}`) },
          onError: (err: Error) => { io.err(`shoal: ${err.message}`); void client.close(); resolve(1) }
        })
        const stop = (): void => { void subscribed.then(s => s.unsubscribe()).catch(() => {}); void client.close(); resolve(0) }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    }
    case 'stats': {
      const client = await connectClient(values, env)
      const [stats, sync] = await Promise.all([client.call('kv.stats', {}), client.call('kv.syncStatus', {})])
      if (json) { io.out(JSON.stringify({ ...stats, converged: sync.converged, sync: sync.peers }, null, 2)); return 0 }
      io.out([
        `keys:       ${stats.keys} (${stats.tombstones} tombstones, ${stats.bytes} bytes)`,
        `root:       ${stats.root}`,
        `converged:  ${sync.converged ? 'yes' : 'no'} (${Object.values(sync.peers).filter(p => p.match).length} of ${Object.keys(sync.peers).length} peers have our root)`
      ].join('\n'))
      if (Object.keys(sync.peers).length > 0) {
        io.out(table(['PEER', 'ROOT MATCHES', 'LAST ROUND'], Object.entries(sync.peers).map(([id, p]) => [id, p.match ? 'yes' : (p.error ?? 'no'), stats.peers[id]?.lastRound === undefined ? '-' : new Date(stats.peers[id]!.lastRound!).toISOString()])))
      }
      return 0
    }
    default:
      throw new UsageError(`shoal kv: unknown subcommand '${sub}'. Use put, get, del, list, watch or stats.`)
  }
}

function parseAcks (v: string | undefined): number | 'quorum' | 'all' | undefined {
  if (v === undefined) return undefined
  if (v === 'quorum' || v === 'all') return v
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`shoal kv: --acks must be a number >= 1, quorum or all, got '${v}'`)
  return n
}
