/** task.* methods: distributed jobs (docs/protocols/tasks.md). */
import { JOB_ID as JOB_ID_SCHEMA, SUBMIT_PARAMS } from '@shoal/core'
import { Type } from '../schema.js'
import { methodsFor } from '../method-table.js'
import { RpcErrorCode } from '../errors.js'
import { subscriptionsFor } from '../subscription.js'
import type { RpcContext } from './context.js'
import { PEER_ID, WRITE_REFUSED } from './schemas.js'

const define = methodsFor<RpcContext>()
const subscription = subscriptionsFor<RpcContext>()

const JOB_ID = { ...JOB_ID_SCHEMA, description: 'a job id from task.submit' }
const STATE = Type.Enum(['pending', 'running', 'done', 'failed', 'cancelled'])
const STATUS = Type.Object({
  jobId: JOB_ID,
  handler: Type.String(),
  state: STATE,
  subtasks: Type.Integer({ minimum: 0 }),
  counts: Type.Object({ pending: Type.Integer({ minimum: 0 }), running: Type.Integer({ minimum: 0 }), done: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  perMember: Type.Record(Type.String(), Type.Object({ running: Type.Integer({ minimum: 0 }), done: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), { description: 'subtasks running and done per member' }),
  attempts: Type.Integer({ minimum: 0 }),
  lostWorkers: Type.Integer({ minimum: 0, description: 'subtasks taken over because their worker died or its lease expired' }),
  errors: Type.Array(Type.Object({
    index: Type.Integer({ minimum: 0 }),
    error: Type.String(),
    attempt: Type.Integer({ minimum: 1, description: 'the attempt that failed (1-based)' }),
    retryAt: Type.Optional(Type.Integer({ minimum: 0, description: 'when the retry is due (ms since the epoch); absent when the subtask gave up' }))
  }, { additionalProperties: false }), { description: "per subtask, its final error or else its latest handler error" }),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.String())
}, { additionalProperties: true })

export const taskSubmit = define({
  name: 'task.submit',
  description: 'Submits a job. Give `inputs` (one subtask each), or `input` with `split: N` (the handler splits it), or `input` alone (one subtask). Built-in handlers: primes, wordcount, hash, sleep; module handlers from config; exec:<name> when enabled. The job record is on two nodes before this returns.',
  params: SUBMIT_PARAMS,
  result: Type.Object({ jobId: JOB_ID }, { additionalProperties: false }),
  errors: [{ code: RpcErrorCode.INVALID_PARAMS, message: 'a bad spec (the field is named), or no live member runs the handler' }, WRITE_REFUSED],
  handler: async (p, ctx, { trace }) => await ctx.node.tasks.submit(p, { trace })
})

export const taskStatus = define({
  name: 'task.status',
  description: "A job's state, counts per subtask state, progress per member, attempts, lost workers and errors.",
  params: Type.Object({ jobId: JOB_ID }, { additionalProperties: false }),
  result: STATUS,
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  handler: (p, ctx) => ctx.node.tasks.status(p.jobId)
})

export const taskResult = define({
  name: 'task.result',
  description: "A finished job's result (or its error). With `wait`, waits until it finishes (up to `timeoutMs`, default 10 min).",
  params: Type.Object({ jobId: JOB_ID, wait: Type.Optional(Type.Boolean()), timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 3_600_000 })) }, { additionalProperties: false }),
  result: Type.Object({ jobId: JOB_ID, state: STATE, result: Type.Optional(Type.Unknown()), error: Type.Optional(Type.String()), finishedBy: PEER_ID }, { additionalProperties: false }),
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
  params: Type.Object({}, { additionalProperties: false }),
  result: Type.Array(Type.Object({ jobId: JOB_ID, handler: Type.String(), subtasks: Type.Integer({ minimum: 0 }), state: STATE, submittedAt: Type.Integer({ minimum: 0 }), submittedBy: PEER_ID }, { additionalProperties: false })),
  handler: (_p, ctx) => ctx.node.tasks.list()
})

export const taskCancel = define({
  name: 'task.cancel',
  description: 'Cancels a job swarm-wide: pending subtasks never start, running ones are stopped, the job ends cancelled.',
  params: Type.Object({ jobId: JOB_ID }, { additionalProperties: false }),
  result: Type.Object({ jobId: JOB_ID, state: Type.String() }, { additionalProperties: false }),
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  handler: async (p, ctx) => await ctx.node.tasks.cancel(p.jobId)
})

export const taskWatch = subscription({
  name: 'task.watch',
  description: "WebSocket only. The job's status now and after each change (at most 5 a second) until it ends.",
  params: Type.Object({ jobId: JOB_ID }, { additionalProperties: false }),
  notification: STATUS,
  errors: [{ code: RpcErrorCode.NOT_FOUND, message: 'no such job' }],
  subscribe: async (p, ctx, sink, { signal }) => {
    for await (const status of ctx.node.tasks.watch(p.jobId, signal)) {
      if (!sink.send(status)) return
    }
  }
})
