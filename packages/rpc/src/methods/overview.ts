/**
 * swarm.overview: everything the dashboard draws, in one call: this node, its membership view, every node's
 * status (asked of every live member when called, reused for 2 s), KV convergence and recent jobs.
 */
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import type { RpcContext } from './context.js'
import { MEMBER, PEER_ID } from './schemas.js'

const define = methodsFor<RpcContext>()

/** Jobs shown with their per-node breakdown: enough for a screen, bounded work per call. */
const RECENT_JOBS = 10
/** Status records read per call (one per node that ever reported; a page of the KV list). */
const MAX_STATUSES = 1000
/** A convergence answer is reused this long, so several open dashboards cost one round of root queries. */
const CONVERGENCE_CACHE_MS = 1000
/** A mismatch is asked again once after this long: a status write in flight makes roots differ for a few ms. */
const CONVERGENCE_RETRY_MS = 150

const COUNT = Type.Integer({ minimum: 0 })
const NODE_STATUS = Type.Object({
  peerId: PEER_ID,
  at: Type.Integer({ minimum: 0, description: 'ms since the epoch of the report' }),
  neighbours: Type.Array(PEER_ID, { description: 'live members the node has a connection to' }),
  load: Type.Object({ eventLoopP99Ms: Type.Number({ minimum: 0 }), rssBytes: COUNT, runningSubtasks: COUNT }, { additionalProperties: false }),
  rates: Type.Object({ eventsPerSec: Type.Number({ minimum: 0 }), kvOpsPerSec: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
  kvRoot: Type.String()
}, { additionalProperties: true })
const STATE = Type.Enum(['pending', 'running', 'done', 'failed', 'cancelled'])
const JOB = Type.Object({
  jobId: Type.String(),
  handler: Type.String(),
  state: STATE,
  subtasks: COUNT,
  submittedAt: COUNT,
  submittedBy: PEER_ID,
  counts: Type.Object({ pending: COUNT, running: COUNT, done: COUNT, failed: COUNT }, { additionalProperties: false }),
  perMember: Type.Record(Type.String(), Type.Object({ running: COUNT, done: COUNT }, { additionalProperties: false }))
}, { additionalProperties: false })

type Convergence = { root: string, converged: boolean, peers: Record<string, { root?: string, match: boolean }> }
const cache = new WeakMap<object, { at: number, value: Promise<Convergence> }>()

/** Live roots of every member, asked now: reported roots cannot agree, since each report changes the root. */
async function convergence (ctx: RpcContext, signal: AbortSignal): Promise<Convergence> {
  const hit = cache.get(ctx.node)
  if (hit !== undefined && Date.now() - hit.at < CONVERGENCE_CACHE_MS) return await hit.value
  const value = (async () => {
    const first = await ctx.node.kv.sync.convergence(signal)
    if (first.converged) return first
    await new Promise(resolve => setTimeout(resolve, CONVERGENCE_RETRY_MS))
    return await ctx.node.kv.sync.convergence(signal)
  })()
  cache.set(ctx.node, { at: Date.now(), value })
  value.catch(() => { cache.delete(ctx.node) })
  return await value
}

export const swarmOverview = define({
  name: 'swarm.overview',
  description: "What the dashboard shows, in one call: this node's info, its membership view, every live node's status (neighbours, load, event and KV rates, KV root; asked of each member now, reused for 2 s), KV convergence (this node's root against every live member's, asked now), job counts by state and the most recent jobs with per-member progress.",
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Object({
    self: Type.Object({ peerId: PEER_ID, swarm: Type.String(), version: Type.String(), uptimeMs: COUNT, addresses: Type.Array(Type.String()) }, { additionalProperties: false }),
    now: Type.Integer({ minimum: 0, description: "this node's clock (ms since the epoch), to age the statuses" }),
    members: Type.Array(MEMBER),
    statuses: Type.Array(NODE_STATUS),
    kv: Type.Object({
      root: Type.String(),
      converged: Type.Boolean({ description: 'every live member answered with our root' }),
      peers: Type.Record(Type.String(), Type.Object({ root: Type.Optional(Type.String()), match: Type.Boolean() }, { additionalProperties: false }), { description: 'per live member: its root and whether it matches' })
    }, { additionalProperties: false }),
    jobs: Type.Object({
      total: COUNT,
      byState: Type.Record(Type.String(), COUNT, { description: 'jobs per state' }),
      recent: Type.Array(JOB, { description: `the ${RECENT_JOBS} newest jobs` })
    }, { additionalProperties: false })
  }, { additionalProperties: false }),
  handler: async (_p, ctx, { signal }) => {
    const node = ctx.node
    const info = node.info()
    const statuses = (await node.statuses({ signal })).slice(0, MAX_STATUSES)
    const conv = await convergence(ctx, signal)
    const all = node.tasks.list()
    const byState: Record<string, number> = {}
    for (const j of all) byState[j.state] = (byState[j.state] ?? 0) + 1
    const recent = all.slice(0, RECENT_JOBS).map(j => {
      const st = node.tasks.status(j.jobId)
      return { ...j, state: st.state, counts: st.counts, perMember: st.perMember }
    })
    const peers: Record<string, { root?: string, match: boolean }> = {}
    for (const [id, p] of Object.entries(conv.peers)) peers[id] = { ...(p.root !== undefined ? { root: p.root } : {}), match: p.match }
    return {
      self: { peerId: info.peerId, swarm: info.swarm, version: info.version, uptimeMs: info.uptimeMs, addresses: info.addresses },
      now: Date.now(),
      members: node.members(),
      statuses,
      kv: { root: conv.root, converged: conv.converged, peers },
      jobs: { total: all.length, byState, recent }
    }
  }
})

