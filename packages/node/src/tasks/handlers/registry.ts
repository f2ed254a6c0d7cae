/**
 * The handler registry the task service uses: built-ins, configured module handlers and allowlisted exec commands,
 * with one worker pool behind the CPU-bound ones. Names are unique; a clash is a config error.
 */
import { ConfigError } from '@shoal/core'
import { createBuiltins } from './builtins.js'
import { EXEC_PREFIX, createExecHandlers } from './exec.js'
import { loadModuleHandlers } from './modules.js'
import type { Handler, HandlerRegistry, HandlerRegistryInit } from './types.js'
import { createWorkerPool } from './worker-pool.js'
import type { WorkerPool } from './worker-pool.js'

class Registry implements HandlerRegistry {
  constructor (
    private readonly handlers: Map<string, Handler>,
    private readonly pool: WorkerPool,
    private readonly closing: AbortController
  ) {}

  names (): string[] {
    return [...this.handlers.keys()]
  }

  get (name: string): Handler | undefined {
    return this.handlers.get(name)
  }

  async close (): Promise<void> {
    this.closing.abort()
    await this.pool.close()
  }
}

export async function createHandlerRegistry (init: HandlerRegistryInit): Promise<HandlerRegistry> {
  const logger = init.logger.child({ component: 'shoal:node:tasks:handlers' })
  if (init.poolSize !== undefined && (!Number.isInteger(init.poolSize) || init.poolSize < 1)) {
    throw new ConfigError('tasks.poolSize', init.poolSize, 'a positive integer')
  }
  const pool = createWorkerPool({ logger }, init.poolSize === undefined ? {} : { size: init.poolSize })
  const closing = new AbortController()
  const handlers = new Map<string, Handler>()
  const add = (h: Handler, field: string): void => {
    if (handlers.has(h.name)) throw new ConfigError(field, h.name, `a handler name not already taken (built-ins: primes, wordcount, hash, sleep)`)
    handlers.set(h.name, h)
  }
  try {
    for (const h of createBuiltins({ pool })) add(h, 'builtin')
    for (const h of await loadModuleHandlers({ pool, logger }, init.modules ?? {})) add(h, `tasks.modules.${h.name}`)
    for (const h of createExecHandlers({ logger, closing: closing.signal }, init.exec)) add(h, `tasks.exec.allow.${h.name.slice(EXEC_PREFIX.length)}`)
  } catch (err) {
    await pool.close()
    throw err
  }
  logger.info({ handlers: [...handlers.keys()] }, 'task handlers ready')
  return new Registry(handlers, pool, closing)
}
