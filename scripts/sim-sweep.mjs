#!/usr/bin/env node
// Runs the simulator over a range of swarm sizes and writes one JSON per run to docs/scale/runs/, for
// scripts/plot-scale.mjs and the table in docs/scale.md. Sequential, so the box's other work is not starved.
// Usage: node scripts/sim-sweep.mjs [--sizes 50,100,200,500,1000,2000] [--seed 1]
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const root = new URL('..', import.meta.url).pathname
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '50,100,200,500,1000,2000' }, seed: { type: 'string', default: '1' }, joins: { type: 'string', default: '50,100,200,500' }, full: { type: 'string', default: '50,100,200' } } })
const out = join(root, 'docs', 'scale', 'runs')
mkdirSync(out, { recursive: true })
const bin = join(root, 'packages', 'sim', 'dist', 'src', 'bin.js')
const runs = [
  ...values.sizes.split(',').map(n => ({ name: `formed-d8-${n}`, args: ['--nodes', n, '--formed'] })),
  ...values.joins.split(',').map(n => ({ name: `join-d8-${n}`, args: ['--nodes', n] })),
  ...values.full.split(',').map(n => ({ name: `formed-full-${n}`, args: ['--nodes', n, '--formed', '--degree', '0'] }))
]
for (const run of runs) {
  const args = ['--max-old-space-size=16384', bin, ...run.args, '--crashes', '10', '--seed', values.seed, '--quiet', '--json', join(out, `${run.name}.json`)]
  process.stderr.write(`[sweep] ${run.name}\n`)
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) process.stderr.write(`[sweep] ${run.name} failed with ${r.status}\n`)
}
