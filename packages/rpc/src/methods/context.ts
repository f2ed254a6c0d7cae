/** What Shoal's RPC handlers may use: the running node and whether debug methods are on. */
import type { ShoalNode } from '@shoal/node'

export interface RpcContext {
  node: ShoalNode
  /** debug.* methods answer only when the daemon runs with --debug. */
  debug: boolean
}
