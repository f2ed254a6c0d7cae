/**
 * Many machines, for real (issue 14): five daemons run from the unpacked release (bin/shoal with its own Node, a
 * PATH with no node on it), each in its own network namespace with its own address on a bridge (HostLab over
 * NetnsLab), each with the built-in listen address and so the same port 7700. They form a private swarm
 * (pre-shared key) from one bootstrap name given to all of them, replicate a KV write to every host, spread a
 * job over several hosts, and mark a host cut off by iptables dead, then alive again once the rules are gone.
 * Two more hosts on the same LAN, given no bootstrap address at all, find each other by mDNS (`--mdns`).
 *
 * Needs root (namespaces, veth, iptables; CI runs as root). Elsewhere it prints why and registers every check as
 * skipped, never as passed. Namespaces `mh<i>`, bridge `mhbr`, subnet 10.79.14.0/24: apart from the chaos runs'.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { countPrimesBelow, ensureDebianPackages, isRoot } from '@shoal/chaos'
import { waitUntil } from '@shoal/test-utils'
import { constants } from '@shoal/core'
import { HostLab, P2P_PORT, run } from './helpers/hosts.js'
import { unpackedRelease } from './helpers/release.js'

/** Each host's daemon log, kept after the run (the data dirs are not). */
const LOGS = fileURLToPath(new URL('../../test-output/multi-host/', import.meta.url))
const HOSTS = 5
/** Hosts 6 and 7: on the same bridge, started later with --mdns and no bootstrap address. */
const MDNS_HOSTS = [6, 7]
const PREFIX = 'mh'
const SUBNET = '10.79.14'
/** Joining, replication and healing take seconds on a quiet machine; the bound leaves room for a loaded one. */
const CONVERGE_MS = 45_000
/**
 * The connected side: the others confirm each other's suspicion of the cut host, so Lifeguard's dynamic suspicion
 * ends after its minimum or near it (docs/protocols/membership.md); 30 s leaves room for a loaded machine.
 */
const DEAD_MS = 30_000
const { LOCAL_HEALTH_MAX, PROBE_INTERVAL_MS, SUSPICION_MAX_TIMEOUT_MULT, SUSPICION_TIMEOUT_MS } = constants
/**
 * The cut side has no one to confirm its suspicions, and Lifeguard slows an unhealthy node on purpose: each failed
 * probe raises its local health, which stretches its probe interval up to (LOCAL_HEALTH_MAX + 1) x the base. To call
 * all the others dead it must probe each of them once at that pace and then wait out a full suspicion (6 x the
 * minimum): 4 x 9 s + 18 s = 54 s at the most, plus 10 s of room. At 30 s this wait failed once (a full run on
 * 2026-12-01; the runs before it had passed).
 */
const ISOLATED_DEAD_MS = (HOSTS - 1) * (LOCAL_HEALTH_MAX + 1) * PROBE_INTERVAL_MS + SUSPICION_MAX_TIMEOUT_MULT * SUSPICION_TIMEOUT_MS + 10_000

// Without root the suite is skipped, and says so. As root (CI) it must run: tools it cannot install fail it.
const why = isRoot() ? undefined : 'needs root (network namespaces, veth pairs, iptables)'
const hostTest = why === undefined ? test : test.skip
if (why !== undefined) console.log(`SKIP multi-host: ${why}; not run, not passed`)
else {
  console.log(`multi-host: daemon logs in ${LOGS}`)
  const missing = await ensureDebianPackages([{ command: 'ip', pkg: 'iproute2' }, { command: 'iptables', pkg: 'iptables' }], line => { console.log(line) })
  if (missing.length > 0) throw new Error(`multi-host: running as root but ${missing.join(', ')} could not be installed (apt-get install failed); the suite cannot run`)
}

let dir: string
let lab: HostLab | undefined
const hosts = (): HostLab => {
  if (lab === undefined) throw new Error('the lab did not start')
  return lab
}
const all = (): number[] => hosts().indexes.filter(i => i <= HOSTS)

