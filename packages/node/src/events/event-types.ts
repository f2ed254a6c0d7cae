/** The event service's public shapes and errors, and the size limits the gossip layer shares with it. */
import { ShoalError } from '@shoal/core'
import type { ShoalEvent, EventsConfig } from '@shoal/core'
import { EVENT_ENVELOPE_OVERHEAD_BYTES } from '../libp2p.js'

export class CompactedError extends ShoalError {
  static readonly code = 'ERR_COMPACTED'
  constructor (compactedLsn: number) {
    super(CompactedError.code, `the cursor is older than the log's retention: events up to ${compactedLsn} were compacted; resume from ${compactedLsn} or later`, { compactedLsn })
  }
}

/**
 * JSON escaping of `data` inside an encoded event can double ordinary text; an event whose encoding is larger
 * than this is refused at publish, so what a node stores it can always gossip and serve.
 */
export function encodedEventLimit (payloadLimit: number): number {
  return 2 * payloadLimit + EVENT_ENVELOPE_OVERHEAD_BYTES
}

/** The largest payload limit of any topic: what the gossip layer must let through. */
export function maxPayloadLimit (config: EventsConfig, topicLimits: Record<string, number> = {}): number {
  return Math.max(config.maxPayloadBytes, ...Object.values(topicLimits))
}

export interface PublishResult {
  origin: string
  seq: number
  hlc: { wall: number, logical: number }
  lsn: number
  /** The signed event as stored and gossiped. */
  event: ShoalEvent
}

export interface EventStats {
  origin: string
  lastLsn: number
  stored: number
  origins: number
  heads: Record<string, number>
  published: number
  received: number
  duplicates: number
  repaired: number
  gapsSkipped: number
  rejected: Record<string, number>
}
