/**
 * `pnpm bench --smoke`: every benchmark runs end to end on a small swarm and prints its table, without
 * writing docs/benchmarks.md. Numbers are not checked here, only that the benchmarks still run.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
/** Eleven benchmark files on tiny inputs: about 100 s on a quiet 2-core machine, up to three times that under load (a hang guard, not a speed check). */
const SMOKE_DEADLINE_MS = 300_000

test('node scripts/run-bench.mjs --smoke exits 0 and prints every table', async () => {
  const child = spawn(process.execPath, ['scripts/run-bench.mjs', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, SMOKE_DEADLINE_MS)
  const code = await new Promise<number | null>(resolve => child.once('close', c => { resolve(c) }))
  clearTimeout(timer)
  assert.is(code, 0, `run-bench --smoke failed:\n${stderr.slice(-4000)}`)
  assert.match(stdout, '## Event delivery: latency and throughput (smoke)')
  assert.match(stdout, '| N | metric | Shoal | gossipsub baseline | Shoal / baseline |')
  assert.match(stdout, '| 3 | latency to all nodes, p50 |')
  assert.match(stdout, /\| 3 \| cold start: first 20 events to all nodes, p99 \| /)
  assert.match(stdout, /\| 3 \| CPU per event in the throughput run, all nodes \| [\d.]+ ms \| [\d.]+ ms \| /)
  assert.match(stdout, '## Event catch-up after downtime (smoke)')
  assert.match(stdout, '## Scale: idle cost and membership at N daemons on one box (smoke)')
  assert.match(stdout, '| N | idle CPU per process: Shoal daemon / bare libp2p + gossipsub (median) | Shoal / baseline | RSS per process: Shoal / baseline (median) |')
  assert.match(stdout, '| metric | Shoal repair | baseline (events.list read) | Shoal / baseline |')
  assert.match(stdout, '## KV catch-up after downtime and anti-entropy cost (smoke)')
  assert.match(stdout, '| metric | daemons (LocalSwarm) | in-process (memory transport) |')
  assert.match(stdout, '## KV local throughput: node API vs raw LevelDB (smoke)')
  assert.match(stdout, "| operation | Shoal node.kv | classic-level (fsync'd put) | Shoal / level | classic-level, no sync (scale) |")
  assert.match(stdout, '## KV write-to-visible-everywhere latency (smoke)')
  assert.match(stdout, '| 3 | visible on all nodes, p50 |')
  assert.match(stdout, '## KV through JSON-RPC: daemon vs bare node:http (smoke)')
  assert.match(stdout, '| method | Shoal daemon | bare node:http + classic-level | Shoal / baseline (medians) | Shoal / baseline, each round |')
  assert.match(stdout, /\| node\.ping \| [\d,]+ req\/s \| [\d,]+ req\/s \| /)
  assert.match(stdout, '| 1,000 keys behind (daemons) | measured | target |')
  assert.match(stdout, /\| anti-entropy bytes \/ record size \(target at most 1\.5x\) \| not measured \| \d+\.\d+x \|/)
  assert.match(stdout, '## Distributed jobs: subtask overhead and CPU-bound work (smoke)')
  assert.match(stdout, '| N | slots | members that ran subtasks | wall time | throughput | per subtask | slot-time per subtask | per subtask / local call | slot-time / local call |')
  assert.match(stdout, /\| 3 \| \d+ \| \d of 3 \| /)
  assert.match(stdout, '| N | subtasks | throughput | CPU per subtask | replicated writes (job) | writes per subtask | signatures per subtask | signature checks per subtask |')
  assert.match(stdout, '| run | wall time | local pool, same rounds | primes counted | vs local pool (per round) |')
  assert.match(stdout, /\| 3 daemons \(.*\| 348,513 \|/)
  assert.match(stdout, /\| 1 daemon \(.*\| [\d.]+ ms \| 348,513 \| \d+\.\d+x \|/)
  assert.match(stdout, "## KV put path: what issue 9's correctness fixes cost (smoke)")
  assert.match(stdout, '| writers | Shoal put | classic-level fsync\'d put | Shoal / level | batches per put | fsyncs per put | ops per put | gets per put |')
  assert.match(stdout, '## Wire-message checks: schema kit vs the hand-made checks it replaced (smoke)')
  assert.match(stdout, '| check | Shoal (schema kit) | baseline (old hand-made checks) | Shoal / baseline |')
  assert.match(stdout, /\| whole receive check: envelope \+ classifyEvent \| [\d,]+ ns \| [\d,]+ ns \| [\d.]+x \|/)
  assert.not.match(stdout, 'wrote docs/benchmarks.md')
})

test.run()
