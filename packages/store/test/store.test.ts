/**
 * The store against a real LevelDB in a temp dir: the schema-version check at open, the lock, atomic batches,
 * range iteration, write-error mapping, and the peer repository a restart redials from.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Level } from 'level'
import { BUCKETS, SCHEMA_VERSION, SCHEMA_VERSION_KEY } from '../src/buckets.js'
import { MAX_KNOWN_PEERS, PeerRepository } from '../src/peer-repository.js'
import { openStore, STORE_ERRORS, StoreError, toWriteError } from '../src/store.js'
import type { BatchOp } from '../src/store.js'
import type { Store } from '../src/store.js'

interface Ctx { dir: string, path: string, open: Store[] }

/** Each test gets a fresh temp dir, removed afterwards with whatever stores it left open closed. */
function withTempDir (s: ReturnType<typeof suite<Ctx>>): void {
  s.before.each(async ctx => {
    ctx.dir = await mkdtemp(join(tmpdir(), 'shoal-store-'))
    ctx.path = join(ctx.dir, 'db')
    ctx.open = []
  })
  s.after.each(async ctx => {
    for (const store of ctx.open) await store.close().catch(() => {})
    await rm(ctx.dir, { recursive: true, force: true })
  })
}

async function open (ctx: Ctx): Promise<Store> {
  const store = await openStore(ctx.path)
  ctx.open.push(store)
  return store
}

/** Raw access to the meta bucket, bypassing the store (what another program or an old version would do). */
async function withRawDb (path: string, fn: (db: Level<string, unknown>) => Promise<void>): Promise<void> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' })
  await db.open()
  try { await fn(db) } finally { await db.close() }
}

async function readSchemaVersion (path: string): Promise<unknown> {
  let found: unknown
  await withRawDb(path, async db => { found = await db.sublevel<string, unknown>(BUCKETS.meta, { valueEncoding: 'json' }).get(SCHEMA_VERSION_KEY) })
  return found
}

async function expectStoreError (promise: Promise<unknown>, code: string): Promise<StoreError> {
  let caught: unknown
  try { await promise } catch (err) { caught = err }
  assert.ok(caught instanceof StoreError, `expected StoreError ${code}, got ${String(caught)}`)
  assert.is((caught as StoreError).code, code, (caught as StoreError).message)
  return caught as StoreError
}

// ---------------------------------------------------------------------------------------------------------
const schema = suite<Ctx>('store: open and schema version')
withTempDir(schema)

schema('open creates the database and writes the schema version', async ctx => {
  const store = await openStore(ctx.path)
  assert.is(store.path, ctx.path)
  await store.close()
  assert.is(await readSchemaVersion(ctx.path), SCHEMA_VERSION)
})

schema('reopen works and keeps the data', async ctx => {
  const first = await openStore(ctx.path)
  await first.bucket<{ x: number }>(BUCKETS.peers).put('k', { x: 1 })
  await first.close()
  const second = await open(ctx)
  assert.equal(await second.bucket<{ x: number }>(BUCKETS.peers).get('k'), { x: 1 })
  assert.is(await second.bucket(BUCKETS.peers).get('missing'), undefined)
})

schema('another schema version is refused with ERR_STORE_INCOMPATIBLE and what to do about it', async ctx => {
  await (await openStore(ctx.path)).close()
  await withRawDb(ctx.path, async db => { await db.sublevel<string, unknown>(BUCKETS.meta, { valueEncoding: 'json' }).put(SCHEMA_VERSION_KEY, SCHEMA_VERSION + 1) })
  const err = await expectStoreError(openStore(ctx.path), STORE_ERRORS.incompatible)
  assert.ok(err.message.includes(ctx.path), err.message)
  assert.match(err.message, /schema version 2/)
  assert.match(err.message, /Upgrade shoal, or move the directory aside/)
  assert.equal(err.data, { path: ctx.path, found: SCHEMA_VERSION + 1, expected: SCHEMA_VERSION })
  // The refused database is closed again: nothing holds its lock, and it was not rewritten.
  assert.is(await readSchemaVersion(ctx.path), SCHEMA_VERSION + 1)
})

schema('a schema version of another type ("1") is not the same version', async ctx => {
  await withRawDb(ctx.path, async db => { await db.sublevel<string, unknown>(BUCKETS.meta, { valueEncoding: 'json' }).put(SCHEMA_VERSION_KEY, '1') })
  const err = await expectStoreError(openStore(ctx.path), STORE_ERRORS.incompatible)
  assert.match(err.message, /schema version "1"/)
})

