/** Shared by the KV repository suites: open a repository in the test's temp dir, and record builders. */
import { join } from 'node:path'
import { KvRepository } from '../src/kv-repository.js'
import type { KvChange, StoredKvRecord } from '../src/kv-records.js'
import { openStore } from '../src/store.js'
import type { Store } from '../src/store.js'
import type { Ctx } from './event-log-helpers.js'

export async function openKv (ctx: Ctx, name = 'db'): Promise<{ store: Store, kv: KvRepository }> {
  const store = await openStore(join(ctx.dir, name))
  ctx.open.push(store)
  return { store, kv: await KvRepository.open(store) }
}

/**
 * Closes the store and opens the same directory again: a clean restart when the repository `kv` is given (closed
 * first), else a restart after a crash (change numbers then resume EARLY_CHANGES_MAX above the last written).
 */
export async function reopenKv (ctx: Ctx, store: Store, kv?: KvRepository, name = 'db'): Promise<{ store: Store, kv: KvRepository }> {
  await kv?.close()
  await store.close()
  ctx.open.splice(ctx.open.indexOf(store), 1)
  return await openKv(ctx, name)
}

/** A live record of `key` at wall time `wall` (the event is a stand-in: the store does not read it). */
export function put (key: string, wall: number, value: unknown = { n: wall }, node = 'n1'): StoredKvRecord {
  return {
    key, tombstone: false, version: { wall, logical: 0, node }, value,
    event: { v: 1, type: 'kv.put', topic: 'kv', origin: node, seq: wall, hlc: { wall, logical: 0 }, data: JSON.stringify({ key, value }), sig: `sig-${key}-${wall}` }
  }
}

export function del (key: string, wall: number, node = 'n1'): StoredKvRecord {
  return {
    key, tombstone: true, version: { wall, logical: 0, node },
    event: { v: 1, type: 'kv.del', topic: 'kv', origin: node, seq: wall, hlc: { wall, logical: 0 }, data: JSON.stringify({ key }), sig: `sig-${key}-${wall}` }
  }
}

export function change (record: StoredKvRecord, previous?: StoredKvRecord): KvChange {
  return previous === undefined ? { record } : { record, previous }
}

export const bytesOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value))
