/** Shared by the event-log suites: a fresh temp dir per test (removed after), and event builders. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EventLog } from '../src/event-log.js'
import type { Delivered, StoredEvent } from '../src/event-records.js'
import { openStore, StoreError } from '../src/store.js'
import type { Store } from '../src/store.js'

export interface Ctx { dir: string, open: Store[] }

export function withTempDir (s: ReturnType<typeof suite<Ctx>>): void {
  s.before.each(async ctx => {
    ctx.dir = await mkdtemp(join(tmpdir(), 'shoal-events-'))
    ctx.open = []
  })
  s.after.each(async ctx => {
    for (const store of ctx.open) await store.close().catch(() => {})
    await rm(ctx.dir, { recursive: true, force: true })
  })
}

export async function openLog (ctx: Ctx, name = 'db'): Promise<{ store: Store, log: EventLog }> {
  const store = await openStore(join(ctx.dir, name))
  ctx.open.push(store)
  return { store, log: await EventLog.open(store) }
}

export function ev (origin: string, seq: number, more: Partial<StoredEvent> = {}): StoredEvent {
  return {
    v: 1, type: 'user', topic: 'news', origin, seq, hlc: { wall: 1000 + seq, logical: 0 },
    data: JSON.stringify({ n: seq }), sig: `sig-${origin}-${seq}`, ...more
  }
}

export const ids = (ds: Delivered[]): string[] => ds.map(d => `${d.lsn}:${d.event.origin}${d.event.seq}`)
export const seqs = (es: StoredEvent[]): number[] => es.map(e => e.seq)

export async function expectCode (promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown
  try { await promise } catch (err) { caught = err }
  assert.ok(caught instanceof StoreError, `expected StoreError ${code}, got ${String(caught)}`)
  assert.is((caught as StoreError).code, code, (caught as StoreError).message)
}