/** What host i sees: member id -> state. */
async function view (i: number): Promise<Map<string, string>> {
  const members = await hosts().node(i).client.call('swarm.members', {}, { timeoutMs: 5000 })
  return new Map(members.map(m => [m.id, m.state]))
}

async function everyoneSeesAllAlive (): Promise<boolean> {
  const views = await Promise.all(all().map(async i => await view(i)))
  return views.every(v => all().every(j => v.get(hosts().node(j).peerId) === 'alive'))
}

const onSignal = (): void => { void lab?.destroy().then(() => process.exit(130)) }

test.before(async () => {
  if (why !== undefined) return
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  dir = await mkdtemp(join(tmpdir(), 'shoal-multihost-'))
  await rm(LOGS, { recursive: true, force: true })
  try {
    const release = await unpackedRelease(dir)
    lab = await HostLab.create({ release, hosts: HOSTS + MDNS_HOSTS.length, prefix: PREFIX, subnet: SUBNET, dir, args: ['--log-level', 'warn'], logDir: LOGS })
    await lab.setup()
  } catch (err) {
    // uvu skips `after` when `before` throws: clean up here, or the namespaces outlive the run.
    await cleanUp()
    throw err
  }
})

async function cleanUp (): Promise<void> {
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  await lab?.destroy()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}

test.after(cleanUp)

hostTest('5 hosts form a private swarm from one bootstrap name, each on the default port at its own address', async () => {
  const h = hosts()
  // The key as an operator makes it (the release's own `shoal swarm-key`), copied to every host by `shoal init`.
  const made = await run(h.init.release.shoal, ['swarm-key'], { PATH: h.init.release.barePath })
  assert.is(made.code, 0, made.stderr)
  const keyFile = join(dir, 'swarm.key')
  await writeFile(keyFile, made.stdout)
  for (const i of all()) await h.initHost(i, keyFile)

  // Every host gets the same settings, started at once, as a StatefulSet or a compose file starts them: one
  // bootstrap name (resolved by each host's own hosts file), no peer id. Host 1 finds itself under it and skips it.
  const bootstrap = `/dns4/${h.hostName(1)}/tcp/${P2P_PORT}`
  await Promise.all(all().map(async i => await h.start(i, [bootstrap])))
  await waitUntil('every host to see all 5 alive', everyoneSeesAllAlive, { timeoutMs: CONVERGE_MS, intervalMs: 250 })

  for (const i of all()) {
    const info = await h.node(i).client.call('node.info', {})
    assert.ok(info.private, `host ${i} runs a private swarm`)
  }
  // Each member is known by the address of its own host and the same default port: separate machines, not
  // ports on one loopback.
  const members = await h.node(1).client.call('swarm.members', {})
  for (const i of all()) {
    const m = members.find(x => x.id === h.node(i).peerId)
    assert.ok(m !== undefined, `host ${i} is a member`)
    assert.ok(m.addrs.some(a => a.startsWith(`/ip4/${h.addr(i)}/tcp/${P2P_PORT}`)), `host ${i} announces ${h.addr(i)}:${P2P_PORT}: ${m.addrs.join(' ')}`)
  }
  // The CLI on a host, as a user there runs it (inside its namespace, no node on PATH).
  const cli = await h.shoal(3, ['members', '--json', '--data-dir', h.dataDir(3)])
  assert.is(cli.code, 0, cli.stderr)
  const listed = JSON.parse(cli.stdout) as Array<{ id: string, state: string }>
  assert.is(listed.filter(m => m.state === 'alive').length, HOSTS, cli.stdout)
})

hostTest('a KV write on one host reaches every host', async () => {
  const h = hosts()
  const value = { from: 4, at: Date.now() }
  await h.node(4).client.call('kv.put', { key: 'multi-host/greeting', value })
  await waitUntil('every host to hold the write', async () => {
    const got = await Promise.all(all().map(async i => (await h.node(i).client.call('kv.get', { key: 'multi-host/greeting' })).value))
    return got.every(v => JSON.stringify(v) === JSON.stringify(value))
  }, { timeoutMs: CONVERGE_MS, intervalMs: 250 })
})

