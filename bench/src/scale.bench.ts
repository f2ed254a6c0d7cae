/**
 * Scale (issue 10): N daemons started together on one box, each given node 1's address. Measures the time from
 * the last daemon answering RPC to every node seeing all N alive, open member connections per node, idle CPU
 * (share of one core, from /proc utime+stime) and RSS per daemon over an idle window, false `dead` in that
 * window, and the time until every survivor sees a kill -9 as dead. Also what one daemon's RSS is made of.
 * Sizes: 10 and 50 (--smoke: 3, a short window).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { LocalSwarm, waitFor } from '@shoal/cli/local-swarm'
import { SMOKE, log, sleep, nodes } from './common.js'
import { GossipCluster } from './clusters.js'
import { Recorder } from './recorder.js'

const SIZES = SMOKE ? [3] : (process.env.SHOAL_BENCH_SCALE_SIZES ?? '10,50').split(',').map(Number)
const IDLE_MS = SMOKE ? 5000 : 60_000
/** How often the bench asks every daemon for its view while the swarm forms (the figure's resolution). */
const FORM_POLL_MS = 1000
/** How long a size may take to form before the bench records it as not formed and moves on (ms). */
const FORM_LIMIT_MS = Number(process.env.SHOAL_BENCH_SCALE_FORM_LIMIT_MS ?? 240_000)
const TICKS = 100 // USER_HZ on Linux
/**
 * Where the daemons run from: 'release' (default), the release's bundle (scripts/bundle.mjs: one ES module, as
 * operators run it), or 'workspace', this checkout's compiled packages. A daemon from the bundle answers RPC after
 * about 700 ms of CPU and idles at about 115 MB RSS; from the workspace's thousand-odd modules, 1,530 ms and
 * 148 MB (measured 2026-12-02), which alone decides whether 50 daemons on 2 cores can start together.
 */
const FROM = process.env.SHOAL_BENCH_SCALE_FROM === 'workspace' ? 'workspace' : 'release'
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The command that runs the CLI: this Node with the release bundle built into a temp dir, or the workspace's bin. */
async function daemonCommand (): Promise<{ command?: string[], cleanup: () => void }> {
  if (FROM === 'workspace') return { cleanup: () => {} }
  const outdir = mkdtempSync(join(tmpdir(), 'shoal-scale-bundle-'))
  const { bundleShoal } = await import(pathToFileURL(join(ROOT, 'scripts/bundle.mjs')).href) as {
    bundleShoal: (o: { outdir: string, commit: string }) => Promise<unknown>
  }
  await bundleShoal({ outdir, commit: 'bench' })
  return { command: [process.execPath, join(outdir, 'shoal.js')], cleanup: () => { rmSync(outdir, { recursive: true, force: true }) } }
}

/**
 * CPU ticks, RSS, and the two halves of RSS: anonymous memory (the process's own: heaps, LevelDB's caches) and file
 * pages (mostly the Node binary's code and data, shared by every process running it), with PSS, which divides each
 * shared page among the processes that map it (what N daemons on one box really take, per daemon).
 */
function procStat (pid: number): { cpuTicks: number, rssBytes: number, anonBytes: number, pssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuTicks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (text: string, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024
  let pss = 0
  try { pss = kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss') } catch {}
  return { cpuTicks, rssBytes: kb(status, 'VmRSS'), anonBytes: kb(status, 'RssAnon'), pssBytes: pss }
}

const median = (v: number[]): number => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }
const mb = (b: number): string => (b / 2 ** 20).toFixed(0)

/** RSS of a bare Node process and of one that has loaded the daemon's modules, for the breakdown. */
function rssOf (script: string): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `${script}; await new Promise(r => setTimeout(r, 500)); const m = /VmRSS:\\s+(\\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8')); console.log(m[1])`], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname })
  return Number(r.stdout.trim()) * 1024
}

/**
 * One size's figures. `formMs` is null when the swarm did not form within FORM_LIMIT_MS: then `views` says how far
 * it got (alive members each daemon saw, -1 for a daemon that did not answer within 5 s), the CPU and RSS are
 * those of the daemons still trying, and no kill is measured.
 */
