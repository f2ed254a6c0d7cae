/**
 * Every call is answered with its result or with an error the RPC reference documents for what went wrong
 * (-32003 store full or not ready, -32001 too few acks in time, -32602 bad params, ...), whatever the faults:
 * never -32603, "unexpected failure; details only in the daemon log". An internal error is a fault path the
 * daemon does not know (a closed database answering reads, an unhandled rejection), the kind the other
 * invariants cannot see when it only fails calls (found that way: a full disk closed the store to reads).
 */
import { RpcErrorCode } from '@shoal/rpc'
import type { CheckInput, Violation } from '../types.js'

export function checkNoInternalError (input: CheckInput): Violation[] {
  return input.ops
    .filter(o => o.error?.code === RpcErrorCode.INTERNAL_ERROR)
    .map(o => ({ invariant: 'inv11-no-internal-error' as const, message: `${o.kind} op ${o.id} on node ${o.node} was answered -32603 Internal error: ${o.error?.message ?? ''}`, ops: [o] }))
}
