/**
 * Receiver-side group commit for gossiped events (docs/protocols/events.md, "Receiving"). The first event that
 * arrives while nothing is being applied is applied at once, alone; whatever arrives while that append runs
 * waits here and goes into the next append as one group, so a burst of N events costs a handful of LevelDB
 * batches instead of N, and no event waits for a timer.
 */
import type { ShoalEvent } from '@shoal/core'

/** Events appended per group at most: bounds one batch's size and the latency a group adds to the next. */
export const MAX_RECEIVED_GROUP = 256

export interface Received { event: ShoalEvent, via: string }

export interface GossipInboxInit {
  /** Appends one group (checked events) in one batch; may throw (a full disk): the group is then lost here for now. */
  apply: (group: Received[]) => Promise<void>
  /** After a group was appended (or failed): what it says about gaps, per forwarding peer. */
  applied: (group: Received[]) => void
  failed: (err: unknown, group: Received[]) => void
}

export class GossipInbox {
  private readonly waiting: Received[] = []
  private draining: Promise<void> | undefined

  constructor (private readonly init: GossipInboxInit) {}

  /** Queues one checked event gossiped to us by `via`; starts a group when none is running. */
  push (event: ShoalEvent, via: string): void {
    this.waiting.push({ event, via })
    if (this.draining === undefined) this.start()
  }

  /** Resolves once everything pushed so far has been applied (or has failed). */
  async idle (): Promise<void> {
    while (this.draining !== undefined) await this.draining
  }

  private start (): void {
    // An event pushed between the drain's last look and this callback starts the next drain here.
    this.draining = this.drain().finally(() => {
      this.draining = undefined
      if (this.waiting.length > 0) this.start()
    })
  }

  private async drain (): Promise<void> {
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, MAX_RECEIVED_GROUP)
      try {
        await this.init.apply(group)
      } catch (err) {
        this.init.failed(err, group)
      }
      this.init.applied(group)
    }
  }
}
