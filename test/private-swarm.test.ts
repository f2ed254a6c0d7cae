/**
 * A private swarm (pnet pre-shared key): members with the key form a swarm; a node with a different key or
 * with none cannot connect, says why in its log, and never appears in any membership view.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import { generateSwarmKey } from '@shoal/node'
import { waitUntil } from '@shoal/test-utils'

let swarm: LocalSwarm

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
})

test.after(async () => {
  await swarm.destroy()
})

test('nodes with the key form a swarm; a wrong key or no key never gets in', async () => {
  const key = join(swarm.root, 'swarm.key')
  const wrongKey = join(swarm.root, 'other.key')
  await writeFile(key, generateSwarmKey())
  await writeFile(wrongKey, generateSwarmKey())

  const first = await swarm.start(1, { args: ['--swarm-key', key] })
  const members = await Promise.all([2, 3].map(async i => await swarm.start(i, { args: ['--swarm-key', key], bootstrap: [first.addrs[0]!] })))
  const insiders = [first, ...members]
  await waitUntil('the 3 keyed nodes to see each other alive', async () => {
    const views = await Promise.all(insiders.map(async n => await n.client.call('swarm.members', { state: 'alive' })))
    return views.every(v => v.length === 3)
  })
  const info = await first.client.call('node.info', {})
  assert.ok(info.private, 'node.info reports a private swarm')

  const wrong = await swarm.start(4, { args: ['--swarm-key', wrongKey], bootstrap: [first.addrs[0]!] })
  const keyless = await swarm.start(5, { bootstrap: [first.addrs[0]!] })
  for (const outsider of [wrong, keyless]) {
    // The outsider's own log says why it could not join: when its seed dial gives up (pnet makes the handshake
    // hang, not fail), after 15 s (discovery.ts SEED_DIAL_TIMEOUT_MS).
    await waitUntil(`node ${outsider.index} to log the failed handshake`, async () =>
      (await readFile(join(outsider.dataDir, 'daemon.log'), 'utf8')).includes('probably in another swarm'), { timeoutMs: 40_000 })
  }
  for (const n of insiders) {
    const view = await n.client.call('swarm.members', {})
    const ids = view.map(m => m.id)
    assert.not.ok(ids.includes(wrong.peerId), `node ${n.index} must not know the wrong-key node`)
    assert.not.ok(ids.includes(keyless.peerId), `node ${n.index} must not know the keyless node`)
    const peers = await n.client.call('swarm.peers', {})
    assert.not.ok(peers.some(p => p.peerId === wrong.peerId || p.peerId === keyless.peerId), `node ${n.index} has no connection to an outsider`)
  }
  for (const outsider of [wrong, keyless]) {
    const view = await outsider.client.call('swarm.members', {})
    assert.equal(view.map(m => m.id), [outsider.peerId], 'an outsider sees only itself')
  }
})

test.run()
