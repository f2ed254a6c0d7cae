/**
 * Module handlers (config tasks.modules: {name: path}). Each module is imported once on the main thread, only to
 * check it exports run() and to call its split()/reduce(), which are meant to be light; run() always executes in
 * the worker pool, so a heavy or stuck run never blocks the event loop and can be killed.
 */
import { ConfigError, InvalidInputError } from '@shoal/core'
import type { Logger } from '@shoal/core'
import type { Handler } from './types.js'
import { moduleUrl } from './worker-pool.js'
import type { WorkerPool } from './worker-pool.js'

export interface ModuleHandlersComponents {
  pool: WorkerPool
  logger: Logger
}

type Fn = (...args: unknown[]) => unknown

const EXPECTED = 'an ES module file exporting run(input, ctx) (and optionally split(input, n), reduce(results), validate(input))'

async function importModule (name: string, path: string): Promise<Record<string, unknown>> {
  const field = `tasks.modules.${name}`
  if (typeof path !== 'string' || path === '') throw new ConfigError(field, path, 'a module file path')
  try {
    return await import(moduleUrl(path)) as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(field, path, `${EXPECTED}; importing it failed: ${(err as Error).message}`)
  }
}

async function moduleHandler (components: ModuleHandlersComponents, name: string, path: string): Promise<Handler> {
  const field = `tasks.modules.${name}`
  const mod = await importModule(name, path)
  if (typeof mod.run !== 'function') throw new ConfigError(field, path, `${EXPECTED}; it has no run export`)
  for (const opt of ['split', 'reduce', 'validate']) {
    if (mod[opt] !== undefined && typeof mod[opt] !== 'function') throw new ConfigError(field, path, `${EXPECTED}; its ${opt} export is not a function`)
  }
  const url = moduleUrl(path)
  const handler: Handler = {
    name,
    async run (input, ctx) {
      return await components.pool.run(url, 'run', input, ctx.signal, { jobId: ctx.jobId, index: ctx.index, attempt: ctx.attempt })
    }
  }
  const split = mod.split as Fn | undefined
  if (split !== undefined) {
    handler.split = (input, n) => {
      const parts = split(input, n)
      if (!Array.isArray(parts)) throw new InvalidInputError(`module handler '${name}': split returned ${typeof parts}, not an array`, { field: 'split' })
      return parts
    }
  }
  // validate(input) throws to refuse a subtask's input at submit (task.submit answers -32602 with its message).
  const validate = mod.validate as Fn | undefined
  if (validate !== undefined) handler.validate = input => { validate(input) }
  const reduce = mod.reduce as Fn | undefined
  if (reduce !== undefined) handler.reduce = results => reduce(results)
  components.logger.debug({ name, path }, 'module handler loaded')
  return handler
}

/** Loads every configured module; a missing file or a module without run() fails with ERR_INVALID_CONFIG. */
export async function loadModuleHandlers (components: ModuleHandlersComponents, modules: Record<string, string>): Promise<Handler[]> {
  const out: Handler[] = []
  for (const [name, path] of Object.entries(modules)) out.push(await moduleHandler(components, name, path))
  return out
}
