/**
 * The run's summary table: faults injected by kind, operations by outcome, violations by invariant (expected 0),
 * and time to converge after the last heal (p50/p99 over keys). Plain text, one block per section, the format
 * docs/reliability.md shows.
 */
import { FAULT_KINDS, INVARIANTS } from './types.js'
import type { FaultKind, InvariantId, Op, PartitionShape, Violation } from './types.js'

export interface RunSummary {
  seed: number
  nodes: number
  durationMs: number
  mode: { network: 'netns+iptables' | 'debug.partition', clocks: boolean, tmpfs: boolean }
  injected: Record<FaultKind, number>
  skipped: Record<FaultKind, number>
  /** Partitions injected, by shape. */
  shapes: Record<PartitionShape, number>
  /** Scheduled faults that never started (the run ended first). */
  dropped: number
  selected: FaultKind[]
  ops: Op[]
  violations: Violation[]
  convergence: { survivorsMs?: number, finalMs?: number, p50?: number, p99?: number, converged: boolean }
  killedForDurability: number[]
  /** Daemons that exited without being killed. */
  crashes: Array<{ node: number, at: number, exit: number | string }>
  dir: string
}

export function renderTable (s: RunSummary): string {
  const lines: string[] = []
  lines.push(`chaos run: seed ${s.seed}, ${s.nodes} nodes, ${Math.round(s.durationMs / 1000)} s, network ${s.mode.network}, clock skew ${s.mode.clocks ? 'libfaketime' : 'off'}, disk ${s.mode.tmpfs ? 'tmpfs' : 'off'}`)
  lines.push('', 'faults           injected  skipped')
  for (const k of FAULT_KINDS) {
    if (!s.selected.includes(k)) continue
    const shapes = k === 'partition' ? `   (${Object.entries(s.shapes).map(([shape, n]) => `${shape} ${n}`).join(', ')})` : ''
    lines.push(`  ${k.padEnd(15)}${String(s.injected[k]).padStart(8)}${String(s.skipped[k]).padStart(9)}${shapes}`)
  }
  if (s.dropped > 0) lines.push(`  (${s.dropped} scheduled fault(s) not started before the end: restarts ran slower than planned)`)
  const kinds = [...new Set(s.ops.map(o => o.kind))].sort()
  lines.push('', 'operations           ok    fail  unknown')
  for (const k of kinds) {
    const of = s.ops.filter(o => o.kind === k)
    const n = (x: string): string => String(of.filter(o => o.outcome === x).length).padStart(x === 'unknown' ? 9 : 8)
    lines.push(`  ${k.padEnd(15)}${n('ok')}${n('fail')}${n('unknown')}`)
  }
  lines.push('', 'violations (expected 0)')
  const by = new Map<InvariantId, number>()
  for (const v of s.violations) by.set(v.invariant, (by.get(v.invariant) ?? 0) + 1)
  for (const inv of INVARIANTS) lines.push(`  ${inv.padEnd(24)}${String(by.get(inv) ?? 0).padStart(6)}`)
  const ms = (x: number | undefined): string => x === undefined ? '-' : `${x} ms`
  const c = s.convergence
  lines.push('', `convergence after the last heal: per key p50 ${ms(c.p50)}, p99 ${ms(c.p99)}; all survivors ${ms(c.survivorsMs)}; all nodes after restart ${ms(c.finalMs)}${c.converged ? '' : ' (DID NOT CONVERGE)'}`)
  lines.push(`daemon crashes (exits nobody asked for): ${s.crashes.length}${s.crashes.length > 0 ? ` (${s.crashes.map(c => `node ${c.node}: ${String(c.exit)}`).join(', ')})` : ''}`)
  if (s.killedForDurability.length > 0) lines.push(`durability check: killed -9 nodes ${s.killedForDurability.join(',')} right after the heal`)
  lines.push(`history, violations and logs: ${s.dir}`)
  lines.push(s.violations.length === 0 ? 'RESULT: no violations' : `RESULT: ${s.violations.length} violation(s)`)
  return lines.join('\n')
}
