/**
 * Local KV throughput through the node API (node.kv.put / node.kv.get on an in-process ShoalNode), beside raw
 * classic-level put/get on the same disk in the same run. Prints one Markdown section.
 */
import { join } from 'node:path'
import { Level } from 'level'
import type { ShoalNode } from '@shoal/node'
import { DATA_BYTES, SMOKE, log } from './common.js'
import { MemoryNodes, drive, kvValue } from './kv-common.js'
import { rate, ratio, table } from './stats.js'

const N = SMOKE ? 300 : 5000
const CONCURRENCY = 4

type Db = Level<string, unknown>

async function openLevel (dir: string): Promise<Db> {
  const db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
  await db.open()
  return db
}

/** Keys `${prefix}${i}`, i in [0, N): one set per (backend, phase) so every put is a fresh key. */
function key (prefix: string, i: number): string {
  return `bench/${prefix}/${String(i).padStart(6, '0')}`
}

interface Row { put: number, put4: number, get: number, get4: number }

async function shoal (node: ShoalNode): Promise<Row> {
  const put = await drive(N, 1, async i => await node.kv.put(key('seq', i), kvValue(i)))
  const put4 = await drive(N, CONCURRENCY, async i => await node.kv.put(key('conc', i), kvValue(i)))
  const get = await drive(N, 1, async i => await node.kv.get(key('seq', i)))
  const get4 = await drive(N, CONCURRENCY, async i => await node.kv.get(key('conc', i)))
  return { put, put4, get, get4 }
}

async function level (db: Db, sync: boolean): Promise<Row> {
  const put = await drive(N, 1, async i => { await db.put(key('seq', i), kvValue(i), { sync }) })
  const put4 = await drive(N, CONCURRENCY, async i => { await db.put(key('conc', i), kvValue(i), { sync }) })
  const check = async (k: string): Promise<void> => { if (await db.get(k) === undefined) throw new Error(`level lost ${k}`) }
  const get = await drive(N, 1, async i => { await check(key('seq', i)) })
  const get4 = await drive(N, CONCURRENCY, async i => { await check(key('conc', i)) })
  return { put, put4, get, get4 }
}

const nodes = await MemoryNodes.create()
let result: { node: Row, synced: Row, unsynced: Row }
try {
  const node = await nodes.start(1)
  // A short warm-up on each backend (JIT, LevelDB's first file), not counted.
  for (let i = 0; i < 50; i++) await node.kv.put(`warm/${i}`, kvValue(i))
  log(`kv-local: node.kv, ${N} ops per phase`)
  const nodeRow = await shoal(node)
  log(`kv-local: node.kv ${JSON.stringify(nodeRow)}`)
  const rows: Row[] = []
  for (const sync of [true, false]) {
    const db = await openLevel(join(nodes.root, `level-${String(sync)}`))
    try {
      for (let i = 0; i < 50; i++) await db.put(`warm/${i}`, kvValue(i), { sync })
      rows.push(await level(db, sync))
      log(`kv-local: level sync=${String(sync)} ${JSON.stringify(rows.at(-1))}`)
    } finally {
      await db.close()
    }
  }
  result = { node: nodeRow, synced: rows[0]!, unsynced: rows[1]! }
} finally {
  await nodes.destroy()
}

const r = result
const ops = (v: number): string => rate(v, 'ops/s')
const line = (what: string, a: number, b: number, c: number): string[] => [what, ops(a), ops(b), ratio(a, b), ops(c)]

process.stdout.write(`## KV local throughput: node API vs raw LevelDB${SMOKE ? ' (smoke)' : ''}

Method: one ShoalNode in the bench process (createShoalNode over the memory transport, no peers, a temp data dir)
and, in the same run and the same temp directory (same disk), a raw \`level\` (classic-level) database with JSON
values. Each phase does N = ${N.toLocaleString('en-US')} operations on fresh keys with values of about ${DATA_BYTES} B of JSON, sequentially or from
${CONCURRENCY} concurrent loops; gets read back the keys the puts wrote. A Shoal put signs an event, appends it to the
event log and writes record, Merkle tree and change log in one fsync'd batch before it returns, so the fair
baseline is a level put with \`sync: true\`; the last column is level without sync, for scale only.

${table(['operation', 'Shoal node.kv', "classic-level (fsync'd put)", 'Shoal / level', 'classic-level, no sync (scale)'], [
  line('put, sequential', r.node.put, r.synced.put, r.unsynced.put),
  line(`put, ${CONCURRENCY} concurrent`, r.node.put4, r.synced.put4, r.unsynced.put4),
  line('get, sequential', r.node.get, r.synced.get, r.unsynced.get),
  line(`get, ${CONCURRENCY} concurrent`, r.node.get4, r.synced.get4, r.unsynced.get4)
])}
`)
process.exit(0)
