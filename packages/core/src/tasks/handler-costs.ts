/**
 * What a subtask of each handler costs on this node: an exponentially weighted moving average of wall time per
 * subtask over the chunks this node ran (the chunk's run time divided by its subtasks, so it counts the chunk's
 * own concurrency). A job's chunk size at submit uses it (scheduler.ts `chunkSize`): chunks of cheap subtasks
 * grow until each holds about TASK_CHUNK_TARGET_MS of work, so a job of trivial subtasks is not cut into more
 * leases (replicated writes) than its work is worth. Pure: no clock, no I/O.
 */

/** Weight of the newest chunk in the average. */
export const HANDLER_COST_WEIGHT = 0.3
/** Handlers remembered before the table starts over (exec handlers are named per command). */
export const HANDLER_COSTS_MAX = 256

export class HandlerCosts {
  private readonly ms = new Map<string, number>()

  /** Records a chunk of `subtasks` that ran `wallMs` (milliseconds, >= 0) from start to its last result. */
  record (handler: string, wallMs: number, subtasks: number): void {
    if (!(subtasks > 0) || !Number.isFinite(wallMs) || wallMs < 0) return
    const sample = wallMs / subtasks
    const prev = this.ms.get(handler)
    if (prev === undefined && this.ms.size >= HANDLER_COSTS_MAX) this.ms.clear()
    this.ms.set(handler, prev === undefined ? sample : prev + HANDLER_COST_WEIGHT * (sample - prev))
  }

  /** Mean wall milliseconds per subtask of `handler` here, or undefined before this node has run one. */
  msPerSubtask (handler: string): number | undefined {
    return this.ms.get(handler)
  }
}
