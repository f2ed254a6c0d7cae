/**
 * @shoal/rpc: generic JSON-RPC 2.0 machinery. One method table (name, doc, params schema, result schema,
 * handler) from which the HTTP server, the typed client and the docs (OpenRPC, Markdown) are derived.
 * The generic parts know nothing of Shoal; Shoal's own methods live in src/methods and are defined with `defineMethod`.
 */
export { Type, validate, toJSONSchema, isRequired, type Infer, type Schema, type ObjectSchema, type JsonSchema } from './schema.js'
export { ValidationError } from './validation-error.js'
export { RpcError, RpcErrorCode, RPC_ERROR_DOCS, toRpcError, type ErrorTable, type RpcErrorCodeName } from './errors.js'
export {
  defineMethod, methodsFor, type MethodDef, type MethodTable, type HandlerOptions, type MethodErrorDoc,
  type MethodNames, type ParamsOf, type ResultOf
} from './method-table.js'
export { createDispatcher, type CallReport, type CallScope, type RequestMeta, type Dispatcher, type DispatcherInit, type RpcId } from './dispatch.js'
export {
  createRpcServer, RPC_PATH, type RpcServer, type RpcServerInit, type RpcAddress, type RouteHandler,
  type RouteOptions, type UpgradeHandler, type RpcLogger, type LogFn
} from './server.js'
export { isAuthorized, checkBearer, isLoopbackHost, NotLoopbackError } from './guards.js'
export {
  createRpcClient, RpcConnectionError, type RpcClient, type RpcClientInit, type TypedClient, type CallOptions,
  type BatchCall, type BatchResult, type RpcConnectionErrorCode
} from './client.js'
export { toOpenRpc, toMarkdown, type OpenRpcInfo } from './openrpc.js'
export * as rpcDefaults from './constants.js'
// Shoal's own method table (depends on @shoal/node); the generic parts above import nothing from other packages.
export { shoalMethods, SHOAL_ERROR_TABLE, type ShoalMethods, type RpcContext } from './methods/index.js'

// WebSocket endpoint (GET /rpc/ws, served by createRpcServer) and subscriptions.
export {
  defineSubscription, subscriptionsFor, WS_PATH, WS_SUBPROTOCOL, UNSUBSCRIBE_METHOD, type SubscriptionDef,
  type SubscriptionSpec, type SubscriptionSink, type SubscriptionTable
} from './subscription.js'
export { type WsOptions, type WsStats } from './ws-server.js'
export { type SessionMethod, type SessionMethods } from './dispatch.js'
export { WS_ERROR_DOCS } from './errors.js'
export { createWsClient, type WsClient, type WsClientInit, type WsSubscribeHandlers, type WsSubscription } from './ws-client.js'

// Shoal's concrete methods (node.info, swarm.*, ...) and their error table. Unlike everything above, this part
// knows the node (type-only import of @shoal/node); the generic modules never import it.
export * from './methods/index.js'
