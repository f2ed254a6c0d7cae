/** The summary table: every section present, counts right, and the result line says whether anything broke. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderTable } from '../src/index.js'
import type { Op, RunSummary } from '../src/index.js'

const op = (id: number, kind: Op['kind'], outcome: Op['outcome']): Op => ({ id, client: 1, node: 1, kind, args: {}, invokeAt: 0, completeAt: 1, outcome })
const zero = { kill: 0, pause: 0, partition: 0, skew: 0, disk: 0, wipe: 0 }
const base: RunSummary = {
  seed: 9, nodes: 5, durationMs: 60_000, mode: { network: 'netns+iptables', clocks: true, tmpfs: true },
  injected: { ...zero, kill: 2, skew: 1, partition: 3 }, skipped: { ...zero, disk: 1 }, shapes: { 'majority-minority': 1, bridge: 0, isolate: 2 },
  dropped: 0, selected: ['kill', 'skew', 'disk', 'partition'],
  ops: [op(1, 'kv.put', 'ok'), op(2, 'kv.put', 'unknown'), op(3, 'kv.get', 'fail')], violations: [],
  convergence: { p50: 120, p99: 900, survivorsMs: 950, finalMs: 2000, converged: true }, killedForDurability: [2, 3], crashes: [], dir: '/tmp/x'
}

test('faults, operations, violations by invariant, convergence, result', () => {
  const t = renderTable(base)
  assert.match(t, /kill\s+2\s+0/)
  assert.match(t, /disk\s+0\s+1/)
  assert.not.match(t, /pause/)
  assert.match(t, /partition\s+3\s+0\s+\(majority-minority 1, bridge 0, isolate 2\)/)
  assert.match(t, /kv\.put\s+1\s+0\s+1/)
  assert.match(t, /kv\.get\s+0\s+1\s+0/)
  assert.match(t, /inv10-closed-topics\s+0/)
  assert.match(t, /p50 120 ms, p99 900 ms/)
  assert.match(t, /RESULT: no violations/)
  const bad = renderTable({ ...base, violations: [{ invariant: 'inv7-quorum', message: 'x', ops: [] }], convergence: { converged: false } })
  assert.match(bad, /inv7-quorum\s+1/)
  assert.match(bad, /DID NOT CONVERGE/)
  assert.match(bad, /RESULT: 1 violation/)
})

test.run()
