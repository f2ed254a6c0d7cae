/** The IPC messages between the bench and its baseline gossip peers (gossip-peer.ts). */
export type ToPeer =
  | { cmd: 'dial', addrs: string[] }
  | { cmd: 'subscribers' }
  | { cmd: 'publish', id: number, size: number }
  | { cmd: 'burst', firstId: number, count: number, concurrency: number, size: number }
  | { cmd: 'stop' }

export type FromPeer =
  | { type: 'ready', peerId: string, addrs: string[] }
  | { type: 'dialed' }
  | { type: 'subscribers', count: number }
  | { type: 'recv', id: number }
  | { type: 'error', message: string }
