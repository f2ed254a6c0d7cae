/**
 * The simulator in CI: a 1,000-node swarm on virtual time with bounded detection, no false positives without
 * faults, and full dissemination; a joining swarm cut by a partition that converges after the heal; and the
 * same seed giving the same run. Any failure replays from the seed printed in its message.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { constants } from '@shoal/core'
import { defaultConfig, runSimulation } from '../src/index.js'

const t = suite('sim')

t('same seed, same run; another seed, another run', () => {
  const cfg = { ...defaultConfig(60, 42), measureMs: 5000, events: 5, crashes: 2, partitionMs: 5000 }
  const a = runSimulation(cfg)
  const b = runSimulation({ ...cfg })
  assert.equal(a, b)
  const c = runSimulation({ ...cfg, seed: 43 })
  assert.is.not(c.steps, a.steps)
})

t('1,000 nodes: detection within a few probe periods, no false positives, every event everywhere', () => {
  const seed = Number(process.env.SHOAL_SIM_SEED ?? 1)
  const cfg = { ...defaultConfig(1000, seed), formed: true, measureMs: 10_000, events: 10, crashes: 4, crashWatchMs: 15_000, partitionMs: 0 }
  const started = performance.now()
  const r = runSimulation(cfg)
  const wall = performance.now() - started
  const at = `(seed ${seed}; replay: scripts/dev sim --nodes 1000 --formed --seed ${seed})`
  assert.is(r.falsePositives.dead, 0, `no live member declared dead ${at}`)
  assert.is(r.falsePositives.suspect, 0, `no live member suspected ${at}`)
  assert.is(r.dissemination.complete, r.dissemination.events, `every event reached every node ${at}`)
  assert.ok(r.dissemination.to100Ms.max < 1000, `dissemination to 100% within 1 s: ${r.dissemination.to100Ms.max} ms ${at}`)
  const { PROBE_INTERVAL_MS: probe, SUSPICION_TIMEOUT_MS: suspicion } = constants
  // kill -9: the connection reset probes at once; the bound is a refused probe plus the suspicion timeout.
  assert.is(r.detection.kill.undetected, 0, `every kill detected by every survivor ${at}`)
  assert.ok(r.detection.kill.allMs.max <= suspicion + 2 * probe, `kill seen dead by all within ${suspicion + 2 * probe} ms: ${r.detection.kill.allMs.max} ${at}`)
  // A hung node is found by its neighbours' round-robin probes: a few probe periods, whatever N (SWIM).
  assert.is(r.detection.hang.undetected, 0, `every hang detected ${at}`)
  assert.ok(r.detection.hang.allMs.max <= suspicion + 8 * probe, `hang seen dead by all within ${suspicion + 8 * probe} ms: ${r.detection.hang.allMs.max} ${at}`)
  // Bounded degree: connections and probe traffic do not grow with N.
  assert.ok(r.connections.max <= constants.OVERLAY_MAX_CONNECTIONS, `connections ${r.connections.max}`)
  assert.ok(r.connections.mean <= 2.5 * constants.OVERLAY_DEGREE, `mean connections ${r.connections.mean}`)
  assert.ok(r.load.messagesPerNodePerSec.swim <= 3, `SWIM messages per node per second: ${r.load.messagesPerNodePerSec.swim}`)
  assert.ok(r.restartMs !== null, `restarted nodes seen alive again ${at}`)
  process.stdout.write(`  1,000 nodes: ${Math.round(wall / 100) / 10} s wall, ${r.virtualSeconds} virtual s\n`)
})

t('200 nodes join through one bootstrap node, survive a partition and converge after the heal', () => {
  const cfg = { ...defaultConfig(200, 7), measureMs: 5000, events: 5, crashes: 2, partitionMs: 15_000 }
  const r = runSimulation(cfg)
  // The issue asks 50 daemons for one view within 10 s; 200 simulated nodes join in 6 s (44 s before the repeated announce).
  assert.ok(r.joinMs !== null && r.joinMs < 10_000, `join: ${r.joinMs} ms (seed 7)`)
  assert.is(r.falsePositives.dead, 0)
  assert.ok(r.partition !== null && r.partition.viewsMs !== null, 'views converge after the heal')
  assert.ok(r.partition!.eventsMs !== null, 'events published on both sides reach everyone after the heal')
  assert.ok(r.restartMs !== null)
})

t.run()
