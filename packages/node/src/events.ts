/** Every event the node emits, named 'noun:verb', declared in one place. */
import type { Member, MemberState } from '@shoal/core'
import type { Delivered } from '@shoal/store'

export interface ShoalEvents {
  'member:changed': { member: Member, previous: MemberState | undefined }
  'member:removed': { id: string }
  /**
   * A direct probe of a member was answered, after rttMs. `clock`: the member's wall clock in its ack (ms) and when
   * the ping left and the ack came back (monotonic ms), a clock sample (ClockSync); absent from a member that
   * sends none (an earlier release).
   */
  'member:probed': { id: string, rttMs: number, clock?: { sentMono: number, receivedMono: number, remoteWall: number } }
  'gossip:rejected': { topic: string, from: string, reason: string }
  /** An event became deliverable here (per origin in seq order), with its local sequence number. */
  'event:delivered': Delivered
  'event:rejected': { reason: string }
  /**
   * A KV record changed in this replica (from any path). `value` is the record's value as of this change (absent
   * for a tombstone), so a listener need not read the record back.
   */
  'kv:changed': { key: string, version: { wall: number, logical: number, node: string }, tombstone: boolean, value?: unknown }
  /** This node claimed a subtask: a first run, a retry after an error, or a takeover from a lost worker. */
  'subtask:leased': { jobId: string, index: number, attempt: number, kind: 'first' | 'retry' | 'takeover' }
  /** A subtask run here ended: its handler returned ('done') or threw ('error'), or the run was aborted. */
  'subtask:finished': { jobId: string, index: number, outcome: 'done' | 'error' | 'aborted', durationMs: number }
  /** This node wrote a job's final state. */
  'job:finished': { jobId: string, state: string }
  /** A finished job's records were deleted after tasks.retentionMs (on its finisher). */
  'job:collected': { jobId: string }
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
