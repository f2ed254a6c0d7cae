/**
 * The LevelDB database in a node's data dir. Opening checks the schema version so an incompatible or foreign
 * database is refused with a clear error instead of being misread. Every write goes through `toWriteError`, so a
 * full disk is reported as ERR_STORE_FULL wherever it happens.
 */
import { Level } from 'level'
import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '@shoal/core'
import { BUCKETS, SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './buckets.js'
import type { BucketName } from './buckets.js'

export class StoreError extends ShoalError {}

export const STORE_ERRORS = {
  locked: 'ERR_STORE_LOCKED',
  corrupt: 'ERR_STORE_CORRUPT',
  incompatible: 'ERR_STORE_INCOMPATIBLE',
  io: 'ERR_STORE_IO',
  /** A write failed because the disk is full; nothing of that write was stored. */
  full: 'ERR_STORE_FULL',
  /** A caller bug: a batch op (or a record) the store refuses before writing anything. */
  invalid: 'ERR_STORE_INVALID'
} as const

/** One write of a batch. Every op of one `Store.batch` call lands together or not at all. */
export type BatchOp =
  | { bucket: BucketName, type: 'put', key: string, value: unknown }
  | { bucket: BucketName, type: 'del', key: string }

/** Options of one `Store.batch`. */
export interface BatchOptions {
  /** fsync before resolving (LevelDB's `sync` write option). Default false: the OS flushes later. */
  sync?: boolean
}

/** Key range and order for iteration, as LevelDB takes it (all bounds optional). */
export interface RangeOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  limit?: number
  reverse?: boolean
}

export interface Store {
  readonly path: string
  /** True when this open created the database (no schema version was there): a new node, or a lost `db/`. */
  readonly created: boolean
  bucket<V>(name: BucketName): BucketHandle<V>
  /**
   * One atomic LevelDB batch across buckets, so a value and its indexes land together. The ops are checked
   * first (known bucket, string key, a value to put); an invalid op rejects the whole batch before any write.
   * `sync: true` is LevelDB's sync write: the batch is fsynced before the promise resolves, so it survives a
   * machine crash, not only a process crash. Slower; acknowledged KV writes (docs/protocols/kv.md) use it.
   */
  batch(ops: BatchOp[], opts?: BatchOptions): Promise<void>
  /**
   * An explicit LevelDB snapshot (abstract-level `db.snapshot()`): reads through it see the database as it was
   * at this call, between two batches (a batch is never half in it), whatever is written afterwards. It pins
   * old data (LevelDB keeps overwritten values while it is open), so the caller must `close()` it; closing the
   * store, or the reopen after a failed write, closes it too (its reads then fail with LEVEL_SNAPSHOT_NOT_OPEN).
   */
  snapshot(): StoreSnapshot
  close(): Promise<void>
}

/** A point-in-time, read-only view of the store (Store.snapshot). */
export interface StoreSnapshot {
  bucket<V>(name: BucketName): ReadBucket<V>
  /** Releases the snapshot; idempotent. Reads after it fail. */
  close(): Promise<void>
}

/** The read half of a BucketHandle. */
export type ReadBucket<V> = Pick<BucketHandle<V>, 'get' | 'getMany' | 'entries' | 'keys'>

/** The narrow face a repository needs from one bucket. */
export interface BucketHandle<V> {
  get(key: string): Promise<V | undefined>
  /**
   * Several keys in one LevelDB call (classic-level's getMany: one trip to the thread pool, not one per key), in
   * the order asked; undefined for a missing key and for a value that is not valid JSON (as `entries` skips it).
   */
  getMany(keys: string[]): Promise<Array<V | undefined>>
  put(key: string, value: V): Promise<void>
  del(key: string): Promise<void>
  /** In key order (or reverse). A value that is not valid JSON is skipped: one damaged record must not end the iteration. */
  entries(opts?: RangeOptions): AsyncIterable<[string, V]>
  /** Keys only, with the same range options. */
  keys(opts?: RangeOptions): AsyncIterable<string>
}

