/** task.* methods: distributed jobs (docs/protocols/tasks.md). */
import { s } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import { subscriptionsFor } from '../subscription.js'
import type { RpcContext } from './context.js'
import { PEER_ID } from './schemas.js'

const define = methodsFor<RpcContext>()
const subscription = subscriptionsFor<RpcContext>()

const JOB_ID = s.string({ pattern: '^[0-9a-f]{32}$', description: 'a job id from task.submit' })
const STATE = s.string({ enum: ['pending', 'running', 'done', 'failed', 'cancelled'] as const })
const STATUS = s.object({
  jobId: JOB_ID,
  handler: s.string(),
  state: STATE,
  subtasks: s.integer({ min: 0 }),
  counts: s.object({ pending: s.integer({ min: 0 }), running: s.integer({ min: 0 }), done: s.integer({ min: 0 }), failed: s.integer({ min: 0 }) }),
  perMember: s.record(s.object({ running: s.integer({ min: 0 }), done: s.integer({ min: 0 }) }), { description: 'subtasks running and done per member' }),
  attempts: s.integer({ min: 0 }),
  lostWorkers: s.integer({ min: 0, description: 'subtasks taken over because their worker died or its lease expired' }),
  errors: s.array(s.object({
    index: s.integer({ min: 0 }),
    error: s.string(),
    attempt: s.integer({ min: 1, description: 'the attempt that failed (1-based)' }),
    retryAt: s.optional(s.integer({ min: 0, description: 'when the retry is due (ms since the epoch); absent when the subtask gave up' }))
  }), { description: "per subtask, its final error or else its latest handler error" }),
  result: s.optional(s.any()),
  error: s.optional(s.string())
}, { additionalProperties: true })

export const taskSubmit = define({
  name: 'task.submit',
  description: 'Submits a job. Give `inputs` (one subtask each), or `input` with `split: N` (the handler splits it), or `input` alone (one subtask). Built-in handlers: primes, wordcount, hash, sleep; module handlers from config; exec:<name> when enabled. The job record is on two nodes before this returns.',
  params: s.object({
    handler: s.string({ minLength: 1, maxLength: 128, description: 'primes, wordcount, hash, sleep, a module handler from config, or exec:<allowlisted name>' }),
    input: s.optional(s.any()),
    inputs: s.optional(s.array(s.any(), { maxItems: 10_000 })),
    split: s.optional(s.integer({ min: 1, max: 10_000 })),
    reduce: s.optional(s.string({ enum: ['handler', 'list'] as const, description: "'handler': the handler's own reduce (default with split); 'list': the results in order (default with inputs)" })),
    retries: s.optional(s.integer({ min: 0, max: 100 })),
    timeoutMs: s.optional(s.integer({ min: 100, max: 7 * 24 * 3_600_000 })),
    priority: s.optional(s.integer({ min: -1000, max: 1000 })),
    chunk: s.optional(s.integer({ min: 1, max: 10_000, description: 'subtasks per lease (one lease and one result record per chunk); default: sized from the members and their slots, about 4 chunks per slot' }))
  }),
  result: s.object({ jobId: JOB_ID }),
  errors: [{ code: RpcErrorCode.INVALID_PARAMS, message: 'a bad spec (the field is named), or no live member runs the handler' }],
  handler: async (p, ctx, { trace }) => await ctx.node.tasks.submit(p, { trace })
})

export const taskStatus = define({
  name: 'task.status',
  description: "A job's state, counts per subtask state, progress per member, attempts, lost workers and errors.",
  params: s.object({ jobId: JOB_ID }),
  result: STATUS,
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  handler: (p, ctx) => ctx.node.tasks.status(p.jobId)
})

export const taskResult = define({
  name: 'task.result',
  description: "A finished job's result (or its error). With `wait`, waits until it finishes (up to `timeoutMs`, default 10 min).",
  params: s.object({ jobId: JOB_ID, wait: s.optional(s.boolean()), timeoutMs: s.optional(s.integer({ min: 1, max: 24 * 3_600_000 })) }),
  result: s.object({ jobId: JOB_ID, state: STATE, result: s.optional(s.any()), error: s.optional(s.string()), finishedBy: PEER_ID }),
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }, { code: RpcErrorCode.UNAVAILABLE, message: 'not finished (without wait, or the wait ran out)' }],
  timeoutMs: 24 * 3_600_000,
  handler: async (p, ctx, { signal }) => {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(p.timeoutMs ?? 600_000)])
    const final = await ctx.node.tasks.result(p.jobId, { wait: p.wait === true, signal: deadline })
    return { jobId: p.jobId, state: final.state, ...(final.result !== undefined ? { result: final.result } : {}), ...(final.error !== undefined ? { error: final.error } : {}), finishedBy: final.by }
  }
})

export const taskList = define({
  name: 'task.list',
  description: 'Every job this node knows of, newest first.',
  params: s.object({}),
  result: s.array(s.object({ jobId: JOB_ID, handler: s.string(), subtasks: s.integer({ min: 0 }), state: STATE, submittedAt: s.integer({ min: 0 }), submittedBy: PEER_ID })),
  handler: (_p, ctx) => ctx.node.tasks.list()
})

export const taskCancel = define({
  name: 'task.cancel',
  description: 'Cancels a job swarm-wide: pending subtasks never start, running ones are stopped, the job ends cancelled.',
  params: s.object({ jobId: JOB_ID }),
  result: s.object({ jobId: JOB_ID, state: s.string() }),
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  handler: async (p, ctx) => await ctx.node.tasks.cancel(p.jobId)
})

export const taskWatch = subscription({
  name: 'task.watch',
  description: "WebSocket only. The job's status now and after each change (at most 5 a second) until it ends.",
  params: s.object({ jobId: JOB_ID }),
  notification: STATUS,
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  subscribe: async (p, ctx, sink, { signal }) => {
    for await (const status of ctx.node.tasks.watch(p.jobId, signal)) {
      if (!sink.send(status)) return
    }
  }
})
