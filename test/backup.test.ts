/**
 * Backup and restore with real daemons and the real CLI. Node 3 is cut off and writes keys nobody else has;
 * `shoal backup` copies it; its disk is lost (SIGKILL, data dir deleted); the swarm writes on meanwhile.
 * `shoal restore` + `shoal kv import` bring it back under the same peer id, and afterwards every node holds
 * every key: node 3's own writes (only in the backup) and what the others wrote while it was gone.
 * Also: kv export/import keep versions (an older copy never overwrites newer data), a second import changes
 * nothing, and a tampered record is refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEQ_RESERVATION_BLOCK } from '@shoal/node'
import { BIN_PATH } from '@shoal/cli/local-swarm'
import type { LocalNode, LocalSwarm } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { heal, partition, startSwarm } from './helpers/swarm.js'

interface Run { code: number, stdout: string, stderr: string }
async function shoal (args: string[]): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, ...args], { env: { ...process.env, SHOAL_DATA_DIR: '' }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

let swarm: LocalSwarm
let node: (i: number) => LocalNode
let dir: string

test.before(async () => {
  ({ swarm, node } = await startSwarm(3, ['--debug']))
  dir = await mkdtemp(join(tmpdir(), 'shoal-backup-'))
})

test.after(async () => {
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

async function keys (n: LocalNode): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>()
  let cursor: string | undefined
  do {
    const page = await n.client.call('kv.list', { limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
    for (const r of page.records) out.set(r.key, r.value)
    cursor = page.next
  } while (cursor !== undefined)
  return out
}

test('export keeps versions: an older copy merges in without overwriting; a second import changes nothing; tampering is refused', async () => {
  const a = node(1)
  await a.client.call('kv.put', { key: 'ver/k', value: 'old', acks: 'all' })
  const exported = await shoal(['kv', 'export', '--prefix', 'ver/', '--data-dir', a.dataDir])
  assert.is(exported.code, 0, exported.stderr)
  const lines = exported.stdout.trim().split('\n')
  assert.is(lines.length, 1)
  const record = JSON.parse(lines[0] ?? '{}') as { key: string, value: unknown, version: { node: string }, event: { sig: string, data: string } }
  assert.is(record.key, 'ver/k')
  assert.is(record.version.node, a.peerId)
  assert.type(record.event.sig, 'string')
  const file = join(dir, 'old.jsonl')
  await writeFile(file, exported.stdout)

  await a.client.call('kv.put', { key: 'ver/k', value: 'new', acks: 'all' })
  const again = await shoal(['kv', 'import', file, '--json', '--data-dir', node(2).dataDir])
  assert.is(again.code, 0, again.stderr)
  assert.equal(JSON.parse(again.stdout), { received: 1, changed: 0, refused: 0 }, 'the older version loses')
  assert.is((await node(2).client.call('kv.get', { key: 'ver/k' })).value, 'new')

  const tampered = join(dir, 'tampered.jsonl')
  // A key nobody has (so no newer version hides it): only the signature can keep it out.
  record.event.data = record.event.data.replace('ver/k', 'ver/forged')
  await writeFile(tampered, JSON.stringify(record) + '\n')
  const refused = await shoal(['kv', 'import', tampered, '--json', '--data-dir', node(2).dataDir])
  assert.is(refused.code, 1, 'exit code 1 when a record is refused')
  assert.equal(JSON.parse(refused.stdout), { received: 1, changed: 0, refused: 1 })
  assert.equal((await node(2).client.call('kv.list', { prefix: 'ver/' })).records.map(r => [r.key, r.value]), [['ver/k', 'new']], 'nothing forged got in')

  const notExport = join(dir, 'bad.jsonl')
  await writeFile(notExport, '{"key":"x","value":1}\n')
  const bad = await shoal(['kv', 'import', notExport, '--data-dir', node(2).dataDir])
  assert.is(bad.code, 2)
  assert.match(bad.stderr, 'line 1 has no signed "event"')
})

test('back up, lose the disk, restore, converge: nothing lost', async () => {
  for (let i = 0; i < 30; i++) await node(1 + (i % 3)).client.call('kv.put', { key: `shared/${i}`, value: { i } })
  await node(1).client.call('kv.delete', { key: 'shared/0', acks: 'all' })
  // Node 3 alone: what it writes now exists nowhere else.
  await partition(node, [1, 2], [3])
  for (let i = 0; i < 20; i++) await node(3).client.call('kv.put', { key: `only3/${i}`, value: `n3-${i}` })
  const backupDir = join(dir, 'node3-backup')
  const backup = await shoal(['backup', backupDir, '--json', '--data-dir', node(3).dataDir])
  assert.is(backup.code, 0, backup.stderr)
  const manifest = JSON.parse(backup.stdout) as { peerId: string, records: number, tombstones: number }
  assert.is(manifest.peerId, node(3).peerId)
  const before3 = await keys(node(3))
  assert.is(manifest.records - manifest.tombstones, before3.size, 'every live record (and the tombstones)')
  assert.ok(manifest.tombstones >= 1, 'the delete of shared/0 is in the backup')
  assert.ok(before3.has('only3/19'))

  // The disk is lost.
  const peerId = node(3).peerId
  const dataDir = node(3).dataDir
  await swarm.kill(3, 'SIGKILL')
  await rm(dataDir, { recursive: true, force: true })
  await heal([node(1), node(2)])
  // The swarm carries on without it.
  for (let i = 0; i < 10; i++) await node(1).client.call('kv.put', { key: `while-down/${i}`, value: i })

  const restore = await shoal(['restore', backupDir, '--data-dir', dataDir])
  assert.is(restore.code, 0, restore.stderr)
  const again = await shoal(['restore', backupDir, '--data-dir', dataDir])
  assert.is(again.code, 1, 'refuses a data dir that has an identity')
  const back = await swarm.start(3, { bootstrap: [node(1).addrs[0] ?? ''] })
  assert.is(back.peerId, peerId, 'the same identity')
  // It published 20 writes after the others last heard from it, which only the backup holds: its first event now
  // must not reuse their seqs. Until a peer has told it how far it got, writes are refused; then they go on above.
  const ownSeqBefore = (await node(1).client.call('events.stats')).heads[peerId] ?? 0
  const first = await waitUntil('the restored node takes a write', async () =>
    await back.client.call('events.publish', { topic: 'after-restore', data: { first: true } }).catch((err: { code?: number, message: string }) => {
      assert.is(err.code, -32003, err.message)
      assert.match(err.message, 'restored from a backup')
      return undefined
    }), { timeoutMs: 20_000 })
  assert.ok(first.seq > ownSeqBefore + 20, `its first event after the restore takes seq ${first.seq}, above the ${ownSeqBefore + 20} it may have signed`)
  assert.is(first.seq, ownSeqBefore + SEQ_RESERVATION_BLOCK + 1, 'a block above what its peers held of it')
  const imported = await shoal(['kv', 'import', join(backupDir, 'kv.jsonl'), '--json', '--data-dir', dataDir])
  assert.is(imported.code, 0, imported.stderr)
  const counts = JSON.parse(imported.stdout) as { received: number, refused: number }
  assert.is(counts.received, manifest.records)
  assert.is(counts.refused, 0)

  const expected = new Map([...before3, ...await keys(node(1))])
  assert.ok(!expected.has('shared/0'), 'the delete holds')
  assert.is(expected.size, 29 + 20 + 10 + 1, 'shared (29 live), node 3 only, written while down, ver/k')
  await waitUntil('every node holds every key', async () => {
    const wrong: string[] = []
    for (const n of [node(1), node(2), back]) {
      const have = await keys(n)
      for (const [k, v] of expected) if (JSON.stringify(have.get(k)) !== JSON.stringify(v)) wrong.push(`node ${n.index} ${k}`)
      for (const k of have.keys()) if (!expected.has(k)) wrong.push(`node ${n.index} extra ${k}`)
    }
    // Thrown, so the timeout message names what is still missing.
    if (wrong.length > 0) throw new Error(`${wrong.length} wrong: ${wrong.slice(0, 5).join(', ')}`)
    return true
  }, { timeoutMs: 30_000 })
  const roots = await Promise.all([node(1), node(2), back].map(async n => (await n.client.call('kv.stats')).root))
  assert.is(new Set(roots).size, 1, 'replicas equal')
  assert.ok((await readFile(join(backupDir, 'kv.jsonl'), 'utf8')).includes('"only3/19"'))

  // The restored node speaks again: its next event reaches the others (its sequence went on a block above what
  // they held of it, and they skip that gap on its signed event).
  await back.client.call('events.publish', { topic: 'after-restore', data: { ok: true } })
  await waitUntil("node 1 delivers the restored node's new events", async () =>
    (await node(1).client.call('events.list', { topic: 'after-restore' })).events.filter(e => e.origin === peerId).length === 2, { timeoutMs: 20_000 })
  for (const n of [node(1), node(2)]) assert.is((await n.client.call('events.stats')).rejected.equivocation ?? 0, 0, `node ${n.index}: no equivocation`)
})

test.run()
