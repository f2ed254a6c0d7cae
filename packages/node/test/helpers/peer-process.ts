/**
 * A libp2p node of the daemon's stack in a process of its own, for tests that kill it: run this file, read its
 * listen address from the first line of stdout, then signal it. It stops on stdin's end.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { resolveConfig } from '@shoal/core'
import { buildLibp2p, DenyList, swarmProtocols } from '../../src/index.js'

const swarm = process.argv[2] ?? 'peer-process'
const dir = await mkdtemp(join(tmpdir(), `shoal-${swarm}-`))
const node = await buildLibp2p({
  privateKey: await generateKeyPair('Ed25519'),
  config: resolveConfig({ defaultDataDir: dir, flags: { listen: ['/ip4/127.0.0.1/tcp/0'] } }),
  protocols: swarmProtocols(swarm),
  denyList: new DenyList(),
  topics: []
})
process.stdout.write(`${node.getMultiaddrs()[0]!.toString()}\n`)
process.stdin.resume()
process.stdin.on('end', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
