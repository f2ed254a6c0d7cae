/** Every event the node emits, named 'noun:verb', declared in one place. */
import type { Member, MemberState } from '@shoal/core'
import type { Delivered } from '@shoal/store'

export interface ShoalEvents {
  'member:changed': { member: Member, previous: MemberState | undefined }
  'member:removed': { id: string }
  'gossip:rejected': { topic: string, from: string, reason: string }
  /** An event became deliverable here (per origin in seq order), with its local sequence number. */
  'event:delivered': Delivered
  'event:rejected': { reason: string }
  /** A KV record changed in this replica (from any path). */
  'kv:changed': { key: string, version: { wall: number, logical: number, node: string }, tombstone: boolean }
}

/** A typed event bus over EventTarget. */
export class EventBus {
  private readonly target = new EventTarget()

  emit<K extends keyof ShoalEvents> (name: K, detail: ShoalEvents[K]): void {
    this.target.dispatchEvent(new CustomEvent(name, { detail }))
  }

  on<K extends keyof ShoalEvents> (name: K, fn: (detail: ShoalEvents[K]) => void): () => void {
    const listener = (e: Event): void => { fn((e as CustomEvent<ShoalEvents[K]>).detail) }
    this.target.addEventListener(name, listener)
    return () => { this.target.removeEventListener(name, listener) }
  }
}
