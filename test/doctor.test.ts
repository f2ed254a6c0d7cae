/**
 * `shoal doctor` against real daemons: a node set up with known traps (a WebRTC listen address in a private
 * swarm, libp2p's inbound limit of 5 on loopback, alone in its swarm) is told exactly those, each with a fix,
 * and exits 1; a well-configured 2-node swarm reports no failure and exits 0; no daemon means exit 3.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import { generateSwarmKey } from '@shoal/node'
import { waitUntil } from '@shoal/test-utils'

interface Check { id: string, status: 'ok' | 'warn' | 'fail', message: string, fix?: string }
interface Run { code: number, stdout: string, stderr: string }

/** Checks whose outcome depends on the machine running the test (free disk, CPU load), not on set-up. */
const ENVIRONMENTAL = ['disk', 'event-loop']

async function shoal (args: string[]): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, ...args], { env: { ...process.env, SHOAL_DATA_DIR: '' }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

async function doctor (dataDir: string): Promise<{ code: number, checks: Check[] }> {
  const run = await shoal(['doctor', '--json', '--data-dir', dataDir])
  assert.ok(run.stdout.length > 0, `doctor printed nothing (exit ${run.code}): ${run.stderr}`)
  return { code: run.code, checks: (JSON.parse(run.stdout) as { checks: Check[] }).checks }
}

let swarm: LocalSwarm

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
})

test.after(async () => {
  await swarm.destroy()
})

test('a misconfigured node is told exactly its traps, each with a fix, and doctor exits 1', async () => {
  const key = join(swarm.root, 'swarm.key')
  await writeFile(key, generateSwarmKey())
  await mkdir(swarm.dataDir(1), { recursive: true })
  await writeFile(join(swarm.dataDir(1), 'config.json'), JSON.stringify({ connections: { inboundPerSecondPerHost: 5 } }))
  const node = await swarm.start(1, { args: ['--swarm-key', key, '--listen', '/ip4/127.0.0.1/udp/0/webrtc-direct'] })

  const { code, checks } = await doctor(node.dataDir)
  assert.is(code, 1, 'a failed check exits 1')
  const flagged = checks.filter(c => c.status !== 'ok' && !ENVIRONMENTAL.includes(c.id))
  assert.equal(flagged.map(c => `${c.id}:${c.status}`).sort(), ['inbound-limit:warn', 'membership:warn', 'transports:fail'], JSON.stringify(checks, null, 2))
  for (const c of flagged) assert.ok(c.fix !== undefined && c.fix.length > 0, `${c.id} says how to fix it`)
  assert.match(checks.find(c => c.id === 'transports')!.message, /webrtc-direct/)
  assert.match(checks.find(c => c.id === 'membership')!.fix!, /--bootstrap/)
  for (const c of checks.filter(c => ENVIRONMENTAL.includes(c.id))) assert.is.not(c.status, 'fail', `${c.id}: ${c.message}`)

  const human = await shoal(['doctor', '--data-dir', node.dataDir])
  assert.is(human.code, 1)
  assert.match(human.stdout, /^FAIL +transports/m)
  assert.match(human.stdout, /^WARN +inbound-limit/m)
  assert.match(human.stdout, /fix: /)
  await swarm.kill(1, 'SIGTERM')
})

test('a well-configured 2-node swarm reports no failure and doctor exits 0', async () => {
  const a = await swarm.start(2)
  const b = await swarm.start(3, { bootstrap: [a.addrs[0]!] })
  await waitUntil('both nodes see each other alive', async () => {
    const views = await Promise.all([a, b].map(async n => await n.client.call('swarm.members', { state: 'alive' })))
    return views.every(v => v.length === 2)
  })
  // An event from b gives a its first clock-skew estimate.
  await waitUntil('a receives an event from b over gossip', async () => {
    await b.client.call('events.publish', { topic: 'doctor', data: 'tick' })
    return (await a.client.call('events.stats', {})).received > 0
  }, { timeoutMs: 15_000, intervalMs: 500 })

  for (const n of [a, b]) {
    const { code, checks } = await doctor(n.dataDir)
    assert.is(code, 0, JSON.stringify(checks, null, 2))
    assert.not.ok(checks.some(c => c.status === 'fail'), JSON.stringify(checks, null, 2))
    assert.is(checks.find(c => c.id === 'membership')?.status, 'ok')
    assert.is(checks.find(c => c.id === 'transports')?.status, 'ok')
    assert.is(checks.find(c => c.id === 'inbound-limit')?.status, 'ok')
  }
  const { checks } = await doctor(a.dataDir)
  assert.match(checks.find(c => c.id === 'clock')!.message, /from 1 peer/)
})

test('no daemon answering: exit 3', async () => {
  const run = await shoal(['doctor', '--data-dir', join(swarm.root, 'nobody')])
  assert.is(run.code, 3, run.stderr)
})

test.run()
