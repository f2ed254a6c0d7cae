/**
 * The bounded, seeded chaos run of issue 9 (docs/reliability.md): 5 real daemons, every fault kind the machine
 * can inject (root: namespaces + iptables, libfaketime, tmpfs; otherwise the fallbacks, printed), clients on every
 * node, then every checker of docs/protocols/invariants.md. Fails on any violation and prints each one with its
 * history excerpt; the run directory (history.jsonl, violations.jsonl, logs/) is test-output/chaos/<seed>/.
 * Seed from CHAOS_SEED (default 2026), length from CHAOS_DURATION_S (default 60).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runChaos, showViolation } from '@shoal/chaos'

const SEED = Number(process.env.CHAOS_SEED ?? 2026)
const DURATION_MS = Number(process.env.CHAOS_DURATION_S ?? 60) * 1000

test(`chaos run (seed ${SEED}, 5 nodes, ${DURATION_MS / 1000} s): no invariant is violated`, async () => {
  const summary = await runChaos({
    nodes: 5,
    durationMs: DURATION_MS,
    seed: SEED,
    faults: ['kill', 'pause', 'partition', 'skew', 'disk', 'wipe'],
    outDir: 'test-output/chaos',
    // Its own namespaces, so a manual `scripts/dev chaos` (prefix 'chaos') can run at the same time.
    netnsPrefix: 'chaosci',
    thinkMs: 100,
    convergenceDeadlineMs: 30_000,
    log: line => { console.log(line) }
  })
  const injected = Object.values(summary.injected).reduce((a, b) => a + b, 0)
  assert.ok(injected > 0, 'the nemesis injected faults')
  assert.ok(summary.ops.filter(o => o.outcome === 'ok').length > 100, 'the clients got work done')
  if (summary.violations.length > 0) {
    assert.unreachable(`${summary.violations.length} violation(s) (reproduce: scripts/dev chaos --nodes 5 --duration ${DURATION_MS / 1000}s --seed ${SEED}):\n${summary.violations.slice(0, 20).map(showViolation).join('\n')}`)
  }
})

test.run()
