/**
 * Version mixing with real builds of this checkout, bundled by scripts/bundle.mjs with one module rewritten:
 * - membership raised to 2.0.0 (protocol and topic): the old node is told to join through the new one. Each
 *   says why they cannot talk, once, and neither flaps: no membership between them, one warning each however
 *   many discovery rounds and identifies pass.
 * - the gossip wire of the release before decisions/0010 (signed gossipsub, topics /1): the rolling-upgrade
 *   case, N-1 beside N. They are members (membership/1.0.0 is shared), gossip nothing to each other (disjoint
 *   topics, so neither charges the other for messages of the other signature policy), each names the other's
 *   wire once, and events and KV records still cross by repair and anti-entropy over streams, both ways.
 * - the membership codec of the release before SWIM acks carried the responder's clock (decisions/0023): no `wall`
 *   in its ack schema, no `swim:ack-wall` capability. It is never sent a `wall` (its codec would refuse the ack and
 *   it would suspect the newer node), so the two stay members without a single suspicion.
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
/** Daemons of other builds started by spawnBuild, killed after the tests. */
const spawned: ChildProcess[] = []

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-versions-'))
  swarm = await LocalSwarm.create({ args: ['--log-level', 'info'] })
})

test.after(async () => {
  v2?.kill('SIGKILL')
  for (const child of spawned) child.kill('SIGKILL')
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

const PROTOCOLS_MODULE = /packages[/\\]node[/\\]dist[/\\]src[/\\]protocols\.js$/

/** A build of this code with one module (protocols.js unless `module` says) rewritten by `rewrite` (which throws when the module changed shape). */
async function buildWith (outdir: string, name: string, rewrite: (text: string) => string, module = PROTOCOLS_MODULE): Promise<void> {
  const { bundleShoal } = await import(pathToFileURL(join(ROOT, 'scripts/bundle.mjs')).href) as {
    bundleShoal: (o: { outdir: string, commit: string, plugins: unknown[] }) => Promise<unknown>
  }
  const plugin = {
    name,
    setup (b: { onLoad: (o: { filter: RegExp }, f: (a: { path: string }) => Promise<{ contents: string, loader: string }>) => void }) {
      b.onLoad({ filter: module }, async args => {
        return { contents: rewrite(await readFile(args.path, 'utf8')), loader: 'js' }
      })
    }
  }
  await bundleShoal({ outdir, commit: `${name}-test`, plugins: [plugin] })
}

/**
 * The second build: the same code with membership/1.0.0 -> 2.0.0. Its topics stay: their version is the gossip
 * wire's (protocols.ts GOSSIP_WIRE), which this build shares.
 */
async function buildV2 (outdir: string): Promise<void> {
  await buildWith(outdir, 'membership-v2', text => {
    const out = text.replace('/membership/1.0.0`', '/membership/2.0.0`')
    if (out === text) throw new Error('protocols.js changed shape; update the v2 plugin')
    return out
  })
}

/** The release before decisions/0010, as far as the wire goes: gossipsub StrictSign, topics ending in /1. */
async function buildSignedGossip (outdir: string): Promise<void> {
  await buildWith(outdir, 'gossip-wire-1', text => {
    const out = text.replace('GOSSIP_WIRE = { version: 2, signed: false }', 'GOSSIP_WIRE = { version: 1, signed: true }')
    if (out === text) throw new Error('protocols.js changed shape (GOSSIP_WIRE); update the gossip-wire-1 plugin')
    return out
  })
}

/**
 * The release before SWIM acks carried the responder's clock: its membership codec refuses an ack with `wall` (its
 * schemas refuse unknown fields) and it does not announce ACK_WALL_CAPABILITY.
 */
async function buildNoAckWall (outdir: string): Promise<void> {
  await buildWith(outdir, 'no-ack-wall', text => {
    const out = text
      .replace("ACK_WALL_CAPABILITY = 'swim:ack-wall'", "ACK_WALL_CAPABILITY = 'swim:not-this-release'")
      .replace(/\n\s*wall: Type\.Optional\(Type\.Number\(\{ minimum: 0, maximum: Number\.MAX_SAFE_INTEGER \}\)\)/, '')
    if (out.includes("'swim:ack-wall'") || out.includes('wall: Type.Optional')) throw new Error('membership/codec.js changed shape; update the no-ack-wall plugin')
    return out
  }, /packages[/\\]core[/\\]dist[/\\]src[/\\]membership[/\\]codec\.js$/)
}

/** Starts a daemon of another build; its output is collected in `log()`. */
async function spawnBuild (build: string, data: string): Promise<{ child: ChildProcess, log: () => string, client: ReturnType<typeof createRpcClient<ShoalMethods>>, peerId: string, listen: string }> {
  let log = ''
  const child = spawn(process.execPath, [join(build, 'shoal.js'), 'daemon', '--data-dir', data, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  spawned.push(child)
  child.stdout?.on('data', d => { log += String(d) })
  child.stderr?.on('data', d => { log += String(d) })
  const info = await waitUntil(`the daemon of ${build}`, async () => await readDaemonInfo(data))
  const client = createRpcClient<ShoalMethods>({ url: info.rpcUrl, token: await readToken(data) })
  return { child, log: () => log, client, peerId: (await client.call('node.info')).peerId, listen: info.listen[0] ?? '' }
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

type Daemon = Pick<Awaited<ReturnType<typeof spawnBuild>>, 'client' | 'peerId'>

/** Whether each of two daemons sees the other as an alive member. */
async function aliveToEachOther (a: Daemon, b: Daemon): Promise<boolean> {
  return (await a.client.call('swarm.members', {})).some(m => m.id === b.peerId && m.state === 'alive') &&
    (await b.client.call('swarm.members', {})).some(m => m.id === a.peerId && m.state === 'alive')
}

/** A daemon of another build (`make` builds it into `name`) and node `index` of this one bootstrapped through it, once they are members of each other. */
async function olderBesideNewer (name: string, make: (outdir: string) => Promise<void>, index: number): Promise<{ older: Awaited<ReturnType<typeof spawnBuild>>, newer: Awaited<ReturnType<LocalSwarm['start']>> }> {
  const build = join(dir, name)
  await make(build)
  const older = await spawnBuild(build, join(dir, `${name}-data`))
  const newer = await swarm.start(index, { bootstrap: [older.listen] })
  await waitUntil('members of each other', async () => await aliveToEachOther(older, newer))
  return { older, newer }
}

/** Warnings about a peer on another gossip wire in a daemon's JSON log. */
function wireWarnings (log: string): Array<{ peer: string, gossip: Array<{ topic: string, ours: string, theirs: string }> }> {
  return log.split('\n').filter(l => l.includes('gossips on wire')).map(l => JSON.parse(l) as { peer: string, gossip: Array<{ topic: string, ours: string, theirs: string }> })
}

test('rolling upgrade: a node of the signed gossip wire and this one gossip nothing to each other, yet events and KV records cross', async () => {
  const { older, newer } = await olderBesideNewer('gossip-wire-1', buildSignedGossip, 2)
  const newerLog = async (): Promise<string> => await readFile(join(newer.dataDir, 'daemon.log'), 'utf8')
  await waitUntil('the newer node names the older one\'s wire', async () => wireWarnings(await newerLog()).length > 0)
  await waitUntil('the older node names the newer one\'s wire', () => wireWarnings(older.log()).length > 0)
  const toNewer = wireWarnings(await newerLog())[0]!
  assert.is(toNewer.peer, older.peerId)
  assert.ok(toNewer.gossip.some(g => g.topic === '/shoal/default/events' && g.ours === '2' && g.theirs === '1'), JSON.stringify(toNewer))
  assert.ok(wireWarnings(older.log())[0]!.gossip.some(g => g.topic === '/shoal/default/events' && g.ours === '1' && g.theirs === '2'))

  // Each way: an event by repair (digest every 5 s), a KV record by anti-entropy (every 10 s).
  const fromOlder = await older.client.call('events.publish', { topic: 'mix', data: 'from N-1' })
  const fromNewer = await newer.client.call('events.publish', { topic: 'mix', data: 'from N' })
  await older.client.call('kv.put', { key: 'mix/older', value: 1 })
  await newer.client.call('kv.put', { key: 'mix/newer', value: 2 })
  await waitUntil('the older node\'s event on the newer node', async () => ((await newer.client.call('events.stats', {})).heads[older.peerId] ?? 0) >= fromOlder.seq, { timeoutMs: 30_000 })
  await waitUntil('the newer node\'s event on the older node', async () => ((await older.client.call('events.stats', {})).heads[newer.peerId] ?? 0) >= fromNewer.seq, { timeoutMs: 30_000 })
  await waitUntil('each KV record on the other node', async () => {
    const a = await newer.client.call('kv.get', { key: 'mix/older' }).catch(() => undefined)
    const b = await older.client.call('kv.get', { key: 'mix/newer' }).catch(() => undefined)
    return a?.value === 1 && b?.value === 2
  }, { timeoutMs: 45_000 })
  const [statsNewer, statsOlder] = [await newer.client.call('events.stats', {}), await older.client.call('events.stats', {})]
  // Every event of the other node was pulled by repair: none came by gossip first.
  const olderHead = statsNewer.heads[older.peerId] ?? 0
  const newerHead = statsOlder.heads[newer.peerId] ?? 0
  assert.ok(statsNewer.repaired >= olderHead, `the newer node repaired ${statsNewer.repaired} of the older node's ${olderHead} events`)
  assert.ok(statsOlder.repaired >= newerHead, `the older node repaired ${statsOlder.repaired} of the newer node's ${newerHead} events`)
  assert.equal(statsNewer.rejected, {}, 'the newer node rejected nothing')
  assert.equal(statsOlder.rejected, {}, 'the older node rejected nothing')
  assert.is(wireWarnings(await newerLog()).length, 1, 'named once')
  assert.is(wireWarnings(older.log()).length, 1, 'named once')
  assert.ok(!(await newerLog()).includes('"level":50'), 'no errors on the newer node')
  assert.ok(!older.log().includes('"level":50'), 'no errors on the older node')
})

test('a node of the release before acks carried clocks stays a member: no ack it gets carries one', async () => {
  const { older, newer } = await olderBesideNewer('no-ack-wall', buildNoAckWall, 3)
  // Watch: each probes the other about once a second; an ack the older node's codec refused would make it suspect
  // the newer one at the next probe.
  const until = Date.now() + WATCH_MS
  let violation: string | undefined
  await waitUntil('a quiet watch', async () => {
    if (!await aliveToEachOther(older, newer)) violation = 'one of them stopped seeing the other alive'
    return violation !== undefined || Date.now() > until
  }, { timeoutMs: WATCH_MS + 10_000, intervalMs: 200 })
  assert.is(violation, undefined)
  // A refused ack makes the older node suspect the newer one, which refutes within milliseconds: too short for the
  // poll above, so its log is read too.
  const suspicions = older.log().split('\n').filter(l => l.includes('"to":"suspect"'))
  assert.equal(suspicions, [], 'the older node never suspected the newer one')
  assert.ok(!older.log().includes('"level":50'), 'no errors on the older node')
})

test.run()
