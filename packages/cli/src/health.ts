/**
 * Health endpoints on the RPC port, without the token, for process supervisors and orchestrators
 * (Kubernetes probes, Docker HEALTHCHECK, load balancers):
 *   GET /healthz   200 `ok` while the process serves HTTP (liveness).
 *   GET /readyz    200 `ok` when the node is ready, else 503 `not ready` (readiness): see `readiness`.
 * Bodies carry the status word and nothing else: no peer ids, counts or reasons reach a caller without the
 * token (`shoal status` and `shoal doctor` say why a node is not ready).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Member } from '@shoal/core'

/** What readiness reads, each at the time of the request. */
export interface ReadinessSources {
  /** This node's peer id (to leave itself out of the member count). */
  self: string
  members: () => Member[]
  /** How many bootstrap addresses the node was configured with. */
  bootstrapCount: number
  /** True from the start of a graceful stop (SIGTERM) on. */
  stopping: () => boolean
  /** True once the store opened (the node started) and until the node begins to stop. */
  storeOpen: () => boolean
}

export type NotReadyReason = 'stopping' | 'store-closed' | 'not-joined'

/**
 * Ready = not stopping, the store open, and joined: at least one other member alive or suspect in this node's
 * view. A node given no bootstrap address is a seed (or a swarm of one) and counts as joined on its own;
 * a node given bootstrap addresses is not ready until it has met the swarm.
 */
export function readiness (src: ReadinessSources): { ready: true } | { ready: false, reason: NotReadyReason } {
  if (src.stopping()) return { ready: false, reason: 'stopping' }
  if (!src.storeOpen()) return { ready: false, reason: 'store-closed' }
  if (src.bootstrapCount > 0) {
    const others = src.members().filter(m => m.id !== src.self && (m.state === 'alive' || m.state === 'suspect')).length
    if (others === 0) return { ready: false, reason: 'not-joined' }
  }
  return { ready: true }
}

type Route = (method: 'GET', path: string, handler: (req: IncomingMessage, res: ServerResponse) => void, opts: { public: boolean }) => void

export const HEALTH_PATH = '/healthz'
export const READY_PATH = '/readyz'

/** Adds GET /healthz and GET /readyz (public) through the RPC server's `route`. */
export function addHealthRoutes (route: Route, src: ReadinessSources): void {
  route('GET', HEALTH_PATH, (_req, res) => { send(res, 200, 'ok') }, { public: true })
  route('GET', READY_PATH, (_req, res) => {
    const r = readiness(src)
    send(res, r.ready ? 200 : 503, r.ready ? 'ok' : 'not ready')
  }, { public: true })
}

function send (res: ServerResponse, status: number, word: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
  res.end(word + '\n')
}
