/**
 * The shape every task handler has, whatever runs it: a built-in, a module in the worker pool or an allowlisted
 * command. split and reduce run on the main thread and must be deterministic (every member that splits or reduces
 * the same job must agree); run may be slow and is always abortable through ctx.signal.
 */
import type { Logger } from '@shoal/core'

export interface HandlerContext {
  signal: AbortSignal
  jobId: string
  index: number
  attempt: number
}

export interface Handler {
  name: string
  /**
   * Checks one subtask's input at submit time, so bad input is refused at once (-32602) rather than failing on
   * a worker after its retries. Throws InvalidInputError naming the field. Light and synchronous.
   */
  validate?(input: unknown): void
  /** Splits one input into n sub-inputs; deterministic. Throwing refuses the job at submit. */
  split?(input: unknown, n: number): unknown[]
  run(input: unknown, ctx: HandlerContext): Promise<unknown>
  /** Combines the sub-results in order; deterministic. Without it the job's result is the list of results. */
  reduce?(results: unknown[]): unknown
}

export interface HandlerRegistry {
  /** The handlers this node runs; it advertises `handler:<name>` for each. */
  names(): string[]
  get(name: string): Handler | undefined
  /** Stops the worker pool and kills running commands; runs in flight fail. */
  close(): Promise<void>
}

export interface ExecAllowEntry {
  command: string
  args?: string[]
  /** Default EXEC_DEFAULT_TIMEOUT_MS. */
  timeoutMs?: number
}

export interface ExecInit {
  enabled: boolean
  allow: Record<string, ExecAllowEntry>
}

export interface HandlerRegistryInit {
  /** name -> module file (absolute, or relative to the process's cwd). */
  modules?: Record<string, string>
  exec?: ExecInit
  /** Worker threads for CPU-bound handlers; default os.availableParallelism(). */
  poolSize?: number
  logger: Logger
}
