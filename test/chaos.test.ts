/**
 * The bounded, seeded chaos run of issue 9 (docs/reliability.md): 5 real daemons, every fault kind the machine
 * can inject (root: namespaces + iptables, libfaketime, tmpfs; otherwise the fallbacks, printed and reported as
 * skipped tests), clients on every node, then every checker of docs/protocols/invariants.md. Fails on any
 * violation and prints each one with its history excerpt, and fails when a fault kind the machine can inject, or
 * a partition shape, never ran (the schedule opens with each of them once). The run directory (history.jsonl,
 * violations.jsonl, logs/) is test-output/chaos/<seed>/.
 * Seed from CHAOS_SEED (default 2026), length from CHAOS_DURATION_S (default 75).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { FAULT_KINDS, LIBFAKETIME, PARTITION_SHAPES, isRoot, runChaos, showViolation } from '@shoal/chaos'

const SEED = Number(process.env.CHAOS_SEED ?? 2026)
const DURATION_MS = Number(process.env.CHAOS_DURATION_S ?? 75) * 1000

// What this machine cannot do is reported as skipped, never as passed (as root the harness installs faketime).
if (!isRoot()) {
  test.skip('disk faults: a tmpfs with size= needs root')
  test.skip('partitions by network namespaces and iptables need root (the run falls back to debug.partition)')
  if (!existsSync(LIBFAKETIME)) test.skip(`clock skew faults: ${LIBFAKETIME} is missing (apt-get install faketime)`)
}

test(`chaos run (seed ${SEED}, 5 nodes, ${DURATION_MS / 1000} s): every fault kind runs and no invariant is violated`, async () => {
  const summary = await runChaos({
    nodes: 5,
    durationMs: DURATION_MS,
    seed: SEED,
    faults: [...FAULT_KINDS],
    outDir: 'test-output/chaos',
    // Its own namespaces, so a manual `scripts/dev chaos` (prefix 'chaos') can run at the same time.
    netnsPrefix: 'chaosci',
    thinkMs: 100,
    convergenceDeadlineMs: 30_000,
    log: line => { console.log(line) }
  })
  if (isRoot()) {
    // As root (CI) every fault must be real: a tool that could not be installed fails the run.
    assert.is(summary.mode.network, 'netns+iptables', 'partitions by namespaces and iptables')
    assert.ok(summary.mode.clocks, `clock skew by libfaketime (${LIBFAKETIME})`)
    assert.ok(summary.mode.tmpfs, 'full disks on tmpfs')
  }
  const unavailable = (k: string): boolean => (k === 'disk' && !summary.mode.tmpfs) || (k === 'skew' && !summary.mode.clocks)
  for (const k of FAULT_KINDS) {
    if (unavailable(k)) assert.is(summary.injected[k], 0, `${k} cannot run here, so none counts as injected`)
    else assert.ok(summary.injected[k] > 0, `the nemesis injected ${k} (${summary.dropped} scheduled fault(s) never started: the machine ran it late)`)
  }
  for (const shape of PARTITION_SHAPES) assert.ok(summary.shapes[shape] > 0, `a ${shape} partition ran`)
  assert.ok(summary.ops.filter(o => o.outcome === 'ok').length > 100, 'the clients got work done')
  if (summary.violations.length > 0) {
    assert.unreachable(`${summary.violations.length} violation(s) (reproduce: scripts/dev chaos --nodes 5 --duration ${DURATION_MS / 1000}s --seed ${SEED}):\n${summary.violations.slice(0, 20).map(showViolation).join('\n')}`)
  }
})

test.run()