const KNOWN_BUCKETS = new Set<string>(Object.values(BUCKETS))

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
    try { await meta.put(SCHEMA_VERSION_KEY, SCHEMA_VERSION) } catch (err) { await db.close(); throw toWriteError(err, path) }
  } else if (found !== SCHEMA_VERSION) {
    await db.close()
    throw new StoreError(STORE_ERRORS.incompatible,
      `the database at ${path} has schema version ${JSON.stringify(found)}; this shoal reads version ${SCHEMA_VERSION}. ` +
      'Upgrade shoal, or move the directory aside to start empty (its data then comes back from the swarm).',
      { path, found, expected: SCHEMA_VERSION })
  }

  // One sublevel object per bucket and encoding: batches name them, and creating one per call is not free (an
  // abstract-level instance that opens on a later tick, so the call itself is deferred): a receiving node paid it
  // on every getMany and iteration, about 0.1 ms each (measured).
  type Sublevel<V> = ReturnType<typeof db.sublevel<string, V>>
  const sublevels = new Map<string, Sublevel<unknown>>()
  const cachedSublevel = <V>(name: BucketName, valueEncoding: 'json' | 'utf8'): Sublevel<V> => {
    const key = `${valueEncoding}:${name}`
    let sub = sublevels.get(key)
    if (sub === undefined) {
      sub = db.sublevel<string, unknown>(name, { valueEncoding })
      sublevels.set(key, sub)
    }
    return sub as Sublevel<V>
  }
  const sublevel = (name: BucketName): Sublevel<unknown> => cachedSublevel<unknown>(name, 'json')
  /** The bucket with values as raw text: reads decode them here, so one bad value is skipped, not thrown. */
  const rawSublevel = (name: BucketName): Sublevel<string> => cachedSublevel<string>(name, 'utf8')

  /*
   * After a failed write (ENOSPC, an I/O error) LevelDB may have left part of a record in its write-ahead log and
   * carries on appending after it; at the next recovery the log reader drops the rest of that 32 KiB block, so
   * writes acknowledged after the failure (fsync'd or not) can vanish after a crash. Found by the chaos run
   * (a full disk, then kill -9: seqs 20-53 of one node lost). So the store reopens the database before the next
   * write: recovery then happens at once, while nothing after the partial record exists, and a new log starts.
   * Recovery writes the log out as a table, so it needs room: on a disk still full the reopen would fail and
   * leave the database closed, reads included (found by a chaos run with only disk faults: kv.get answered
   * -32603 until room came back). So the reopen waits for room; until then writes fail as on a full disk
   * (ERR_STORE_FULL, nothing stored) and reads go on from the database as it is.
   */
  let damaged = false
  let closed = false
  let reopening: Promise<void> | undefined
  const heal = async (): Promise<void> => {
    if (!damaged || closed) return
    reopening ??= (async () => {
      if (!await roomToRecover(path)) throw toWriteError(new Error('No space left on device to recover the database after the failed write'), path)
      try { await db.close() } catch {}
      try {
        await db.open()
        for (const sub of sublevels.values()) await sub.open()
      } catch (err) {
        throw toWriteError(err, path)
      }
      damaged = false
    })().finally(() => { reopening = undefined })
    await reopening
  }
  const write = async (fn: () => Promise<void>): Promise<void> => {
    await heal()
    try {
      await fn()
    } catch (err) {
      const e = toWriteError(err, path)
      if (e.code === STORE_ERRORS.full || e.code === STORE_ERRORS.io) damaged = true
      throw e
    }
  }

  /**
   * A recovery reopen closes and opens the database. Reads of the live database that start meanwhile wait it out;
   * a get that the close overtook is tried once more after it. An iteration already running fails as before.
   */
  const settled = async (): Promise<void> => { if (reopening !== undefined) await reopening.catch(() => {}) }
  const afterReopen = async <T>(read: () => Promise<T>): Promise<T> => {
    if (reopening !== undefined) await settled()
    try {
      return await read()
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'LEVEL_DATABASE_NOT_OPEN' || closed) throw err
      await settled()
      return await read()
    }
  }

  type Snapshot = ReturnType<typeof db.snapshot>
  /** get / entries / keys of one bucket, from the live database or through an explicit snapshot. */
  const reads = <V>(name: BucketName, snapshot: Snapshot | undefined): ReadBucket<V> => {
    const sub = sublevel(name)
    const at = snapshot === undefined ? {} : { snapshot }
    return {
      get: async key => snapshot !== undefined ? await sub.get(key, at) as V | undefined : await afterReopen(async () => await sub.get(key) as V | undefined),
      getMany: async keys => {
        if (keys.length === 0) return []
        const texts = snapshot !== undefined ? await rawSublevel(name).getMany(keys, at) : await afterReopen(async () => await rawSublevel(name).getMany(keys))
        return texts.map(text => {
          if (text === undefined) return undefined
          try { return JSON.parse(text) as V } catch { return undefined }
        })
      },
      async * entries (opts) {
        if (snapshot === undefined) await settled()
        // Decoded here rather than by level, whose iterator throws (and stops) at the first undecodable value.
        for await (const [key, text] of rawSublevel(name).iterator({ ...levelRange(opts), ...at })) {
          let value: V
          try { value = JSON.parse(text) as V } catch { continue }
          yield [key, value]
        }
      },
      async * keys (opts) {
        if (snapshot === undefined) await settled()
        for await (const key of sub.keys({ ...levelRange(opts), ...at })) yield key
      }
    }
  }

  return {
    path,
    created: found === undefined,
    bucket<V>(name: BucketName): BucketHandle<V> {
      const sub = sublevel(name)
      return {
        ...reads<V>(name, undefined),
        put: async (key, value) => { await write(async () => { await sub.put(key, value) }) },
        del: async key => { await write(async () => { await sub.del(key) }) }
      }
    },
    snapshot () {
      const snap = db.snapshot()
      return {
        bucket: <V>(name: BucketName) => reads<V>(name, snap),
        close: async () => { await snap.close() }
      }
    },
    async batch (ops, opts) {
      const checked = ops.map((op, i) => {
        checkOp(op, i)
        return op.type === 'put'
          ? { type: 'put' as const, sublevel: sublevel(op.bucket), key: op.key, value: op.value }
          : { type: 'del' as const, sublevel: sublevel(op.bucket), key: op.key }
      })
      if (checked.length === 0) return
      await write(async () => { await db.batch(checked, { sync: opts?.sync === true }) })
    },
    close: async () => { closed = true; await reopening?.catch(() => {}); await db.close() }
  }
}

