/**
 * The LevelDB database in a node's data dir. Opening checks the schema version so an incompatible or foreign
 * database is refused with a clear error instead of being misread.
 */
import { Level } from 'level'
import { ShoalError } from '@shoal/core'
import { BUCKETS, SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './buckets.js'
import type { BucketName } from './buckets.js'

export class StoreError extends ShoalError {}

export const STORE_ERRORS = {
  locked: 'ERR_STORE_LOCKED',
  corrupt: 'ERR_STORE_CORRUPT',
  incompatible: 'ERR_STORE_INCOMPATIBLE',
  io: 'ERR_STORE_IO'
} as const


export interface Store {
  readonly path: string
  bucket<V>(name: BucketName): BucketHandle<V>
  close(): Promise<void>
}

/** The narrow face a repository needs from one bucket. */
export interface BucketHandle<V> {
  get(key: string): Promise<V | undefined>
  put(key: string, value: V): Promise<void>
  del(key: string): Promise<void>
  /** In key order. A value that is not valid JSON is skipped: one damaged record must not end the iteration. */
  entries(opts?: { limit?: number }): AsyncIterable<[string, V]>
}

export async function openStore (path: string): Promise<Store> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' })
  try {
    await db.open()
  } catch (err) {
    throw classifyOpenError(err, path)
  }
  const meta = db.sublevel<string, unknown>(BUCKETS.meta, { valueEncoding: 'json' })
  let found: unknown
  try {
    found = await meta.get(SCHEMA_VERSION_KEY)
  } catch (err) {
    // Not JSON: not a shoal store (or a damaged one). Close it so the lock is not held by a failed open.
    await db.close()
    throw new StoreError(STORE_ERRORS.incompatible,
      `the database at ${path} has an unreadable schema version (${(err as Error).message}); it was not written by this shoal. ` +
      'Move the directory aside to start empty (its data then comes back from the swarm).',
      { path, expected: SCHEMA_VERSION })
  }
  if (found === undefined) {
    await meta.put(SCHEMA_VERSION_KEY, SCHEMA_VERSION)
  } else if (found !== SCHEMA_VERSION) {
    await db.close()
    throw new StoreError(STORE_ERRORS.incompatible,
      `the database at ${path} has schema version ${JSON.stringify(found)}; this shoal reads version ${SCHEMA_VERSION}. ` +
      'Upgrade shoal, or move the directory aside to start empty (its data then comes back from the swarm).',
      { path, found, expected: SCHEMA_VERSION })
  }

  return {
    path,
    bucket<V>(name: BucketName): BucketHandle<V> {
      const sub = db.sublevel<string, V>(name, { valueEncoding: 'json' })
      return {
        get: async key => await sub.get(key),
        put: async (key, value) => { await sub.put(key, value) },
        del: async key => { await sub.del(key) },
        async * entries (opts) {
          // Decoded here rather than by level, whose iterator throws (and stops) at the first undecodable value.
          const raw = db.sublevel<string, string>(name, { valueEncoding: 'utf8' })
          for await (const [key, text] of raw.iterator({ limit: opts?.limit ?? -1 })) {
            let value: V
            try { value = JSON.parse(text) as V } catch { continue }
            yield [key, value]
          }
        }
      }
    },
    close: async () => { await db.close() }
  }
}

function classifyOpenError (err: unknown, path: string): StoreError {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  const text = `${(err as Error).message ?? ''} ${cause?.message ?? ''}`
  if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(text)) {
    return new StoreError(STORE_ERRORS.locked, `the database at ${path} is in use by another process (is a shoal daemon already running with this data dir?)`, { path })
  }
  if (/corrupt/i.test(text)) {
    return new StoreError(STORE_ERRORS.corrupt, `the database at ${path} is corrupt: ${text.trim()}. See docs/operations.md ("Repairing a store").`, { path })
  }
  return new StoreError(STORE_ERRORS.io, `cannot open the database at ${path}: ${text.trim()}`, { path })
}
