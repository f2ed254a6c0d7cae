/**
 * Each in-process node has its own Prometheus registry: two nodes in one process do not collide, every family
 * appears once in a node's text, and Shoal's families are there from the start.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'
import { instrumentRpc } from '@shoal/node'

let swarm: MemorySwarm

test.before(async () => {
  swarm = await MemorySwarm.create({ seed: 7 })
})

test.after(async () => {
  await swarm.destroy()
})

/** Family names from the `# TYPE name kind` lines. */
function families (text: string): string[] {
  return text.split('\n').filter(l => l.startsWith('# TYPE ')).map(l => l.split(' ')[2]!)
}

test('a fresh node exposes each family once, in its own registry', async () => {
  const a = await swarm.add()
  const b = await swarm.add()
  await waitUntil('both alive in both views', () => swarm.counts('alive').every(c => c === 2))
  const [textA, textB] = await Promise.all([a.metrics.metrics(), b.metrics.metrics()])
  for (const text of [textA, textB]) {
    const names = families(text)
    const dupes = names.filter((n, i) => names.indexOf(n) !== i)
    assert.equal(dupes, [], 'no family is declared twice')
    for (const f of ['shoal_members', 'shoal_kv_operations_total', 'shoal_task_subtasks_running', 'nodejs_eventloop_lag_seconds', 'process_cpu_seconds_total']) {
      assert.ok(names.includes(f), `has ${f}`)
    }
  }
  assert.is.not(a.metrics, b.metrics, 'one registry per node')
  await a.events.publish('t', JSON.stringify('hello'))
  const after = await a.metrics.metrics()
  assert.match(after, /^shoal_events_published_total 1$/m)
  assert.match(await b.metrics.metrics(), /^shoal_events_published_total 0$/m, "b's counter is its own")
})


test('every metric the Grafana dashboard in docs/ queries exists', async () => {
  const { readFile } = await import('node:fs/promises')
  const dashboard = JSON.parse(await readFile(new URL('../../docs/grafana/shoal-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> }
  const node = await swarm.add()
  // The daemon registers the RPC families when it wires its server; do the same here.
  instrumentRpc(node.metrics)({ method: 'node.info', code: 0, durationMs: 1 })
  const names = new Set(families(await node.metrics.metrics()))
  const queried = new Set(dashboard.panels.flatMap(p => p.targets.flatMap(t => [...t.expr.matchAll(/\b((?:shoal|nodejs)_[a-z_]+)/g)].map(m => m[1]!.replace(/_bucket$/, '')))))
  assert.ok(queried.size >= 15, `the dashboard queries ${queried.size} metrics`)
  for (const name of queried) assert.ok(names.has(name), `${name} exists`)
})

test.run()
