/**
 * The latest delivered events, in memory, in LSN order (a RecentWindow): subscribers that keep up
 * (`events.subscribe`, `follow`) are served from here instead of the event log.
 */
import type { Delivered } from '@shoal/store'
import { RecentWindow } from '../recent-window.js'

/** Deliveries kept at most. */
export const RECENT_DELIVERIES_MAX = 4096
/** Bytes of event data kept at most (approximate: the JSON length of `data`), so big payloads cannot grow it. */
export const RECENT_DELIVERIES_MAX_BYTES = 8 * 1024 * 1024

export function recentDeliveries (): RecentWindow<Delivered> {
  return new RecentWindow<Delivered>({ position: d => d.lsn, size: d => eventBytes(d.event.data), maxItems: RECENT_DELIVERIES_MAX, maxBytes: RECENT_DELIVERIES_MAX_BYTES })
}

/** What an event held in memory costs, approximately: its data's JSON length and a fixed part. */
export function eventBytes (data: unknown): number {
  return 256 + (typeof data === 'string' ? data.length : 1024)
}
