/** Ed25519 signatures on events: the origin signs, anyone verifies with the key inside the origin's peer id. */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signingBytes } from '@shoal/core'
import type { ShoalEvent } from '@shoal/core'

export type UnsignedEvent = Omit<ShoalEvent, 'sig'>

export async function signEvent (event: UnsignedEvent, key: PrivateKey): Promise<ShoalEvent> {
  const sig = await key.sign(signingBytes({ ...event, sig: '' }))
  return { ...event, sig: Buffer.from(sig).toString('base64url') }
}

/** False for a bad signature, an origin that is not an Ed25519 peer id, or an undecodable signature. */
export async function verifyEvent (event: ShoalEvent): Promise<boolean> {
  try {
    const key = peerIdFromString(event.origin).publicKey
    if (key === undefined) return false
    return await key.verify(signingBytes(event), Buffer.from(event.sig, 'base64url'))
  } catch {
    return false
  }
}
