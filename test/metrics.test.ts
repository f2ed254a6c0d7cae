/**
 * GET /metrics on three real daemons after some traffic (events, KV writes, a small job): token-protected,
 * the families documented in docs/operations.md are there, values moved, and `promtool check metrics` accepts
 * the whole output. promtool comes from Debian's `prometheus` package, installed here when missing and allowed.
 */
import { spawnSync } from 'node:child_process'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { LocalSwarm, LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { waitUntil } from '@shoal/test-utils'
import { startSwarm } from './helpers/swarm.js'
import { samples, scrapeMetrics } from './helpers/metrics.js'

const FAMILIES = [
  'shoal_members', 'shoal_member_transitions_total', 'shoal_membership_local_health', 'shoal_probe_rtt_seconds',
  'shoal_events_published_total', 'shoal_events_delivered_total', 'shoal_events_duplicates_total',
  'shoal_events_repaired_total', 'shoal_events_rejected_total',
  'shoal_kv_operations_total', 'shoal_kv_keys', 'shoal_kv_tombstones', 'shoal_kv_bytes', 'shoal_kv_replication_lag_seconds',
  'shoal_kv_anti_entropy_rounds_total', 'shoal_kv_anti_entropy_bytes_total', 'shoal_kv_peers_in_sync', 'shoal_kv_peers',
  'shoal_task_subtasks_leased_total', 'shoal_task_subtasks_completed_total', 'shoal_task_subtasks_retried_total',
  'shoal_task_subtasks_reassigned_total', 'shoal_task_subtasks_running', 'shoal_task_subtask_duration_seconds',
  'shoal_task_jobs_finished_total', 'shoal_rpc_requests_total', 'shoal_rpc_request_duration_seconds',
  'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds'
]

let swarm: LocalSwarm
let all: () => LocalNode[]
let promtool: string | undefined

/** promtool on PATH, or installed from Debian's `prometheus` package when we run as root. */
function findPromtool (): string | undefined {
  const which = (): string | undefined => {
    const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : undefined
  }
  const found = which()
  if (found !== undefined) return found
  if (process.getuid?.() !== 0) {
    console.log('metrics.test: promtool check skipped: promtool is not on PATH and we are not root to install it')
    return undefined
  }
  const started = Date.now()
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq prometheus'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', timeout: 5 * 60_000
  })
  const installed = which()
  if (installed === undefined) {
    const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() ?? `apt-get exited with ${String(r.status)}`)
    console.log(`metrics.test: promtool check skipped: installing Debian's prometheus package failed (${why})`)
  } else {
    console.log(`metrics.test: installed promtool in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  return installed
}

async function scrape (n: LocalNode, token?: string): Promise<Response> {
  return await fetch(new URL('/metrics', n.rpcUrl), { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
}

/** The value of one sample line, e.g. sample(text, 'shoal_members{state="alive"}'). */
function sample (text: string, series: string, missing?: number): number {
  const value = samples(text).get(series)
  if (value === undefined && missing !== undefined) return missing
  assert.ok(value !== undefined, `has a sample ${series}`)
  return value
}

test.before(async () => {
  promtool = findPromtool()
  ;({ swarm, all } = await startSwarm(3))
})

test.after(async () => {
  await swarm?.destroy()
})

test('after events, KV writes and a job, /metrics is token-protected, complete, moving and valid', async () => {
  const [n1, n2, n3] = all() as [LocalNode, LocalNode, LocalNode]
  for (let i = 0; i < 5; i++) await n1.client.call('events.publish', { topic: 'metrics', data: `hello ${i}` })
  for (let i = 0; i < 5; i++) await n2.client.call('kv.put', { key: `m/${i}`, value: i, acks: 'all' })
  await n3.client.call('kv.get', { key: 'm/0' })
  await n3.client.call('kv.get', { key: 'm/none' }).catch(() => {})
  const { jobId } = await n1.client.call('task.submit', { handler: 'hash', inputs: [['a'], ['b'], ['c']] })
  const r = await n1.client.call('task.result', { jobId, wait: true, timeoutMs: 60_000 }, { timeoutMs: 70_000 })
  assert.is(r.state, 'done')

  // Every member is probed about once per protocol period; wait until each node has timed one.
  await waitUntil('a timed probe on every node', async () => {
    for (const n of all()) if (!((samples(await scrapeMetrics(n)).get('shoal_probe_rtt_seconds_count') ?? 0) > 0)) return false
    return true
  }, { timeoutMs: 15_000, intervalMs: 250 })
  const texts: string[] = []
  for (const n of all()) {
    const denied = await scrape(n)
    assert.is(denied.status, 401, `node ${n.index} refuses a scrape without the token`)
    const res = await scrape(n, await readToken(n.dataDir))
    assert.is(res.status, 200)
    assert.is(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    texts.push(text)
    for (const f of FAMILIES) assert.match(text, new RegExp(`^# TYPE ${f} `, 'm'), `node ${n.index} has ${f}`)
    assert.is(sample(text, 'shoal_members{state="alive"}'), 3, `node ${n.index} sees 3 alive`)
    assert.ok(sample(text, 'shoal_events_delivered_total') >= 5, 'events were delivered everywhere')
    assert.ok(sample(text, 'shoal_probe_rtt_seconds_count') > 0, 'probes were timed')
    assert.is(sample(text, 'shoal_kv_peers'), 2)
  }
  const [t1, t2, t3] = texts as [string, string, string]
  assert.ok(sample(t1, 'shoal_events_published_total') >= 5, 'the publisher counted its events')
  assert.ok(sample(t2, 'shoal_kv_operations_total{op="put",outcome="ok"}') >= 5, 'the writer counted its puts')
  assert.is(sample(t3, 'shoal_kv_operations_total{op="get",outcome="not_found"}'), 1)
  assert.ok(sample(t1, 'shoal_rpc_requests_total{method="events.publish",code="0"}') >= 5)
  // A labelled series appears once it has a value: only on the node that wrote the final state.
  const finished = texts.reduce((sum, t) => sum + sample(t, 'shoal_task_jobs_finished_total{state="done"}', 0), 0)
  assert.is(finished, 1, 'one node finished the job')
  const leased = texts.reduce((sum, t) => sum + sample(t, 'shoal_task_subtasks_leased_total'), 0)
  assert.ok(leased >= 3, `3 subtasks were leased (${leased})`)

  if (promtool === undefined) return
  for (const [i, text] of texts.entries()) {
    // Shoal's own families must pass every lint.
    const own = spawnSync(promtool, ['check', 'metrics'], { input: ownFamilies(text), encoding: 'utf8' })
    assert.is(own.status, 0, `promtool accepts node ${i + 1}'s shoal_ families:\n${own.stdout}${own.stderr}`)
    // And the whole exposition, third-party families included (their `_total` gauges are renamed).
    const whole = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.is(whole.status, 0, `promtool accepts node ${i + 1}'s whole /metrics:\n${whole.stdout}${whole.stderr}`)
  }
})

/** Only the shoal_ families of an exposition text (HELP, TYPE and sample lines). */
function ownFamilies (text: string): string {
  return text.split('\n').filter(l => /^(# (HELP|TYPE) )?shoal_/.test(l)).join('\n') + '\n'
}

test.run()
