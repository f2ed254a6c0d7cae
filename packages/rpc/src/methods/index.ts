/**
 * Shoal's JSON-RPC methods. This table is the single source for the server's validation, the typed client,
 * the CLI and docs/rpc.md (scripts/gen-rpc-docs.mjs).
 */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcError, RpcErrorCode } from '../errors.js'
import type { ErrorTable } from '../errors.js'
import type { RpcContext } from './context.js'
import { MEMBER, MULTIADDR, PEER, PEER_ID } from './schemas.js'
import { COMPACTED_CODE, eventsList, eventsPublish, eventsStats, eventsSubscribe } from './events.js'
import { kvDelete, kvGet, kvList, kvPut, kvStats, kvSyncStatus, kvWatch } from './kv.js'
import { kvExport, kvImport } from './kv-backup.js'
import { taskCancel, taskList, taskResult, taskStatus, taskSubmit, taskWatch } from './tasks.js'
import { nodeDiagnostics } from './diagnostics.js'
import { swarmOverview } from './overview.js'

export type { RpcContext } from './context.js'

const define = methodsFor<RpcContext>()

export const nodeInfo = define({
  name: 'node.info',
  description: "This node's identity, addresses, swarm, version, uptime and DHT mode.",
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({
    peerId: PEER_ID,
    addresses: Type.Array(Type.String()),
    swarm: Type.String(),
    private: Type.Boolean({ description: 'true when a swarm key protects every connection' }),
    version: Type.String(),
    startedAt: Type.Integer({ minimum: 0 }),
    uptimeMs: Type.Integer({ minimum: 0 }),
    dht: Type.Object({
      mode: Type.Enum(['client', 'server'], { description: "'server' answers DHT queries (required on a LAN or loopback swarm)" }),
      routingTableSize: Type.Integer({ minimum: 0, description: 'peers in the Kademlia routing table' })
    }, { additionalProperties: false })
  }, { additionalProperties: false }),
  handler: (_params, ctx) => ctx.node.info()
})

export const nodePing = define({
  name: 'node.ping',
  description: 'Answers at once with this node\'s wall clock (ms since the epoch): a liveness check for clients, and a measure of what the RPC layer alone costs.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({ time: Type.Integer({ minimum: 0, description: 'this node\'s wall clock, ms since the epoch' }) }, { additionalProperties: false }),
  handler: () => ({ time: Date.now() })
})

export const swarmPeers = define({
  name: 'swarm.peers',
  description: 'Peers this node has an open libp2p connection to.',
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Array(PEER),
  handler: (_params, ctx) => ctx.node.peers()
})

export const swarmMembers = define({
  name: 'swarm.members',
  description: "This node's membership view (SWIM): every member it knows, itself included, with state (alive, suspect, dead, left), incarnation, addresses, version, capabilities and last-seen time.",
  params: Type.Object({
    state: Type.Optional(Type.Enum(['alive', 'suspect', 'dead', 'left'], { description: 'only members in this state' }))
  }, { additionalProperties: false }),
  result: Type.Array(MEMBER),
  handler: (params, ctx) => ctx.node.members().filter(m => params.state === undefined || m.state === params.state)
})

export const swarmConnect = define({
  name: 'swarm.connect',
  description: 'Dials a multiaddr (with or without /p2p/<peer id>) and returns the peer id that answered.',
  params: Type.Object({ addr: MULTIADDR }, { additionalProperties: false }),
  result: Type.Object({ peerId: PEER_ID }, { additionalProperties: false }),
  errors: [
    { code: RpcErrorCode.UNAVAILABLE, message: 'could not connect (nothing listening, handshake failed, or refused)' },
    { code: RpcErrorCode.TIMEOUT, message: 'the dial timed out' }
  ],
  handler: async (params, ctx, { signal }) => await ctx.node.connect(params.addr, { signal })
})

export const debugPartition = define({
  name: 'debug.partition',
  description: 'Fault injection for tests (daemon started with --debug only): refuse connections to and from these peers, closing any open ones. An empty list heals.',
  params: Type.Object({ deny: Type.Array(PEER_ID, { maxItems: 1024 }) }, { additionalProperties: false }),
  result: Type.Object({ denied: Type.Array(PEER_ID) }, { additionalProperties: false }),
  errors: [{ code: RpcErrorCode.FORBIDDEN, message: 'debug methods are off' }],
  handler: async (params, ctx) => {
    if (!ctx.debug) throw new RpcError(RpcErrorCode.FORBIDDEN, 'debug methods are off; start the daemon with --debug')
    return { denied: await ctx.node.partition(params.deny) }
  }
})

export const shoalMethods = [nodeInfo, nodePing, nodeDiagnostics, swarmPeers, swarmMembers, swarmOverview, swarmConnect, debugPartition, eventsPublish, eventsList, eventsStats, kvPut, kvDelete, kvGet, kvList, kvStats, kvSyncStatus, kvExport, kvImport, taskSubmit, taskStatus, taskResult, taskList, taskCancel] as const
export type ShoalMethods = typeof shoalMethods
export const shoalSubscriptions = [eventsSubscribe, kvWatch, taskWatch] as const

/** Application error codes (ShoalError.code) to JSON-RPC codes: the only place this mapping lives. */
export const SHOAL_ERROR_TABLE: ErrorTable = {
  ERR_INVALID_INPUT: RpcErrorCode.INVALID_PARAMS,
  ERR_INVALID_CONFIG: RpcErrorCode.INVALID_PARAMS,
  ERR_NOT_FOUND: RpcErrorCode.NOT_FOUND,
  ERR_UNAVAILABLE: RpcErrorCode.UNAVAILABLE,
  ERR_TIMEOUT: RpcErrorCode.TIMEOUT,
  ERR_ALREADY_EXISTS: RpcErrorCode.CONFLICT,
  ERR_COMPACTED: COMPACTED_CODE,
  // The disk is full: nothing was written; reads go on working.
  ERR_STORE_FULL: RpcErrorCode.UNAVAILABLE,
  ERR_STORE_IO: RpcErrorCode.UNAVAILABLE,
  // This node's clock is too far from the swarm's: it stamps no writes until its time is fixed.
  ERR_CLOCK_SKEW: RpcErrorCode.UNAVAILABLE
}

