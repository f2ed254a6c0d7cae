/**
 * Local KV throughput through the node API (node.kv.put / node.kv.get on an in-process ShoalNode), beside raw
 * classic-level put/get on the same disk in the same run. Prints one Markdown section.
 */
import { join } from 'node:path'
import { Level } from 'level'
import { DATA_BYTES, SMOKE, log } from './common.js'
import { MemoryNodes, drive, kvValue } from './kv-common.js'
import { median, rate, ratioRange, table } from './stats.js'

const N = SMOKE ? 300 : 5000
const CONCURRENCY = 4
/** Rounds per operation, the backends taking turns. */
const ROUNDS = SMOKE ? 2 : 5

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

/** One operation kind on one backend: runs ops [from, to) (each i is a key of the kind's own key set). */
type Phase = (from: number, to: number) => Promise<number>

interface Backend {
  put: (k: string, i: number) => Promise<unknown>
  get: (k: string) => Promise<unknown>
}

/** Rates of each round, per backend, for one operation kind. */
interface Measured { node: number[], synced: number[], unsynced: number[] }

const OPS = ['put', 'put4', 'get', 'get4'] as const
type Op = typeof OPS[number]

/** Ops [from, to) of kind `op` on `b`, as a rate (ops/s); put and get of one kind use the same keys. */
function phase (b: Backend, op: Op): Phase {
  const concurrency = op.endsWith('4') ? CONCURRENCY : 1
  const prefix = op.endsWith('4') ? 'conc' : 'seq'
  return async (from, to) => await drive(to - from, concurrency, async i => {
    const k = key(prefix, from + i)
    if (op.startsWith('put')) await b.put(k, from + i)
    else await b.get(k)
  })
}

const nodes = await MemoryNodes.create()
const measured = new Map<Op, Measured>()
try {
  const node = await nodes.start(1)
  const dbs = { synced: await openLevel(join(nodes.root, 'level-true')), unsynced: await openLevel(join(nodes.root, 'level-false')) }
  try {
    // A short warm-up on each backend (JIT, LevelDB's first file), not counted.
    for (let i = 0; i < 50; i++) {
      await node.kv.put(`warm/${i}`, kvValue(i))
      await dbs.synced.put(`warm/${i}`, kvValue(i), { sync: true })
      await dbs.unsynced.put(`warm/${i}`, kvValue(i), { sync: false })
    }
    const levelOf = (db: Db, sync: boolean): Backend => ({
      put: async (k, i) => { await db.put(k, kvValue(i), { sync }) },
      get: async k => { if (await db.get(k) === undefined) throw new Error(`level lost ${k}`) }
    })
    const backends = {
      node: { put: async (k: string, i: number) => await node.kv.put(k, kvValue(i)), get: async (k: string) => await node.kv.get(k) },
      synced: levelOf(dbs.synced, true),
      unsynced: levelOf(dbs.unsynced, false)
    }
    log(`kv-local: ${N} ops per operation and backend, in ${ROUNDS} alternating rounds`)
    const per = Math.ceil(N / ROUNDS)
    for (const op of OPS) {
      const m: Measured = { node: [], synced: [], unsynced: [] }
      for (let r = 0; r < ROUNDS; r++) {
        for (const b of ['node', 'synced', 'unsynced'] as const) m[b].push(await phase(backends[b], op)(r * per, (r + 1) * per))
      }
      measured.set(op, m)
      log(`kv-local: ${op} ${JSON.stringify(m)}`)
    }
  } finally {
    await dbs.synced.close()
    await dbs.unsynced.close()
  }
} finally {
  await nodes.destroy()
}

const ops = (v: number): string => rate(v, 'ops/s')
const line = (what: string, op: Op): string[] => {
  const m = measured.get(op)!
  const ratios = m.node.map((v, i) => v / m.synced[i]!)
  return [what, ops(median(m.node)), ops(median(m.synced)), ratioRange(ratios), ops(median(m.unsynced))]
}

process.stdout.write(`## KV local throughput: node API vs raw LevelDB${SMOKE ? ' (smoke)' : ''}

Method: one ShoalNode in the bench process (createShoalNode over the memory transport, no peers, a temp data dir)
and, in the same run and the same temp directory (same disk), a raw \`level\` (classic-level) database with JSON
values. Each operation runs N = ${N.toLocaleString('en-US')} times per backend on fresh keys with values of about ${DATA_BYTES} B of JSON, sequentially or from
${CONCURRENCY} concurrent loops; gets read back the keys the puts wrote. The backends take turns in ${ROUNDS} rounds of
${Math.ceil(N / ROUNDS).toLocaleString('en-US')} operations (Shoal, level fsync'd, level without fsync), because this disk's fsync time drifts by 2x
within minutes; a rate is the median of its rounds, and "Shoal / level" the median of the rounds' ratios, with the
lowest and highest in brackets. A Shoal put signs an event, appends it to the
event log and writes record, Merkle tree and change log in one fsync'd batch before it returns, so the fair
baseline is a level put with \`sync: true\`; the last column is level without sync, for scale only.

${table(['operation', 'Shoal node.kv', "classic-level (fsync'd put)", 'Shoal / level', 'classic-level, no sync (scale)'], [
  line('put, sequential', 'put'),
  line(`put, ${CONCURRENCY} concurrent`, 'put4'),
  line('get, sequential', 'get'),
  line(`get, ${CONCURRENCY} concurrent`, 'get4')
])}
`)
process.exit(0)
