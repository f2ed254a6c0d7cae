/**
 * The script every pool worker runs: it imports the requested module (once per path), calls the named export with
 * the input and posts back { id, ok: true, result } or { id, ok: false, error: { message } }. Aborting a run
 * terminates the whole worker, so the ctx.signal a module sees here never fires.
 */
import { parentPort } from 'node:worker_threads'

export interface WorkerRequest {
  id: number
  moduleUrl: string
  exportName: string
  input: unknown
  ctx?: Record<string, unknown>
}

export type WorkerResponse =
  | { id: number, ok: true, result: unknown }
  | { id: number, ok: false, error: { message: string, code?: string } }

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

async function handle (req: WorkerRequest): Promise<WorkerResponse> {
  try {
    const mod = await load(req.moduleUrl)
    const fn = mod[req.exportName]
    if (typeof fn !== 'function') throw new Error(`module ${req.moduleUrl} has no function export '${req.exportName}'`)
    const result: unknown = await fn(req.input, { ...req.ctx, signal: never })
    return { id: req.id, ok: true, result }
  } catch (err) {
    return { id: req.id, ok: false, error: describeError(err) }
  }
}

const port = parentPort
if (port !== null) {
  port.on('message', (req: WorkerRequest) => {
    void handle(req).then(res => {
      try {
        port.postMessage(res)
      } catch (err) {
        // The result could not be cloned (a function, a class instance with private state...).
        port.postMessage({ id: req.id, ok: false, error: { message: `result could not be sent back: ${describeError(err).message}` } })
      }
    })
  })
}
