/**
 * Bytes on the wire, estimated from field sizes instead of encoding every message (a 1,000-member sync would
 * otherwise be stringified 60 times a simulated second). Calibrated against JSON.stringify of real messages with
 * 52-character peer ids and one TCP multiaddr (test/sizes.test.ts checks the estimates stay within 15%).
 */
import type { MemberUpdate } from '@shoal/core'

/** Per message: varint length, yamux frame header (12), Noise tag (16), stream open/close frames. */
export const TRANSPORT_OVERHEAD_BYTES = 60
/** `{"v":1,"type":"ping-req","seq":123456,"target":"…","updates":[]}` without the updates. */
export const SWIM_HEADER_BYTES = 50
/** A gossipsub message around an envelope: topic, from, seqno, signature, key. */
export const GOSSIP_HEADER_BYTES = 220
/** An event on the wire: envelope, ids, HLC, a small payload. */
export const EVENT_BYTES = 400
/** One origin in a heads digest: `"<peer id>":123,`. */
export const DIGEST_ENTRY_BYTES = 64
/** A new connection: TCP handshake, Noise XX (3 messages), multistream, identify both ways, gossipsub hello. */
export const CONNECT_BYTES = 4000
export const CONNECT_MESSAGES = 8

export function updateBytes (u: MemberUpdate): number {
  switch (u.kind) {
    case 'alive': {
      let n = 62 + u.id.length + u.version.length
      for (const a of u.addrs) n += a.length + 3
      for (const c of u.capabilities) n += c.length + 3
      return n
    }
    case 'suspect':
    case 'dead': return 50 + u.id.length + u.from.length
    case 'left': return 44 + u.id.length
  }
}

export function updatesBytes (list: readonly MemberUpdate[]): number {
  let n = 0
  for (const u of list) n += updateBytes(u) + 1
  return n
}
