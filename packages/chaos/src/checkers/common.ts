/** Small helpers the checkers share: grouping the history and finding what a value or version belongs to. */
import type { Op, Version } from '../types.js'
import { isVersion } from '../version.js'

export const isWrite = (op: Op): boolean => op.kind === 'kv.put' || op.kind === 'kv.delete'

/** The version a completed KV op reported (put/delete result, or the record a get returned). */
export function versionOf (op: Op): Version | undefined {
  const v = op.result?.version
  return op.outcome === 'ok' && isVersion(v) ? v : undefined
}

export function keyOf (op: Op): string | undefined {
  return typeof op.args.key === 'string' ? op.args.key : undefined
}

/** acks asked for: a number, 'quorum' or 'all' (default 1). */
export function acksAsked (op: Op): number | 'quorum' | 'all' {
  const a = op.args.acks
  return a === 'quorum' || a === 'all' ? a : typeof a === 'number' ? a : 1
}

export function replicatedWrite (op: Op): boolean {
  const a = acksAsked(op)
  return a === 'quorum' || a === 'all' || a >= 2
}

export function byKey (ops: Op[]): Map<string, Op[]> {
  const out = new Map<string, Op[]>()
  for (const op of ops) {
    const k = keyOf(op)
    if (k === undefined || !(op.kind.startsWith('kv.'))) continue
    const list = out.get(k) ?? []
    list.push(op)
    out.set(k, list)
  }
  return out
}

/** The put whose (unique) value this is, if any. */
export function putsByValue (ops: Op[]): Map<string, Op> {
  const out = new Map<string, Op>()
  for (const op of ops) if (op.kind === 'kv.put') out.set(JSON.stringify(op.args.value), op)
  return out
}

export function majority (members: number): number {
  return Math.floor(members / 2) + 1
}

/** Whether node `node` lost its disk (a wipe) between harness times `from` and `to`. */
export function wipedBetween (wipes: Array<{ node: number, at: number }> | undefined, node: number, from: number, to: number): boolean {
  return (wipes ?? []).some(w => w.node === node && w.at > from && w.at < to)
}
