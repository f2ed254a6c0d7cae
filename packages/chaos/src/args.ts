/** `scripts/dev chaos` flags to RunOptions: a pure parser (tested), errors name the flag. */
import { parseArgs } from 'node:util'
import { FAULT_KINDS } from './types.js'
import type { FaultKind } from './types.js'
import type { RunOptions } from './runner.js'

export const CHAOS_HELP = `Usage: scripts/dev chaos [--nodes 7] [--duration 10m] [--seed N] [--faults kill,pause,partition,skew,disk,wipe] [--out DIR] [--no-netns] [--netns-prefix chaos]

Runs real daemons under a seeded nemesis while clients record a history, then checks the invariants of
docs/protocols/invariants.md. Exits 1 on any violation. Results go to DIR/<seed>/ (default test-output/chaos).`

export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
  constructor (message: string) { super(message); this.name = 'UsageError' }
}

/** '10m', '90s', '1500ms' or a number of seconds, to milliseconds. */
export function parseDuration (text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (m === null) throw new UsageError(`--duration: '${text}' is not a duration like 90s, 10m or 1h`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000))
}

export function parseChaosArgs (argv: string[], now: () => number = Date.now): (Omit<RunOptions, 'log'> & { help: boolean }) {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '7' },
      duration: { type: 'string', default: '10m' },
      seed: { type: 'string' },
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
      out: { type: 'string', default: 'test-output/chaos' },
      'no-netns': { type: 'boolean', default: false },
      'netns-prefix': { type: 'string', default: 'chaos' },
      help: { type: 'boolean', default: false }
    },
    strict: true
  })
  const nodes = Number(values.nodes)
  if (!Number.isInteger(nodes) || nodes < 3 || nodes > 20) throw new UsageError(`--nodes: an integer from 3 to 20, got '${values.nodes}'`)
  const seed = values.seed === undefined ? now() % 1_000_000 : Number(values.seed)
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed: a non-negative integer, got '${String(values.seed)}'`)
  const faults = values.faults.split(',').map(f => f.trim()).filter(f => f !== '')
  for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new UsageError(`--faults: unknown kind '${f}' (kinds: ${FAULT_KINDS.join(', ')})`)
  const prefix = values['netns-prefix']
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) throw new UsageError(`--netns-prefix: 1-8 lowercase letters or digits, starting with a letter, got '${prefix}'`)
  const durationMs = parseDuration(values.duration)
  if (durationMs < 10_000) throw new UsageError('--duration: at least 10s')
  return { nodes, durationMs, seed, faults: faults as FaultKind[], outDir: values.out, netns: values['no-netns'] ? 'off' : 'auto', netnsPrefix: prefix, help: values.help }
}
