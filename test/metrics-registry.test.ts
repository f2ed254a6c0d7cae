/**
 * Each in-process node has its own Prometheus registry: two nodes in one process do not collide, every family
 * appears once in a node's text, and Shoal's families are there from the start.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemorySwarm, waitUntil } from '@shoal/test-utils'

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

test.run()
