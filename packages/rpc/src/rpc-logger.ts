/** The logger the RPC server and its WebSocket endpoint write to: any of the levels may be left out. */
export type LogFn = (message: string, fields?: Record<string, unknown>) => void
export interface RpcLogger { debug?: LogFn, info?: LogFn, warn?: LogFn, error?: LogFn }
