/**
 * Bootstrap by name, with real daemons: /dns4/<name>/tcp/<port> with and without /p2p/<id> through the system
 * resolver (the hosts file's `localhost`), and /dnsaddr/<name> and /dns4/<name> through the test's own DNS server
 * (`dnsServers`), which is the only place those names exist. A name nobody serves leaves the node alone.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'
import { startDnsServer } from './helpers/dns-server.js'
import type { TestDnsServer } from './helpers/dns-server.js'

let swarm: LocalSwarm
let dns: TestDnsServer
let seed: LocalNode
let seedPort: string

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  seed = await swarm.start(1)
  seedPort = /\/tcp\/(\d+)\//.exec(seed.addrs[0] ?? '')?.[1] ?? ''
  dns = await startDnsServer({
    'seed.shoal.test': { A: ['127.0.0.1'] },
    '_dnsaddr.swarm.shoal.test': { TXT: [`dnsaddr=/dns4/seed.shoal.test/tcp/${seedPort}/p2p/${seed.peerId}`] }
  })
})

test.after(async () => {
  await swarm.destroy()
  await dns.close()
})

/** Waits until `node` has joined through the seed, then stops it (fewer daemons at once on a busy machine). */
async function joins (node: LocalNode): Promise<void> {
  await waitUntil(`node ${node.index} sees the seed alive`, async () =>
    (await node.client.call('swarm.members', {})).some(m => m.id === seed.peerId && m.state === 'alive'), { timeoutMs: 15_000 })
  await swarm.kill(node.index, 'SIGTERM')
}

test('/dns4 through the system resolver, without and with /p2p/<id>', async () => {
  await joins(await swarm.start(2, { bootstrap: [`/dns4/localhost/tcp/${seedPort}`] }))
  await joins(await swarm.start(3, { bootstrap: [`/dns4/localhost/tcp/${seedPort}/p2p/${seed.peerId}`] }))
})

test("/dnsaddr and /dns4 names that only the test's DNS server knows", async () => {
  const env = { SHOAL_DNS_SERVERS: dns.address }
  await joins(await swarm.start(4, { env, bootstrap: [`/dnsaddr/swarm.shoal.test/p2p/${seed.peerId}`] }))
  assert.ok(dns.queries.some(q => q.name === '_dnsaddr.swarm.shoal.test' && q.type === 'TXT'), 'the TXT record was asked for')
  assert.ok(dns.queries.some(q => q.name === 'seed.shoal.test' && q.type === 'A'), 'the /dns4 name inside it was resolved by the same server')
  await joins(await swarm.start(5, { env, bootstrap: [`/dns4/seed.shoal.test/tcp/${seedPort}`] }))
})

test('a name nobody serves: the node runs, alone and not ready', async () => {
  const lost = await swarm.start(6, { env: { SHOAL_DNS_SERVERS: dns.address }, bootstrap: ['/dnsaddr/nowhere.shoal.test'] })
  await waitUntil('the unknown name was asked for', () => dns.queries.some(q => q.name === '_dnsaddr.nowhere.shoal.test'))
  const members = await lost.client.call('swarm.members', {})
  assert.equal(members.map(m => m.id), [lost.peerId])
  assert.is((await fetch(lost.rpcUrl.replace(/\/rpc$/, '/readyz'))).status, 503)
})

test('a bad dnsServers entry stops the daemon with a config error naming the field', async () => {
  let failed: Error | undefined
  try { await swarm.start(7, { env: { SHOAL_DNS_SERVERS: 'dns.example' }, timeoutMs: 10_000 }) } catch (err) { failed = err as Error }
  assert.ok(failed !== undefined, 'did not start')
})

test.run()
