/**
 * Two libp2p nodes of the daemon's own stack (buildLibp2p: TCP on loopback, Noise, yamux, identify, ping,
 * kad-dht, gossipsub), not yet connected, for tests of the libraries' behaviour under Shoal's patches.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig } from '@shoal/core'
import { buildLibp2p, DenyList, swarmProtocols } from '../../src/index.js'
import type { ShoalLibp2p } from '../../src/libp2p.js'

export interface TcpPair {
  a: ShoalLibp2p
  b: ShoalLibp2p
  /** Stops both nodes and removes their data directory. */
  close: () => Promise<void>
}

export async function tcpPair (swarm: string): Promise<TcpPair> {
  const dir = await mkdtemp(join(tmpdir(), `shoal-${swarm}-`))
  const protocols = swarmProtocols(swarm)
  const node = async (): Promise<ShoalLibp2p> => await buildLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    config: resolveConfig({ defaultDataDir: dir, flags: { listen: ['/ip4/127.0.0.1/tcp/0'] } }),
    protocols,
    denyList: new DenyList(),
    topics: []
  })
  const a = await node()
  const b = await node()
  return {
    a,
    b,
    close: async () => {
      await a.stop()
      await b.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