interface Row extends Idle { n: number, formMs: number | null, views: number[], conns: number[], falseDead: number | null, killMs: number | null, base: Idle }
interface Idle { cpu: number[], rss: number[], anon: number[], pss: number[] }

/** CPU (share of one core) and RSS of each process over one idle window. */
async function idle (pids: number[]): Promise<Idle> {
  const before = pids.map(procStat)
  const t0 = Date.now()
  await sleep(IDLE_MS)
  const seconds = (Date.now() - t0) / 1000
  const after = pids.map(procStat)
  return { cpu: after.map((a, i) => (a.cpuTicks - before[i]!.cpuTicks) / TICKS / seconds), rss: after.map(a => a.rssBytes), anon: after.map(a => a.anonBytes), pss: after.map(a => a.pssBytes) }
}

/**
 * The baseline at the same N: plain libp2p peers (the daemon's own stack from buildLibp2p: TCP, Noise, yamux,
 * identify, ping, kad-dht, gossipsub subscribed to one topic), full mesh, nothing published, one process each.
 */
async function baseline (n: number): Promise<Idle> {
  const cluster = await GossipCluster.start(n, 256, () => new Recorder(n))
  try {
    await sleep(SMOKE ? 1000 : 15_000)
    return await idle(cluster.pids())
  } finally {
    await cluster.close()
  }
}

async function measure (n: number, command: string[] | undefined): Promise<Row> {
  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'], ...(command !== undefined ? { command } : {}) })
  try {
    const first = await swarm.start(1, { timeoutMs: 120_000 })
    await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await swarm.start(i + 2, { bootstrap: [first.addrs[0]!], timeoutMs: 180_000 })))
    const answered = Date.now()
    // Asked once a second, not waitFor's 20 times: 20 member lists a second from each of N daemons is itself a
    // load that kept 30 daemons on 2 cores from forming. A daemon too busy to answer in 5 s counts as -1.
    const aliveSeen = async (): Promise<number[]> => await Promise.all(nodes(swarm).map(async node =>
      await node.client.call('swarm.members', { state: 'alive' }, { timeoutMs: 5000 }).then(m => m.length, () => -1)))
    let formMs: number | null = null
    let counts: number[]
    for (;;) {
      counts = await aliveSeen()
      if (counts.every(c => c === n)) { formMs = Date.now() - answered; break }
      if (Date.now() - answered >= FORM_LIMIT_MS) break
      await sleep(FORM_POLL_MS)
    }
    const all = nodes(swarm)
    if (formMs === null) {
      log(`${n} daemons: not formed ${FORM_LIMIT_MS} ms after the last answered RPC (alive seen: median ${median(counts)}, smallest ${Math.min(...counts)})`)
      const use = await idle(all.map(x => x.child.pid!))
      const conns = await Promise.all(all.map(async x => await x.client.call('swarm.peers', {}, { timeoutMs: 5000 }).then(p => p.filter(q => q.member).length, () => -1)))
      await swarm.destroy()
      log(`${n} bare libp2p + gossipsub peers (baseline)`)
      return { n, formMs, views: counts, conns, ...use, falseDead: null, killMs: null, base: await baseline(n) }
    }
    log(`${n} daemons: one view ${formMs} ms after the last answered RPC`)
    await sleep(SMOKE ? 1000 : 15_000) // let discovery settle the overlay
    const use = await idle(all.map(x => x.child.pid!))
    const conns = await Promise.all(all.map(async x => (await x.client.call('swarm.peers', {})).filter(p => p.member).length))
    const views = await Promise.all(all.map(async x => await x.client.call('swarm.members', {})))
    const falseDead = views.flat().filter(m => m.state === 'dead').length
    const victim = all[all.length - 1]!
    const killedAt = Date.now()
    await swarm.kill(victim.index)
    let killMs: number | null = null
    try {
      await waitFor(async () => {
        const seen = await Promise.all(all.slice(0, -1).map(async x => (await x.client.call('swarm.members', {})).find(m => m.id === victim.peerId)?.state))
        return seen.every(s => s === 'dead') ? true : undefined
      }, 30_000, 'the kill to be seen')
      killMs = Date.now() - killedAt
    } catch { /* reported as not seen */ }
    await swarm.destroy()
    log(`${n} bare libp2p + gossipsub peers (baseline)`)
    return { n, formMs, views: counts, conns, ...use, falseDead, killMs, base: await baseline(n) }
  } finally {
    await swarm.destroy()
  }
}

