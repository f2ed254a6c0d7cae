/**
 * The task module every pool worker runs (worker-pool.ts runs it under piscina): it imports the requested module
 * (once per path), calls the named export with the input and answers { ok: true, result } or { ok: false, error:
 * { message, code? } }, so an error's code crosses the thread boundary (structured cloning keeps only an Error's
 * message). A run whose `cancelled` flag is set before it starts is skipped. A started run that is aborted ends its
 * worker if the call is still running after the pool's grace, so the ctx.signal a module sees here never fires.
 */

export interface WorkerRequest {
  moduleUrl: string
  exportName: string
  input: unknown
  ctx?: Record<string, unknown>
  /**
   * Two Int32s: [0] `cancelled`, set to 1 by the pool when the run is aborted; [1] `started`, set to 1 here before
   * `cancelled` is read, so the pool ends a worker only for a call that began.
   */
  flags: SharedArrayBuffer
}

export type WorkerResponse =
  | { ok: true, result: unknown }
  | { ok: false, error: { message: string, code?: string } }

const modules = new Map<string, Promise<Record<string, unknown>>>()
const never = new AbortController().signal

function load (url: string): Promise<Record<string, unknown>> {
  let mod = modules.get(url)
  if (mod === undefined) {
    mod = import(url) as Promise<Record<string, unknown>>
    mod.catch(() => { modules.delete(url) })
    modules.set(url, mod)
  }
  return mod
}

function describeError (err: unknown): { message: string, code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message }
  }
  return { message: String(err) }
}

export default async function handle (req: WorkerRequest): Promise<WorkerResponse> {
  const flags = new Int32Array(req.flags)
  Atomics.store(flags, 1, 1)
  if (Atomics.load(flags, 0) !== 0) return { ok: false, error: { message: 'cancelled before it started' } }
  try {
    const mod = await load(req.moduleUrl)
    const fn = mod[req.exportName]
    if (typeof fn !== 'function') throw new Error(`module ${req.moduleUrl} has no function export '${req.exportName}'`)
    const result: unknown = await fn(req.input, { ...req.ctx, signal: never })
    // A result that cannot cross to the main thread (a function, a class instance with private state...) would
    // crash the worker when piscina posts it; say so instead. Primitives always cross, so only objects are tried.
    if (typeof result === 'object' && result !== null) {
      try {
        structuredClone(result)
      } catch (err) {
        return { ok: false, error: { message: `result could not be sent back: ${describeError(err).message}` } }
      }
    }
    return { ok: true, result }
  } catch (err) {
    return { ok: false, error: describeError(err) }
  }
}