/** Only the options given: level reads an explicit `undefined` bound as a key. */
function levelRange (opts: RangeOptions | undefined): RangeOptions & { limit: number } {
  const out: RangeOptions & { limit: number } = { limit: opts?.limit ?? -1 }
  for (const k of ['gt', 'gte', 'lt', 'lte'] as const) {
    const bound = opts?.[k]
    if (bound !== undefined) out[k] = bound
  }
  if (opts?.reverse === true) out.reverse = true
  return out
}

function checkOp (op: BatchOp, i: number): void {
  const bad = (why: string): StoreError => new StoreError(STORE_ERRORS.invalid, `batch op ${i} ${why}; nothing of the batch was written`, { index: i })
  if (op === null || typeof op !== 'object') throw bad('is not an object')
  if (!KNOWN_BUCKETS.has(op.bucket)) throw bad(`names an unknown bucket ${JSON.stringify(op.bucket)}`)
  if (typeof op.key !== 'string' || op.key === '') throw bad('has no key (a non-empty string)')
  if (op.type === 'put') {
    if (op.value === undefined) throw bad('puts no value')
  } else if (op.type !== 'del') {
    throw bad(`has type ${JSON.stringify((op as { type: unknown }).type)} (expected 'put' or 'del')`)
  }
}

/** Room LevelDB needs beyond its logs' size to recover them at open (a table as large, a new log, the manifest). */
const RECOVERY_MARGIN_BYTES = 1024 * 1024

/**
 * Whether the disk holding the database at `path` has room to recover its write-ahead logs at open: free bytes at
 * least their size plus RECOVERY_MARGIN_BYTES. True when that cannot be found out (the open then tells).
 */
async function roomToRecover (path: string): Promise<boolean> {
  try {
    const fs = await statfs(path)
    let logs = 0
    for (const name of await readdir(path)) if (name.endsWith('.log')) logs += (await stat(join(path, name))).size
    return fs.bavail * fs.bsize >= logs + RECOVERY_MARGIN_BYTES
  } catch {
    return true
  }
}

/**
 * What a failed write becomes: ERR_STORE_FULL when LevelDB (or the OS under it) says the disk is full, else
 * ERR_STORE_IO. Used by every write path; an error that already is a StoreError passes through.
 * `path`: the database, or the file beside it that failed (the message names it).
 */
export function toWriteError (err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err
  const e = err as { code?: unknown, message?: unknown, cause?: { code?: unknown, message?: unknown } } | undefined
  const text = [e?.message, e?.cause?.message].filter(m => typeof m === 'string').join(' ').trim() || String(err)
  if (e?.code === 'ENOSPC' || e?.cause?.code === 'ENOSPC' || /ENOSPC|No space left/i.test(text)) {
    return new StoreError(STORE_ERRORS.full,
      `the disk holding ${path} is full (${text}); the write was not stored. Free disk space, or lower the retention limits.`,
      { path })
  }
  return new StoreError(STORE_ERRORS.io, `cannot write to ${path}: ${text}`, { path })
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