schema('an unreadable schema version (not JSON) is refused as incompatible, and the lock released', async ctx => {
  await withRawDb(ctx.path, async db => { await db.sublevel<string, string>(BUCKETS.meta, { valueEncoding: 'utf8' }).put(SCHEMA_VERSION_KEY, 'v1{') })
  const err = await expectStoreError(openStore(ctx.path), STORE_ERRORS.incompatible)
  assert.match(err.message, /move the directory aside/i)
  // If the failed open had left the database open, this would fail with a lock error.
  await withRawDb(ctx.path, async () => {})
})

schema('opening the same path twice fails with ERR_STORE_LOCKED naming the path', async ctx => {
  await open(ctx)
  const err = await expectStoreError(openStore(ctx.path), STORE_ERRORS.locked)
  assert.ok(err.message.includes(ctx.path))
  assert.match(err.message, /already running/)
})

schema('concurrent opens: exactly one wins', async ctx => {
  const results = await Promise.allSettled([openStore(ctx.path), openStore(ctx.path)])
  const won = results.filter((r): r is PromiseFulfilledResult<Store> => r.status === 'fulfilled')
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  ctx.open.push(...won.map(r => r.value))
  assert.is(won.length, 1)
  assert.is(lost.length, 1)
  assert.is((lost[0]!.reason as StoreError).code, STORE_ERRORS.locked)
})

schema('after close the path can be opened again', async ctx => {
  const a = await openStore(ctx.path)
  await a.close()
  await open(ctx)
})

schema.run()

// ---------------------------------------------------------------------------------------------------------
const peers = suite<Ctx>('store: PeerRepository')
withTempDir(peers)

peers('remember, list newest first, forget', async ctx => {
  const repo = new PeerRepository(await open(ctx))
  assert.equal(await repo.list(), [])
  await repo.remember('peer-old', { addrs: ['/ip4/10.0.0.1/tcp/7700'], lastSeen: 100 })
  await repo.remember('peer-new', { addrs: ['/ip4/10.0.0.2/tcp/7700'], lastSeen: 300 })
  await repo.remember('peer-mid', { addrs: [], lastSeen: 200 })
  assert.equal(await repo.list(), [
    { peerId: 'peer-new', addrs: ['/ip4/10.0.0.2/tcp/7700'], lastSeen: 300 },
    { peerId: 'peer-mid', addrs: [], lastSeen: 200 },
    { peerId: 'peer-old', addrs: ['/ip4/10.0.0.1/tcp/7700'], lastSeen: 100 }
  ])
  // Remembering again replaces (a peer is one entry, not a history).
  await repo.remember('peer-old', { addrs: ['/ip4/10.0.0.9/tcp/1'], lastSeen: 400 })
  assert.equal((await repo.list()).map(p => `${p.peerId}@${p.lastSeen}`), ['peer-old@400', 'peer-new@300', 'peer-mid@200'])
  await repo.forget('peer-new')
  await repo.forget('never-known') // forgetting an unknown peer is not an error
  assert.equal((await repo.list()).map(p => p.peerId), ['peer-old', 'peer-mid'])
})

peers('survives a restart', async ctx => {
  const first = await openStore(ctx.path)
  await new PeerRepository(first).remember('peer-a', { addrs: ['/ip4/1.2.3.4/tcp/1'], lastSeen: 5 })
  await first.close()
  assert.equal(await new PeerRepository(await open(ctx)).list(), [{ peerId: 'peer-a', addrs: ['/ip4/1.2.3.4/tcp/1'], lastSeen: 5 }])
})

