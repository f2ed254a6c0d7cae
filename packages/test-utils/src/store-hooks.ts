/**
 * A node's store with hooks around every batch, for tests that count writes or inject a failing disk
 * (pass it as MemorySwarm's `wrapStore`). Everything else goes straight to the real store.
 */
import type { ShoalNodeInit } from '@shoal/node'

export type NodeStore = Parameters<NonNullable<ShoalNodeInit['wrapStore']>>[0]
type BatchArgs = Parameters<NodeStore['batch']>

export interface BatchHooks {
  /**
   * Runs (and is awaited) before the batch; throwing here fails the batch with nothing written (an injected fault),
   * a promise holds the batch back (a slow disk).
   */
  before?: (...args: BatchArgs) => void | Promise<void>
  /** Runs once the batch is written. */
  after?: (...args: BatchArgs) => void
}

export function hookBatches (store: NodeStore, hooks: BatchHooks): NodeStore {
  return {
    get path () { return store.path },
    get created () { return store.created },
    bucket: name => store.bucket(name),
    snapshot: () => store.snapshot(),
    close: async () => { await store.close() },
    batch: async (ops, opts) => {
      await hooks.before?.(ops, opts)
      await store.batch(ops, opts)
      hooks.after?.(ops, opts)
    }
  }
}
