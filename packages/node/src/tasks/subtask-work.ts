/**
 * The work of one claimed subtask on this node: record the lease, run the handler, record the result (or the
 * failure, retried or final). Each step is a span (`subtask.lease`, `subtask.run`, `subtask.result`) whose
 * parent is the job's trace context (`JobRecord.trace`, the `task.submit` span), so every node that works
 * on a job adds to the one trace; the KV writes inside carry the step's span on to the nodes that apply them.
 */
import { afterError, doneKey, failKey, leaseKey } from '@shoal/core'
import type { Clock, JobView, Logger } from '@shoal/core'
import type { KvService } from '../kv/kv-service.js'
import type { HandlerRegistry } from './handlers/index.js'
import { traceIdOf } from '../tracing.js'
import type { Tracing } from '../tracing.js'

export interface SubtaskWorkComponents {
  clock: Clock
  logger: Logger
  kv: KvService
  handlers: HandlerRegistry
  tracing: Tracing
  self: string
  /** False once the task service stops: a failure then is the stop, not the handler's. */
  active: () => boolean
  /** Folds a record this node wrote into its own view at once (before the KV's change event comes back). */
  absorb: (key: string, value: unknown) => void
}

export interface SubtaskClaim {
  view: JobView
  index: number
  token: number
  attempt: number
  signal: AbortSignal
}

export type SubtaskOutcome = 'done' | 'error' | 'aborted'

/** Leases, runs and records one subtask; never throws. */
export async function workOnSubtask (c: SubtaskWorkComponents, claim: SubtaskClaim): Promise<SubtaskOutcome> {
  const { view, index, token, attempt, signal } = claim
  const jobId = view.job.id
  const parent = view.job.trace
  const traceId = traceIdOf(parent)
  const attributes = { 'shoal.job': jobId, 'shoal.subtask': index, 'shoal.attempt': attempt, 'shoal.handler': view.job.handler }
  const span = <T>(name: string, work: (trace: string | undefined) => Promise<T>): Promise<T> =>
    c.tracing.run(name, { parent, attributes }, async s => await work(s.traceparent))
  try {
    await span('subtask.lease', async trace => await c.kv.put(leaseKey(jobId, index, token), view.leases.get(index), { system: true, trace }))
    const handler = c.handlers.get(view.job.handler)
    if (handler === undefined) throw new Error(`handler '${view.job.handler}' is not available on this node`)
    const result = await span('subtask.run', async () => await handler.run(view.job.inputs[index], { signal, jobId, index, attempt }))
    // Fencing: a run whose lease was superseded meanwhile (the driver aborts it) records nothing.
    if (signal.aborted) return 'aborted'
    const done = { ...(result !== undefined ? { result } : {}), by: c.self, token, attempts: attempt }
    await span('subtask.result', async trace => await c.kv.put(doneKey(jobId, index, token), done, { system: true, trace }))
    c.absorb(doneKey(jobId, index, token), done)
  } catch (err) {
    if (signal.aborted || !c.active()) return 'aborted'
    const message = (err as Error)?.message ?? String(err)
    const next = afterError(view, index, message, c.self, c.clock.now(), token)
    c.logger.info({ jobId, index, attempt, err: message, ...(traceId !== undefined ? { traceId } : {}) }, next.write === 'done' ? 'subtask failed for good' : 'subtask failed; will retry')
    const [key, value] = next.write === 'done' ? [doneKey(jobId, index, token), next.done] : [failKey(jobId, index), next.failure]
    await span('subtask.result', async trace => {
      await c.kv.put(key, value, { system: true, trace })
      c.absorb(key, value)
    }).catch(e => { c.logger.warn({ jobId, index, err: (e as Error).message, ...(traceId !== undefined ? { traceId } : {}) }, 'could not record a subtask failure') })
    return 'error'
  }
  c.logger.debug({ jobId, index, attempt, ...(traceId !== undefined ? { traceId } : {}) }, 'subtask done')
  return 'done'
}