const rows: Row[] = []
const daemon = await daemonCommand()
try {
  for (const n of SIZES) rows.push(await measure(n, daemon.command))
} finally {
  daemon.cleanup()
}
const bare = rssOf('')
const modules = rssOf("await import('@shoal/node'); await import('@shoal/rpc')")

process.stdout.write(`## Scale: idle cost and membership at N daemons on one box${SMOKE ? ' (smoke)' : ''}

Each daemon is given node 1's address; all start together; the bench asks every daemon for its view once a
second until all agree; a size not formed within ${FORM_LIMIT_MS / 1000} s is recorded as such, with how far its views got and what its
daemons cost while still trying (no kill then). The daemons run from ${FROM === 'release' ? 'the release bundle (scripts/bundle.mjs, built by the bench: one ES module, what operators run)' : 'this checkout\'s packages (SHOAL_BENCH_SCALE_FROM=workspace)'}. Idle window ${IDLE_MS / 1000} s. CPU is the share of one
core from /proc (utime + stime); connections count members only (docs/scale.md explains the bounded degree).

| N | one view after last RPC answer | member connections per node (median / max) | idle CPU per daemon (median / max) | RSS per daemon (median / max) | false dead while idle | kill -9 seen dead by all |
|---|---|---|---|---|---|---|
${rows.map(r => `| ${r.n} | ${r.formMs === null ? `not formed in ${FORM_LIMIT_MS / 1000} s (alive seen: median ${median(r.views)} of ${r.n}, smallest ${Math.min(...r.views)})` : `${(r.formMs / 1000).toFixed(1)} s`} | ${median(r.conns)} / ${Math.max(...r.conns)} | ${r.formMs === null ? 'still forming: ' : ''}${(median(r.cpu) * 100).toFixed(2)}% / ${(Math.max(...r.cpu) * 100).toFixed(2)}% | ${mb(median(r.rss))} / ${mb(Math.max(...r.rss))} MB | ${r.falseDead ?? '-'} | ${r.formMs === null ? '-' : r.killMs === null ? 'not within 30 s' : `${(r.killMs / 1000).toFixed(1)} s`} |`).join('\n')}

Baseline in the same run: N plain libp2p peers (the daemon's own libp2p stack: TCP, Noise, yamux, identify, ping,
kad-dht, gossipsub on one topic; full mesh, nothing published), one process each, the same idle window.

| N | idle CPU per process: Shoal daemon / bare libp2p + gossipsub (median) | Shoal / baseline | RSS per process: Shoal / baseline (median) |
|---|---|---|---|
${rows.map(r => `| ${r.n} | ${r.formMs === null ? '(still forming) ' : ''}${(median(r.cpu) * 100).toFixed(2)}% / ${(median(r.base.cpu) * 100).toFixed(2)}% | ${(median(r.cpu) / Math.max(1e-9, median(r.base.cpu))).toFixed(2)}x | ${mb(median(r.rss))} / ${mb(median(r.base.rss))} MB |`).join('\n')}

What a daemon's RSS is made of (median): ${rows.map(r => `at N = ${r.n}, ${mb(median(r.anon))} MB anonymous (its own heaps and caches) and ${mb(median(r.rss) - median(r.anon))} MB of file pages (the Node binary's code and data, shared by every process running it); PSS, which divides shared pages among the processes mapping them, ${mb(median(r.pss))} MB (baseline: ${mb(median(r.base.anon))} MB anonymous, PSS ${mb(median(r.base.pss))} MB)`).join('; ')}.

RSS of a bare Node process: ${mb(bare)} MB; with the daemon's modules loaded from the workspace (libp2p stack, level, prom-client, OpenTelemetry), nothing started: ${mb(modules)} MB.
`)