peers('list skips malformed values instead of failing', async ctx => {
  await (await openStore(ctx.path)).close()
  await withRawDb(ctx.path, async db => {
    const json = db.sublevel<string, unknown>(BUCKETS.peers, { valueEncoding: 'json' })
    await json.put('good', { addrs: ['/ip4/1.1.1.1/tcp/1', 7], lastSeen: 10 })
    await json.put('no-addrs', { lastSeen: 10 })
    await json.put('addrs-string', { addrs: '/ip4/1.1.1.1/tcp/1', lastSeen: 10 })
    await json.put('lastseen-string', { addrs: [], lastSeen: '10' })
    await json.put('number', 42)
    const text = db.sublevel<string, string>(BUCKETS.peers, { valueEncoding: 'utf8' })
    await text.put('null', 'null')
    // Not JSON at all (a torn write, another program): must not take the whole list down.
    await text.put('garbage', '{"addrs": [')
  })
  const repo = new PeerRepository(await open(ctx))
  // Non-string addrs inside a good entry are dropped, the entry kept.
  assert.equal(await repo.list(), [{ peerId: 'good', addrs: ['/ip4/1.1.1.1/tcp/1'], lastSeen: 10 }])
})

peers('beyond MAX_KNOWN_PEERS only the newest are kept, and the rest are deleted', async ctx => {
  const store = await open(ctx)
  const repo = new PeerRepository(store)
  const extra = 10
  // Written in an order unrelated to lastSeen, so the cut cannot rely on key order.
  const ids = Array.from({ length: MAX_KNOWN_PEERS + extra }, (_, i) => i).sort((x, y) => ((x * 7919) % 263) - ((y * 7919) % 263))
  for (const i of ids) await repo.remember(`peer-${String(i).padStart(4, '0')}`, { addrs: [], lastSeen: 1000 + i })
  const listed = await repo.list()
  assert.is(listed.length, MAX_KNOWN_PEERS)
  assert.equal(listed.map(p => p.lastSeen), Array.from({ length: MAX_KNOWN_PEERS }, (_, i) => 1000 + MAX_KNOWN_PEERS + extra - 1 - i))
  // The oldest were forgotten on disk, not just hidden.
  let stored = 0
  for await (const [, value] of store.bucket<{ lastSeen: number }>(BUCKETS.peers).entries()) {
    stored++
    assert.ok(value.lastSeen >= 1000 + extra)
  }
  assert.is(stored, MAX_KNOWN_PEERS)
  assert.is((await repo.list()).length, MAX_KNOWN_PEERS)
})

peers('buckets are separate: peers do not see the schema key', async ctx => {
  const store = await open(ctx)
  const keys: string[] = []
  for await (const [k] of store.bucket(BUCKETS.peers).entries()) keys.push(k)
  assert.equal(keys, [])
  const meta: string[] = []
  for await (const [k] of store.bucket(BUCKETS.meta).entries()) meta.push(k)
  assert.equal(meta, [SCHEMA_VERSION_KEY])
})

peers.run()

// ---------------------------------------------------------------------------------------------------------
const writes = suite<Ctx>('store: batches, ranges and write errors')
withTempDir(writes)

writes('batch writes across buckets together, puts and dels', async ctx => {
  const store = await open(ctx)
  await store.bucket(BUCKETS.events).put('gone', { x: 0 })
  await store.batch([
    { bucket: BUCKETS.events, type: 'put', key: 'a/1', value: { x: 1 } },
    { bucket: BUCKETS.eventLsn, type: 'put', key: '1', value: { origin: 'a', seq: 1 } },
    { bucket: BUCKETS.events, type: 'del', key: 'gone' }
  ])
  assert.equal(await store.bucket(BUCKETS.events).get('a/1'), { x: 1 })
  assert.equal(await store.bucket(BUCKETS.eventLsn).get('1'), { origin: 'a', seq: 1 })
  assert.is(await store.bucket(BUCKETS.events).get('gone'), undefined)
  await store.batch([]) // nothing to do is fine
})

writes('a batch with an invalid op is rejected before anything is written', async ctx => {
  const store = await open(ctx)
  const good: BatchOp = { bucket: BUCKETS.events, type: 'put', key: 'a/1', value: { x: 1 } }
  const invalid: unknown[] = [
    { bucket: 'no-such-bucket', type: 'put', key: 'k', value: 1 },
    { bucket: BUCKETS.events, type: 'put', key: '', value: 1 },
    { bucket: BUCKETS.events, type: 'put', key: 'k', value: undefined },
    { bucket: BUCKETS.events, type: 'merge', key: 'k' },
    null
  ]
  for (const bad of invalid) {
    const err = await expectStoreError(store.batch([good, bad as BatchOp]), STORE_ERRORS.invalid)
    assert.match(err.message, /batch op 1 .*nothing of the batch was written/)
    assert.is(await store.bucket(BUCKETS.events).get('a/1'), undefined)
  }
})

