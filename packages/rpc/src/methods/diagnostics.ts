/** node.diagnostics: the checks behind `shoal doctor` (packages/node/src/diagnostics.ts, docs/operations.md). */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { diagnose } from '@shoal/node'
import type { RpcContext } from './context.js'

const define = methodsFor<RpcContext>()

export const CHECK = Type.Object({
  id: Type.String({ description: 'dht, transports, rpc, disk, event-loop, clock, membership, connections, inbound-limit or kv' }),
  status: Type.Enum(['ok', 'warn', 'fail']),
  message: Type.String({ description: 'what was found' }),
  fix: Type.Optional(Type.String({ description: 'what to change (only when status is not ok)' }))
}, { additionalProperties: false })

export const nodeDiagnostics = define({
  name: 'node.diagnostics',
  description: "Checks this node's set-up against known traps (DHT mode, transports in a private swarm, RPC host, disk space, event-loop delay, clock skew, membership, connections, inbound limit, KV convergence); each check is ok, warn or fail, with a fix.",
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({ checks: Type.Array(CHECK) }, { additionalProperties: false }),
  handler: async (_params, ctx) => ({ checks: await diagnose(ctx.node, ctx.node.config, Date.now()) })
})
