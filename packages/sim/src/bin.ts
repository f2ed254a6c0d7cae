#!/usr/bin/env node
/**
 * shoal-sim: runs the simulation and prints its report.
 *
 *   scripts/dev sim [--nodes 1000] [--seed 1] [--degree 8] [--loss 0] [--loss-mode tcp|drop]
 *                   [--latency-ms 0.5] [--jitter-ms 1.5] [--measure-s 30] [--events 20] [--crashes N]
 *                   [--partition-s 20] [--formed] [--json FILE]
 *
 * `--formed` starts from a formed swarm instead of N nodes joining through one bootstrap node.
 * `--degree 0` connects every node to every live member (the overlay before bounded degree).
 * The same arguments and seed always print the same report.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { defaultConfig, runSimulation } from './scenario.js'
import type { SimReport } from './scenario.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    degree: { type: 'string' },
    loss: { type: 'string' },
    'loss-mode': { type: 'string' },
    'latency-ms': { type: 'string' },
    'jitter-ms': { type: 'string' },
    'measure-s': { type: 'string' },
    events: { type: 'string' },
    crashes: { type: 'string' },
    'partition-s': { type: 'string' },
    json: { type: 'string' },
    formed: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false }
  }
})

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined
  const x = Number(v)
  if (!Number.isFinite(x) || x < 0) { process.stderr.write(`--${name}: expected a number >= 0, got ${v}\n`); process.exit(2) }
  return x
}

const cfg = defaultConfig(num(values.nodes, 'nodes')!, num(values.seed, 'seed')!)
const degree = num(values.degree, 'degree')
if (degree !== undefined) cfg.overlay.degree = degree
if (degree === 0) cfg.overlay.maxConnections = cfg.nodes
cfg.network.loss = num(values.loss, 'loss') ?? cfg.network.loss
if (values['loss-mode'] === 'drop' || values['loss-mode'] === 'tcp') cfg.network.lossMode = values['loss-mode']
cfg.network.latency.baseMs = num(values['latency-ms'], 'latency-ms') ?? cfg.network.latency.baseMs
cfg.network.latency.jitterMs = num(values['jitter-ms'], 'jitter-ms') ?? cfg.network.latency.jitterMs
cfg.measureMs = (num(values['measure-s'], 'measure-s') ?? cfg.measureMs / 1000) * 1000
cfg.events = num(values.events, 'events') ?? cfg.events
cfg.crashes = num(values.crashes, 'crashes') ?? cfg.crashes
cfg.partitionMs = (num(values['partition-s'], 'partition-s') ?? cfg.partitionMs / 1000) * 1000

cfg.formed = values.formed === true
const started = performance.now()
const report = runSimulation(cfg, msg => { if (!values.quiet) process.stderr.write(`[sim n=${cfg.nodes} seed=${cfg.seed}] ${msg}\n`) })
const wallSeconds = Math.round((performance.now() - started) / 100) / 10
const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ ...report, formed: cfg.formed, wallSeconds, maxRssMb }, null, 2) + '\n')
process.stdout.write(format(report) + `\nwall time ${wallSeconds} s, max RSS ${maxRssMb} MB\n`)

function format (r: SimReport): string {
  const p = (x: { p50: number, p99: number }): string => `p50 ${x.p50} ms, p99 ${x.p99} ms`
  return [
    `nodes ${r.nodes}, seed ${r.seed}, degree ${r.degree === 0 ? 'unbounded' : r.degree}, ${r.virtualSeconds} virtual s, ${r.steps} steps`,
    `join: every node sees every node alive after ${r.joinMs === null ? 'never (or started formed)' : `${r.joinMs} ms`}`,
    `connections per node: mean ${r.connections.mean}, max ${r.connections.max}`,
    `load per node: ${r.load.messagesPerNodePerSec.total} msg/s, ${r.load.bytesPerNodePerSec.total} B/s  ${JSON.stringify(r.load.messagesPerNodePerSec)}`,
    `false positives (up members marked): suspect ${r.falsePositives.suspect}, dead ${r.falsePositives.dead}`,
    `dissemination of ${r.dissemination.events} events (${r.dissemination.complete} reached all): to 99% ${p(r.dissemination.to99Ms)}; to 100% ${p(r.dissemination.to100Ms)}`,
    `detection kill -9 (${r.detection.kill.crashes}): first ${p(r.detection.kill.firstMs)}; all ${p(r.detection.kill.allMs)}; undetected ${r.detection.kill.undetected}`,
    `detection hang    (${r.detection.hang.crashes}): first ${p(r.detection.hang.firstMs)}; all ${p(r.detection.hang.allMs)}; undetected ${r.detection.hang.undetected}`,
    r.partition === null ? 'partition: skipped' : `partition ${r.partition.durationMs} ms healed: views agree after ${r.partition.viewsMs} ms, every event everywhere after ${r.partition.eventsMs} ms`,
    `restart of crashed nodes: every node sees them alive after ${r.restartMs} ms`
  ].join('\n')
}
