/**
 * Version mixing with two real builds: this checkout's daemon (membership/1.0.0) and a second build of it,
 * bundled by scripts/bundle.mjs with its membership protocol and topic raised to version 2. The old node is
 * told to join through the new one. Each says why they cannot talk, once, and neither flaps: no membership
 * between them, one warning each however many discovery rounds and identifies pass.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { readDaemonInfo, readToken } from '@shoal/node'
import { createRpcClient } from '@shoal/rpc'
import type { ShoalMethods } from '@shoal/rpc'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** How long the test watches for flapping after the first warning: three discovery rounds (3 s each) and a DHT walk. */
const WATCH_MS = 10_000

let dir: string
let swarm: LocalSwarm
let v2: ChildProcess | undefined

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-versions-'))
  swarm = await LocalSwarm.create({ args: ['--log-level', 'info'] })
})

test.after(async () => {
  v2?.kill('SIGKILL')
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

/** The second build: the same code with membership/1.0.0 -> 2.0.0 and the membership topic /1 -> /2. */
async function buildV2 (outdir: string): Promise<void> {
  const { bundleShoal } = await import(pathToFileURL(join(ROOT, 'scripts/bundle.mjs')).href) as {
    bundleShoal: (o: { outdir: string, commit: string, plugins: unknown[] }) => Promise<unknown>
  }
  const bump = {
    name: 'membership-v2',
    setup (b: { onLoad: (o: { filter: RegExp }, f: (a: { path: string }) => Promise<{ contents: string, loader: string }>) => void }) {
      b.onLoad({ filter: /packages[/\\]node[/\\]dist[/\\]src[/\\]protocols\.js$/ }, async args => {
        const text = await readFile(args.path, 'utf8')
        const out = text.replace('/membership/1.0.0`', '/membership/2.0.0`').replace('/membership/1`', '/membership/2`')
        if (out === text || !out.includes('/membership/2.0.0`') || !out.includes('/membership/2`')) throw new Error('protocols.js changed shape; update the v2 plugin')
        return { contents: out, loader: 'js' }
      })
    }
  }
  await bundleShoal({ outdir, commit: 'v2-test', plugins: [bump] })
}

/** Warnings about other protocol versions in a daemon's JSON log. */
function versionWarnings (log: string): Array<{ peer: string, protocols: Array<{ protocol: string, ours: string, theirs: string[] }> }> {
  return log.split('\n').filter(l => l.includes('cannot talk')).map(l => JSON.parse(l) as { peer: string, protocols: Array<{ protocol: string, ours: string, theirs: string[] }> })
}

test('an old node meeting a newer one logs why once and does not flap', async () => {
  const build = join(dir, 'v2')
  await buildV2(build)
  const v2Data = join(dir, 'v2-data')
  let v2Log = ''
  v2 = spawn(process.execPath, [join(build, 'shoal.js'), 'daemon', '--data-dir', v2Data, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  v2.stdout?.on('data', d => { v2Log += String(d) })
  v2.stderr?.on('data', d => { v2Log += String(d) })
  const info = await waitUntil('the v2 daemon', async () => await readDaemonInfo(v2Data))
  const v2Client = createRpcClient<ShoalMethods>({ url: info.rpcUrl, token: await readToken(v2Data) })
  const v2Protocols = (await v2Client.call('node.info'))

  const old = await swarm.start(1, { bootstrap: [info.listen[0] ?? ''] })
  const oldLog = async (): Promise<string> => await readFile(join(old.dataDir, 'daemon.log'), 'utf8')
  await waitUntil('the old node warns', async () => versionWarnings(await oldLog()).length > 0)
  await waitUntil('the new node warns', () => versionWarnings(v2Log).length > 0)
  assert.equal(versionWarnings(await oldLog())[0]?.protocols, [{ protocol: 'membership', ours: '1.0.0', theirs: ['2.0.0'] }])
  assert.is(versionWarnings(await oldLog())[0]?.peer, v2Protocols.peerId)
  assert.equal(versionWarnings(v2Log)[0]?.protocols, [{ protocol: 'membership', ours: '2.0.0', theirs: ['1.0.0'] }])

  // Watch: every probe must hold; the first member change or second warning ends the watch and fails it.
  const until = Date.now() + WATCH_MS
  let violation: string | undefined
  await waitUntil('a quiet watch', async () => {
    const oldMembers = await old.client.call('swarm.members', {})
    const newMembers = await v2Client.call('swarm.members', {})
    if (oldMembers.length !== 1 || newMembers.length !== 1) violation = `they became members: ${oldMembers.length}, ${newMembers.length}`
    const warnings = [versionWarnings(await oldLog()).length, versionWarnings(v2Log).length]
    if (warnings.some(n => n !== 1)) violation = `warnings repeated: ${warnings.join(', ')}`
    return violation !== undefined || Date.now() > until
  }, { timeoutMs: WATCH_MS + 10_000, intervalMs: 250 })
  assert.is(violation, undefined)
  assert.ok(!(await oldLog()).includes('"level":50'), 'no errors on the old node')
})

test.run()
