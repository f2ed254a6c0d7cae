/**
 * The nemesis schedule, a pure function of (seed, options): the same seed gives the same faults at the same
 * offsets on the same nodes. Faults run one after another with a gap between them (one fault at a time keeps a
 * violation attributable to the fault that caused it; overlapping faults are left for later).
 *
 * It opens with a coverage round: every selected kind once, and a partition in each of its three shapes, in a
 * seeded order; then kinds are drawn at random. So a short run (CI's) still meets every fault it selected.
 */
import { seededRng, shuffled } from '@shoal/core'
import type { Rng } from '@shoal/core'
import { PARTITION_SHAPES } from './types.js'
import type { Fault, FaultKind, PartitionShape } from './types.js'

export interface ScheduleOptions {
  seed: number
  nodes: number
  durationMs: number
  faults: readonly FaultKind[]
  /** The daemons' membership suspicion timeout: pauses last up to twice this. */
  suspicionMs: number
  /** The node the jobs client submits to: kills hit it a third of the time. */
  jobNode: number
  /** Quiet time at the start (the workload warms up) and at the end (before the final heal). */
  warmupMs?: number
  tailMs?: number
}

const between = (rng: Rng, lo: number, hi: number): number => Math.round(lo + rng() * (hi - lo))
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!

interface Draw { kind: FaultKind, shape?: PartitionShape }

/** Every selected kind once, partitions once per shape, in a seeded order. */
function coverageRound (faults: readonly FaultKind[], rng: Rng): Draw[] {
  const draws = [...new Set(faults)].flatMap((kind): Draw[] => kind === 'partition' ? PARTITION_SHAPES.map(shape => ({ kind, shape })) : [{ kind }])
  return shuffled(draws, rng)
}

export function generateSchedule (o: ScheduleOptions): Fault[] {
  const rng = seededRng(o.seed ^ 0x5eed)
  const nodes = Array.from({ length: o.nodes }, (_, i) => i + 1)
  const out: Fault[] = []
  if (o.faults.length === 0) return out
  const first = coverageRound(o.faults, rng)
  let at = o.warmupMs ?? 3000
  const end = o.durationMs - (o.tailMs ?? 3000)
  while (at < end) {
    const draw = first.shift() ?? { kind: pick(rng, o.faults) }
    const f = makeFault(draw, at, nodes, o, rng)
    if (at + f.durationMs > end) break
    out.push(f)
    at += f.durationMs + between(rng, 1000, 3000)
  }
  return out
}

function makeFault ({ kind, shape: given }: Draw, at: number, nodes: number[], o: ScheduleOptions, rng: Rng): Fault {
  const one = (): number => (kind === 'kill' && rng() < 1 / 3) ? o.jobNode : pick(rng, nodes)
  switch (kind) {
    case 'kill': return { kind, at, durationMs: between(rng, 500, 4000), nodes: [one()] }
    case 'wipe': return { kind, at, durationMs: between(rng, 500, 2000), nodes: [one()] }
    case 'pause': return { kind, at, durationMs: between(rng, 500, 2 * o.suspicionMs), nodes: [one()] }
    case 'disk': return { kind, at, durationMs: between(rng, 2000, 8000), nodes: [one()] }
    case 'skew': {
      const sign = rng() < 0.5 ? -1 : 1
      const offsetMs = sign * between(rng, 2, 20) * 1000
      const jumpMs = rng() < 0.5 ? (rng() < 0.5 ? -1 : 1) * between(rng, 5, 30) * 1000 : undefined
      return { kind, at, durationMs: between(rng, 4000, 12_000), nodes: [one()], offsetMs, ...(jumpMs !== undefined ? { jumpMs } : {}) }
    }
    case 'partition': {
      const shape = given ?? pick(rng, PARTITION_SHAPES)
      const order = shuffled(nodes, rng)
      let groups: number[][]
      if (shape === 'isolate') groups = [[order[0]!], order.slice(1)]
      else if (shape === 'bridge') {
        const b = order[0]!
        const rest = order.slice(1)
        const half = Math.ceil(rest.length / 2)
        groups = [[b, ...rest.slice(0, half)], [b, ...rest.slice(half)]]
      } else {
        const minority = between(rng, 1, Math.max(1, Math.floor((nodes.length - 1) / 2)))
        groups = [order.slice(0, minority), order.slice(minority)]
      }
      return { kind, at, durationMs: between(rng, 3000, 10_000), nodes: [...new Set(groups.flat())].sort((a, b) => a - b), groups, shape }
    }
  }
}

/** One line per fault, for the log and the run directory. */
export function showFault (f: Fault): string {
  const base = `${(f.at / 1000).toFixed(1)}s ${f.kind} ${f.durationMs}ms`
  if (f.kind === 'partition') return `${base} ${f.shape ?? ''} ${(f.groups ?? []).map(g => `[${g.join(',')}]`).join(' | ')}`
  if (f.kind === 'skew') return `${base} node ${f.nodes.join(',')} offset ${f.offsetMs ?? 0}ms${f.jumpMs !== undefined ? ` then jump ${f.jumpMs}ms` : ''}`
  return `${base} node ${f.nodes.join(',')}`
}

/**
 * Fixed per-node clock offsets for the whole run (whole seconds, within ±maxMs): the "fixed offsets" half of
 * the skew fault, present from each daemon's start (and its restarts). Seeded like the schedule.
 */
export function baseClockOffsets (seed: number, nodes: number, maxMs: number): Record<number, number> {
  const rng = seededRng(seed ^ 0xc10c)
  const max = Math.floor(maxMs / 1000)
  const out: Record<number, number> = {}
  for (let i = 1; i <= nodes; i++) out[i] = (Math.floor(rng() * (2 * max + 1)) - max) * 1000
  return out
}
