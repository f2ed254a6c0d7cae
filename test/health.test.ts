/**
 * GET /healthz and GET /readyz on a real daemon's RPC port: no token needed, the status word and nothing
 * else, /readyz 503 until a node started with a bootstrap address has met the swarm, then 200; never 200 again
 * once SIGTERM is handled.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

let swarm: LocalSwarm

test.before(async () => { swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] }) })
test.after(async () => { await swarm.destroy() })

const base = (rpcUrl: string): string => rpcUrl.replace(/\/rpc$/, '')

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string, type: string | null }> {
  const res = await fetch(url, { headers })
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') }
}

test('healthz and readyz answer without a token, with the status word only; readyz waits for the swarm', async () => {
  const seed = await swarm.start(1)
  // Node 2 is told to bootstrap from an address where nothing answers: up, but not joined.
  const seedAddr = seed.addrs[0]
  if (seedAddr === undefined) throw new Error('seed has no listen address')
  const nowhere = seedAddr.replace(/\/tcp\/\d+\//, '/tcp/9/')
  const joiner = await swarm.start(2, { bootstrap: [nowhere] })

  assert.equal(await get(`${base(seed.rpcUrl)}/healthz`), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' })
  assert.equal(await get(`${base(seed.rpcUrl)}/readyz`), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' }, 'a seed with no bootstrap is ready alone')

  assert.equal(await get(`${base(joiner.rpcUrl)}/healthz`), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' })
  const waiting = await get(`${base(joiner.rpcUrl)}/readyz`, { authorization: 'Bearer wrong' })
  assert.equal(waiting, { status: 503, body: 'not ready\n', type: 'text/plain; charset=utf-8' }, 'not joined: 503, a wrong token changes nothing')

  // Token-protected things stay protected.
  assert.is((await get(`${base(joiner.rpcUrl)}/metrics`)).status, 401)

  await joiner.client.call('swarm.connect', { addr: seedAddr })
  await waitUntil('node 2 ready', async () => (await get(`${base(joiner.rpcUrl)}/readyz`)).status === 200)
  assert.equal(await get(`${base(joiner.rpcUrl)}/readyz`), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' })
  assert.is((await fetch(`${base(joiner.rpcUrl)}/readyz`, { method: 'POST' })).status, 405)
})

test('a stopping daemon is never ready again: from SIGTERM on, readyz answers 503 or the port is closed', async () => {
  const node = swarm.nodes.get(2)!
  const url = `${base(node.rpcUrl)}/readyz`
  assert.is((await get(url)).status, 200)
  const seen: Array<number | 'closed'> = []
  node.child.kill('SIGTERM')
  await waitUntil('the RPC port closes', async () => {
    const status = await get(url).then(r => r.status, () => 'closed' as const)
    seen.push(status)
    return status === 'closed'
  }, { timeoutMs: 15_000, intervalMs: 5 })
  // A poll may still be answered before the signal is handled; from the first answer that is not 200 (503, or
  // the port already closed: the daemon closes RPC first, then leaves the swarm), never ready again.
  const first = seen.findIndex(s => s !== 200)
  assert.ok(seen.slice(first).every(s => s === 503 || s === 'closed'), `ready again while stopping: ${seen.join(' ')}`)
})

test.run()