writes('entries and keys take range options, and entries still skip undecodable values', async ctx => {
  await (await openStore(ctx.path)).close()
  await withRawDb(ctx.path, async db => {
    const json = db.sublevel<string, unknown>(BUCKETS.events, { valueEncoding: 'json' })
    for (const k of ['a', 'b', 'c', 'd', 'e']) await json.put(k, { k })
    await db.sublevel<string, string>(BUCKETS.events, { valueEncoding: 'utf8' }).put('c', '{"torn')
  })
  const bucket = (await open(ctx)).bucket<{ k: string }>(BUCKETS.events)
  const keys = async (opts: Parameters<typeof bucket.keys>[0]): Promise<string[]> => { const out: string[] = []; for await (const k of bucket.keys(opts)) out.push(k); return out }
  const entries = async (opts: Parameters<typeof bucket.entries>[0]): Promise<string[]> => { const out: string[] = []; for await (const [k, v] of bucket.entries(opts)) out.push(`${k}=${v.k}`); return out }
  assert.equal(await keys({}), ['a', 'b', 'c', 'd', 'e'])
  assert.equal(await keys({ gt: 'a', lte: 'd' }), ['b', 'c', 'd'])
  assert.equal(await keys({ gte: 'b', lt: 'd', reverse: true }), ['c', 'b'])
  assert.equal(await keys({ reverse: true, limit: 2 }), ['e', 'd'])
  assert.equal(await keys({ gt: undefined, limit: 1 }), ['a']) // an explicit undefined bound is no bound
  assert.equal(await entries({ gte: 'b', lte: 'd' }), ['b=b', 'd=d'])
  assert.equal(await entries({ reverse: true }), ['e=e', 'd=d', 'b=b', 'a=a'])
})

writes('getMany reads several keys in one call, in the order asked: undefined for a missing or undecodable value', async ctx => {
  await (await openStore(ctx.path)).close()
  await withRawDb(ctx.path, async db => {
    const json = db.sublevel<string, unknown>(BUCKETS.kv, { valueEncoding: 'json' })
    for (const k of ['a', 'b', 'c']) await json.put(k, { k })
    await db.sublevel<string, string>(BUCKETS.kv, { valueEncoding: 'utf8' }).put('torn', '{"k":')
  })
  const store = await open(ctx)
  const bucket = store.bucket<{ k: string }>(BUCKETS.kv)
  assert.equal(await bucket.getMany(['c', 'missing', 'a', 'torn', 'b']), [{ k: 'c' }, undefined, { k: 'a' }, undefined, { k: 'b' }])
  assert.equal(await bucket.getMany([]), [])
  // Another bucket's keys are not read through this one.
  assert.equal(await store.bucket(BUCKETS.events).getMany(['a']), [undefined])
  // Through a snapshot: what was there when it was taken.
  const snap = store.snapshot()
  await bucket.put('a', { k: 'changed' })
  try {
    assert.equal(await snap.bucket<{ k: string }>(BUCKETS.kv).getMany(['a']), [{ k: 'a' }])
  } finally {
    await snap.close()
  }
})

writes('write errors: a full disk is ERR_STORE_FULL, anything else ERR_STORE_IO', async ctx => {
  const full = toWriteError(Object.assign(new Error('IO error: /x/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }), '/x')
  assert.is(full.code, STORE_ERRORS.full)
  assert.match(full.message, /disk holding \/x is full/)
  assert.is(toWriteError(Object.assign(new Error('write failed'), { cause: Object.assign(new Error('ENOSPC: no space'), { code: 'ENOSPC' }) }), '/x').code, STORE_ERRORS.full)
  assert.is(toWriteError(new Error('IO error: permission denied'), '/x').code, STORE_ERRORS.io)
  const already = new StoreError(STORE_ERRORS.invalid, 'x')
  assert.is(toWriteError(already, '/x'), already)
  // Every write path maps: put, del and batch on a closed store.
  const store = await openStore(ctx.path)
  await store.close()
  await expectStoreError(store.bucket(BUCKETS.events).put('k', 1), STORE_ERRORS.io)
  await expectStoreError(store.bucket(BUCKETS.events).del('k'), STORE_ERRORS.io)
  await expectStoreError(store.batch([{ bucket: BUCKETS.events, type: 'del', key: 'k' }]), STORE_ERRORS.io)
})

writes.run()