hostTest('a job spreads over the hosts and returns the exact answer', async () => {
  const h = hosts()
  // Enough work that the other hosts take chunks over from the submitter, which runs a job's first chunks itself
  // (decision 0018).
  const input = { from: 0, to: 100_000_000 }
  const split = 120
  const { jobId } = await h.node(2).client.call('task.submit', { handler: 'primes', input, split })
  const r = await h.node(2).client.call('task.result', { jobId, wait: true, timeoutMs: 90_000 }, { timeoutMs: 100_000 })
  assert.is(r.state, 'done', r.error)
  assert.is(r.result, countPrimesBelow(input.from, input.to))
  // The submitter may still be receiving the last done records from the other hosts.
  const status = await waitUntil(`host 2 to see all ${split} subtasks done`, async () => {
    const s = await h.node(2).client.call('task.status', { jobId })
    return s.counts.done === split ? s : undefined
  }, { timeoutMs: CONVERGE_MS })
  const ids = new Set(all().map(i => h.node(i).peerId))
  const workers = Object.entries(status.perMember).filter(([, m]) => m.done > 0)
  for (const [id] of workers) assert.ok(ids.has(id), `worker ${id} is one of the hosts`)
  console.log(`multi-host: ${split} subtasks done by ${workers.length} hosts: ${workers.map(([, m]) => m.done).join(', ')}`)
  assert.ok(workers.length >= 2, `computed on ${workers.length} host(s): ${JSON.stringify(status.perMember)}`)
})

hostTest('a host cut off by iptables is marked dead by the others, and alive again once the rules are gone', async () => {
  const h = hosts()
  const cut = HOSTS
  const cutId = h.node(cut).peerId
  const others = all().filter(i => i !== cut)
  await h.isolate(cut)
  await waitUntil(`hosts ${others.join(', ')} to mark host ${cut} dead`, async () => {
    const views = await Promise.all(others.map(async i => await view(i)))
    return views.every(v => v.get(cutId) === 'dead')
  }, { timeoutMs: DEAD_MS, intervalMs: 250 })
  // The cut host sees the same from its side (the test still reaches it over the bridge: only host-to-host
  // packets are dropped).
  await waitUntil(`host ${cut} to mark the others dead`, async () => {
    const v = await view(cut)
    return others.every(i => v.get(h.node(i).peerId) === 'dead')
  }, { timeoutMs: ISOLATED_DEAD_MS, intervalMs: 250 })
  // Written while the host is away: it must arrive once the host is back.
  await h.node(1).client.call('kv.put', { key: 'multi-host/while-cut', value: 'missed it' })

  await h.heal()
  await waitUntil('every host to see all 5 alive again', everyoneSeesAllAlive, { timeoutMs: CONVERGE_MS, intervalMs: 250 })
  await waitUntil(`host ${cut} to catch up on the write it missed`, async () =>
    (await h.node(cut).client.call('kv.get', { key: 'multi-host/while-cut' })).value === 'missed it', { timeoutMs: CONVERGE_MS, intervalMs: 250 })
})

hostTest('mDNS: two hosts given no bootstrap address find each other on the LAN', async () => {
  const h = hosts()
  for (const i of MDNS_HOSTS) await h.initHost(i, join(dir, 'swarm.key'))
  await Promise.all(MDNS_HOSTS.map(async i => await h.start(i, [], ['--mdns'])))
  const ids = MDNS_HOSTS.map(i => h.node(i).peerId)
  await waitUntil(`hosts ${MDNS_HOSTS.join(' and ')} to see each other alive`, async () => {
    const views = await Promise.all(MDNS_HOSTS.map(async i => await view(i)))
    return views.every(v => ids.every(id => v.get(id) === 'alive'))
  }, { timeoutMs: CONVERGE_MS, intervalMs: 250 })
})

test.run()
