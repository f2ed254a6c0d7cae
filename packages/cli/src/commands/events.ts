import { connectClient, connectWsClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse, str, UsageError } from '../args.js'
import { table } from '../output.js'
import type { Io } from '../output.js'
import { readJsonValue } from '../values.js'

export const EVENTS_HELP = `Usage: shoal events publish TOPIC DATA|@FILE|- [--type TYPE]
       shoal events list [TOPIC] [--since CURSOR] [--limit N]
       shoal events tail [TOPIC] [--since CURSOR]
       shoal events stats

publish  signs, stores and gossips an event; DATA is JSON, inline, from a file (@FILE) or from stdin (-);
         inline text that looks like JSON must parse, and a bare word is sent as a string
list     events this node has delivered after CURSOR (per origin in order); prints the next cursor
tail     prints events as they arrive (from CURSOR first, if given) until Ctrl-C; resumable
stats    the local event log: heads per origin, counters, rejections by reason

${CLIENT_HELP}`

const OPTIONS = { ...CLIENT_OPTIONS, type: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } } as const

export async function eventsCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parse(`events ${sub ?? ''}`.trim(), rest, OPTIONS, 2)
  if (sub === undefined || values.help === true || sub === 'help' || sub === '--help' || sub === '-h') { io.out(EVENTS_HELP); return sub === undefined ? 2 : 0 }
  const since = cursor(str(values.since), 'since')
  switch (sub) {
    case 'publish': {
      const [topic, raw] = positionals
      if (topic === undefined || raw === undefined) throw new UsageError('shoal events publish: need TOPIC and DATA, e.g. shoal events publish orders \'{"id":1}\'')
      // Read and checked before connecting: bad DATA is a usage error even with no daemon running.
      const data = await readJsonValue(raw, 'events publish', 'DATA')
      const client = await connectClient(values, env)
      const type = str(values.type)
      const result = await client.call('events.publish', { topic, data, ...(type !== undefined ? { type } : {}) })
      io.out(values.json === true ? JSON.stringify(result) : `published ${result.origin}#${result.seq} (cursor ${result.lsn})`)
      return 0
    }
    case 'list': {
      const client = await connectClient(values, env)
      const limit = cursor(str(values.limit), 'limit')
      const page = await client.call('events.list', { ...(positionals[0] !== undefined ? { topic: positionals[0] } : {}), ...(since !== undefined ? { since } : {}), ...(limit !== undefined ? { limit } : {}) })
      if (values.json === true) { io.out(JSON.stringify(page, null, 2)); return 0 }
      io.out(table(['CURSOR', 'TOPIC', 'ORIGIN', 'SEQ', 'DATA'], page.events.map(e => [String(e.lsn), e.topic, e.origin, String(e.seq), JSON.stringify(e.data)])))
      io.out(`next cursor: ${page.next}`)
      return 0
    }
    case 'tail': {
      const client = await connectWsClient(values, env)
      const topic = positionals[0]
      return await new Promise<number>(resolve => {
        const sub = client.subscribe('events.subscribe', { ...(topic !== undefined ? { topic } : {}), ...(since !== undefined ? { since } : {}) }, {
          onNotification: (e: any) => {
            io.out(values.json === true ? JSON.stringify(e) : `${String(e.lsn).padStart(6)}  ${e.topic}  ${e.origin}#${e.seq}  ${JSON.stringify(e.data)}`)
          },
          onError: (err: Error) => {
            io.err(`shoal: ${err.message}`)
            client.close()
            resolve(1)
          }
        })
        const stop = (): void => { void sub.then(s => s.unsubscribe()).catch(() => {}); client.close(); resolve(0) }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    }
    case 'stats': {
      const stats = await (await connectClient(values, env)).call('events.stats', {})
      io.out(JSON.stringify(stats, null, 2))
      return 0
    }
    default:
      throw new UsageError(`shoal events: unknown subcommand '${sub}'. Use publish, list, tail or stats.`)
  }
}

function cursor (v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`shoal events: --${name} must be a whole number >= 0, got '${v}'`)
  return n
}
