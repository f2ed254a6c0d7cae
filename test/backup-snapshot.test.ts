/**
 * `shoal backup` / kv.export copy ONE instant of a running node's replica (a LevelDB snapshot read across all
 * pages), with real daemons and the real CLI:
 * - a writer keeps updating keys `a` then `z` (a1, z1, a2, z2, ...) while backups run; the 3,000 keys between
 *   them put `a` and `z` on different pages. A copy of one instant holds z_n with a_n or a_(n+1), never an `a`
 *   older than its `z` nor two or more apart (paging the live replica read `a` on the first page and `z` pages
 *   later: a_n with z_(n+k), k >= 1);
 * - backup.json names that instant (the snapshot's max version is the newest version in kv.jsonl);
 * - snapshots are released: after complete exports (more than the 4-at-once limit in a row succeed), and after
 *   clients that vanish mid-export (the limit is reached, then freed by the 30 s idle release);
 * - a deleted key stays deleted: the backup holds its tombstone, so after losing the disk, restore + import,
 *   an older copy of the key (an earlier export) does not bring it back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN_PATH } from '@shoal/cli/local-swarm'
import type { LocalNode, LocalSwarm } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { startSwarm } from './helpers/swarm.js'

interface Run { code: number, stdout: string, stderr: string }
async function shoal (args: string[]): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, ...args], { env: { ...process.env, SHOAL_DATA_DIR: '' }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

interface Line { key: string, value?: unknown, tombstone?: boolean, version: { wall: number, logical: number, node: string } }
const readLines = async (file: string): Promise<Line[]> => (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l) as Line)
const later = (x: Line['version'], y: Line['version']): boolean => x.wall !== y.wall ? x.wall > y.wall : x.logical !== y.logical ? x.logical > y.logical : x.node > y.node

const FILLER = 3000
let swarm: LocalSwarm
let node: (i: number) => LocalNode
let dir: string

test.before(async () => {
  ({ swarm, node } = await startSwarm(1))
  dir = await mkdtemp(join(tmpdir(), 'shoal-backup-snapshot-'))
  // Keys between `a` and `z`: the CLI's pages are 500 records, so `z` is 6 pages after `a`.
  const pad = 'x'.repeat(200)
  for (let i = 0; i < FILLER; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, j) => await node(1).client.call('kv.put', { key: `m/${String(i + j).padStart(5, '0')}`, value: pad })))
  }
})

test.after(async () => {
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

test('a backup taken while a writer updates a then z holds the state of one instant', async () => {
  let n = 0
  let writing = true
  const writer = (async () => {
    while (writing) {
      n++
      await node(1).client.call('kv.put', { key: 'a', value: n })
      await node(1).client.call('kv.put', { key: 'z', value: n })
    }
  })()
  try {
    await waitUntil('the writer is going', () => n >= 3)
    for (let round = 1; round <= 3; round++) {
      const target = join(dir, `live-${round}`)
      const r = await shoal(['backup', target, '--json', '--data-dir', node(1).dataDir])
      assert.is(r.code, 0, r.stderr)
      const lines = await readLines(join(target, 'kv.jsonl'))
      const a = lines.find(l => l.key === 'a')?.value as number
      const z = lines.find(l => l.key === 'z')?.value as number
      assert.ok(typeof a === 'number' && typeof z === 'number', 'both keys copied')
      assert.ok(a === z || a === z + 1, `round ${round}: the copy holds a${a} with z${z}: not one instant (a is written before z, so one instant has a = z or a = z + 1)`)
      assert.is(lines.filter(l => l.key.startsWith('m/')).length, FILLER)

      const manifest = JSON.parse(await readFile(join(target, 'backup.json'), 'utf8')) as { records: number, tombstones: number, snapshot: { appliedLsn: number, maxVersion: Line['version'], keys: number, tombstones: number } }
      assert.is(manifest.records, lines.length)
      assert.is(manifest.snapshot.keys + manifest.snapshot.tombstones, lines.length, 'the counters of the same instant')
      const newest = lines.reduce((m, l) => later(l.version, m) ? l.version : m, lines[0]!.version)
      assert.equal(manifest.snapshot.maxVersion, newest, 'backup.json names the instant: its max version is the newest record copied')
      assert.ok(manifest.snapshot.appliedLsn >= FILLER + 2 * z, `applied LSN ${manifest.snapshot.appliedLsn} covers the writes copied`)
    }
  } finally {
    writing = false
    await writer
  }
})

test('snapshots are released: after complete exports, and after clients that vanish mid-export', async () => {
  const UNAVAILABLE = -32003
  const NOT_FOUND = -32004
  const client = node(1).client
  const exportAll = async (): Promise<number> => {
    let count = 0
    let cursor: string | undefined
    do {
      const page = await client.call('kv.export', { limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      count += page.records.length
      cursor = page.next
    } while (cursor !== undefined)
    return count
  }
  // More complete exports in a row than may be open at once: each released its snapshot at its last page.
  for (let i = 0; i < 6; i++) assert.is(await exportAll(), FILLER + 2)

  // Four clients read one page each and vanish: the limit is reached...
  const abandoned: string[] = []
  for (let i = 0; i < 4; i++) abandoned.push((await client.call('kv.export', { limit: 1 })).next!)
  const refused = await client.call('kv.export', { limit: 1 }).then(() => undefined, (err: { code?: number }) => err.code)
  assert.is(refused, UNAVAILABLE, 'a fifth open export is refused')
  // ...until the idle release (30 s) frees their snapshots.
  const t0 = Date.now()
  await waitUntil('the abandoned exports are released', async () => await exportAll().then(() => true, () => false), { timeoutMs: 60_000, intervalMs: 1000 })
  assert.ok(Date.now() - t0 > 20_000, 'not before the idle time')
  const gone = await client.call('kv.export', { cursor: abandoned[0]! }).then(() => undefined, (err: { code?: number }) => err.code)
  assert.is(gone, NOT_FOUND, 'an abandoned cursor is refused once released')
})

test('a deleted key stays deleted after restore + import: the backup holds its tombstone', async () => {
  const client = node(1).client
  await client.call('kv.put', { key: 'del/k', value: 'before' })
  const old = await shoal(['kv', 'export', '--prefix', 'del/', '--data-dir', node(1).dataDir])
  assert.is(old.code, 0, old.stderr)
  const oldFile = join(dir, 'old.jsonl')
  await (await import('node:fs/promises')).writeFile(oldFile, old.stdout)
  await client.call('kv.delete', { key: 'del/k' })
  const backupDir = join(dir, 'with-delete')
  const backup = await shoal(['backup', backupDir, '--data-dir', node(1).dataDir])
  assert.is(backup.code, 0, backup.stderr)
  const copied = (await readLines(join(backupDir, 'kv.jsonl'))).find(l => l.key === 'del/k')
  assert.ok(copied?.tombstone === true && copied.value === undefined, `the backup holds the delete: ${JSON.stringify(copied)}`)

  // The disk is lost; restore and import the backup.
  const dataDir = node(1).dataDir
  await swarm.kill(1, 'SIGKILL')
  await rm(dataDir, { recursive: true, force: true })
  const restore = await shoal(['restore', backupDir, '--data-dir', dataDir])
  assert.is(restore.code, 0, restore.stderr)
  const back = await swarm.start(1)
  const imported = await shoal(['kv', 'import', join(backupDir, 'kv.jsonl'), '--json', '--data-dir', dataDir])
  assert.is(imported.code, 0, imported.stderr)
  assert.is((await back.client.call('kv.stats')).tombstones, 1)
  // An older copy of the key (an old export, or a stale peer) now meets the tombstone and loses.
  const stale = await shoal(['kv', 'import', oldFile, '--json', '--data-dir', dataDir])
  assert.is(stale.code, 0, stale.stderr)
  assert.equal(JSON.parse(stale.stdout), { received: 1, changed: 0, refused: 0 })
  assert.equal((await back.client.call('kv.list', { prefix: 'del/' })).records, [], 'the deleted key did not come back')
})

test.run()
