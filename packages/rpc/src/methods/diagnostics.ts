/** node.diagnostics: the checks behind `shoal doctor` (packages/node/src/diagnostics.ts, docs/operations.md). */
import { s } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { diagnose } from '@shoal/node'
import type { RpcContext } from './context.js'

const define = methodsFor<RpcContext>()

export const CHECK = s.object({
  id: s.string({ description: 'dht, transports, rpc, disk, event-loop, clock, membership, connections, inbound-limit or kv' }),
  status: s.string({ enum: ['ok', 'warn', 'fail'] as const }),
  message: s.string({ description: 'what was found' }),
  fix: s.optional(s.string({ description: 'what to change (only when status is not ok)' }))
})

export const nodeDiagnostics = define({
  name: 'node.diagnostics',
  description: "Checks this node's set-up against known traps (DHT mode, transports in a private swarm, RPC host, disk space, event-loop delay, clock skew, membership, connections, inbound limit, KV convergence); each check is ok, warn or fail, with a fix.",
  params: s.object({}),
  result: s.object({ checks: s.array(CHECK) }),
  handler: async (_params, ctx) => ({ checks: await diagnose(ctx.node, ctx.node.config, Date.now()) })
})
