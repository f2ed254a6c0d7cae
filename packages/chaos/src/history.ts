/**
 * The history: every call's invoke, then ok / fail / unknown, with harness wall time, node, arguments and result,
 * streamed to history.jsonl as it happens (so a crashed run still leaves its history) and kept in memory for the
 * checkers. Nemesis actions are written to the same file, interleaved in time.
 */
import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { RpcError, RpcErrorCode } from '@shoal/rpc'
import type { Op, OpKind, Outcome } from './types.js'

export class History {
  readonly ops: Op[] = []
  private nextId = 1
  private readonly out: WriteStream | undefined

  constructor (file?: string) {
    this.out = file === undefined ? undefined : createWriteStream(file, { flags: 'w' })
  }

  /** Reserves the next op id (values written by an op embed it, so they are unique). */
  reserve (): number { return this.nextId++ }

  /** Runs one call and records it. Never throws: the outcome says what happened. */
  async invoke (id: number, client: number, node: number, kind: OpKind, args: Record<string, unknown>, call: () => Promise<unknown>): Promise<Op> {
    const invokeAt = Date.now()
    this.write({ type: 'invoke', id, client, node, kind, args, at: invokeAt })
    let op: Op
    try {
      const result = await call()
      op = { id, client, node, kind, args, invokeAt, completeAt: Date.now(), outcome: 'ok', result }
    } catch (err) {
      const { outcome, result } = classify(kind, err)
      const e = err as { code?: number | string, message?: string }
      op = { id, client, node, kind, args, invokeAt, completeAt: Date.now(), outcome, ...(result !== undefined ? { result } : {}), error: { code: e.code, message: String(e.message ?? err) } }
    }
    this.ops.push(op)
    this.write({ type: op.outcome, id, client, node, kind, at: op.completeAt, ...(op.result !== undefined ? { result: op.result } : {}), ...(op.error !== undefined ? { error: op.error } : {}) })
    return op
  }

  note (entry: Record<string, unknown>): void {
    this.write({ type: 'nemesis', at: Date.now(), ...entry })
  }

  private write (entry: Record<string, unknown>): void {
    this.out?.write(JSON.stringify(entry) + '\n')
  }

  async close (): Promise<void> {
    const out = this.out
    if (out === undefined) return
    await new Promise<void>(resolve => out.end(resolve))
  }
}

/**
 * What an error means for the op's effect. A refused connection never reached the daemon (fail). A documented
 * "nothing was written" (-32003 disk full / store error, -32602 bad params) is fail. A timeout, a lost
 * connection, an ack timeout (-32001: "the write stays and keeps replicating") or an internal error may have
 * taken effect: unknown. kv.get's not-found is an ok read of an absent key.
 */
export function classify (kind: OpKind, err: unknown): { outcome: Outcome, result?: unknown } {
  const code = (err as { code?: unknown })?.code
  if (err instanceof RpcError || typeof code === 'number') {
    if (kind === 'kv.get' && code === RpcErrorCode.NOT_FOUND) return { outcome: 'ok', result: { absent: true } }
    if (code === RpcErrorCode.INVALID_PARAMS || code === RpcErrorCode.UNAVAILABLE || code === RpcErrorCode.NOT_FOUND) return { outcome: 'fail' }
    return { outcome: 'unknown' }
  }
  if (code === 'ERR_RPC_UNREACHABLE') return { outcome: 'fail' }
  return { outcome: 'unknown' }
}

/** One op as a line of a violation's excerpt. */
export function showOp (op: Op): string {
  const t = new Date(op.invokeAt).toISOString().slice(11, 23)
  const d = op.completeAt - op.invokeAt
  const args = JSON.stringify(op.args)
  const res = op.outcome === 'ok' ? JSON.stringify(op.result) : op.error?.message ?? ''
  return `#${op.id} ${t} +${d}ms c${op.client}@n${op.node} ${op.kind} ${args} -> ${op.outcome} ${res.length > 200 ? res.slice(0, 200) + '…' : res}`
}
