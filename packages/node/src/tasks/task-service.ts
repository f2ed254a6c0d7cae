/**
 * Runs distributed jobs (docs/protocols/tasks.md) with no scheduler node: every node keeps a view of each job
 * from the replicated KV store, asks core's pure `decide` what to do on every tick and change, and performs it:
 * claiming and running subtasks, renewing leases, recording results and errors, and (on the job's finisher)
 * reducing and writing the final state. Job state is only ever what the KV store says.
 */
import { randomBytes } from 'node:crypto'
import {
  JOB_PREFIX, NotFoundError, UnavailableError, InvalidInputError, cancelKey, decide, finalKey, handlerCapability, jobKey, jobStatus, leaseKey, parseJobKey, validateJobRecord, validateSubmit
} from '@shoal/core'
import type { Clock, Final, JobRecord, JobStatus, JobView, Logger, TaskAction, TaskMember, TasksConfig } from '@shoal/core'
import type { EventBus } from '../events.js'
import type { KvService } from '../kv/kv-service.js'
import type { MembershipService } from '../membership-service.js'
import type { HandlerRegistry } from './handlers/index.js'
import { RepeatingTasks, SerialQueue, Waiters } from '../tasks.js'
import { absorbRecord } from './job-views.js'
import { noopTracing } from '../tracing.js'
import type { TraceSpan, Tracing } from '../tracing.js'
import { workOnSubtask } from './subtask-work.js'
import type { SubtaskOutcome } from './subtask-work.js'

/** How often every job is looked at even without news (lease expiry and timeouts need a clock, not a change). */
const TICK_MS = 250

export interface TaskServiceComponents {
  clock: Clock
  logger: Logger
  events: EventBus
  kv: KvService
  membership: MembershipService
  handlers: HandlerRegistry
  self: string
  /** Spans `task.submit` and the subtask steps; none without. */
  tracing?: Tracing
}

export interface TaskServiceInit {
  config: TasksConfig
}

export interface JobSummary { jobId: string, handler: string, subtasks: number, state: JobStatus['state'], submittedAt: number, submittedBy: string }

interface Running { controller: AbortController, token: number }

export class TaskService {
  private readonly log: Logger
  private readonly views = new Map<string, JobView>()
  private readonly running = new Map<string, Running>()
  private readonly queue = new SerialQueue()
  private readonly changes = new Waiters()
  private tasks!: RepeatingTasks
  private unsubscribe?: () => void
  private active = false
  private readonly tracing: Tracing

  constructor (private readonly components: TaskServiceComponents, private readonly init: TaskServiceInit) {
    this.log = components.logger.child({ component: 'shoal:node:tasks' })
    this.tracing = components.tracing ?? noopTracing
  }

  async start (): Promise<void> {
    if (this.active) return
    this.active = true
    this.unsubscribe = this.components.events.on('kv:changed', ({ key }) => {
      if (key.startsWith(JOB_PREFIX)) void this.queue.run(async () => { await this.refresh(key) }).then(() => { this.tick() })
    })
    for (let cursor: string | undefined; ;) {
      const page = await this.components.kv.list({ prefix: JOB_PREFIX, cursor, limit: 1000 })
      for (const r of page.records) this.absorb(r.key, r.value)
      if (page.next === undefined) break
      cursor = page.next
    }
    this.tasks = new RepeatingTasks(this.components.clock, this.log)
    this.tasks.every(TICK_MS, async () => { this.tick() })
  }

  async stop (): Promise<void> {
    if (!this.active) return
    this.active = false
    this.tasks.stop()
    this.unsubscribe?.()
    for (const r of this.running.values()) r.controller.abort()
    this.changes.wake()
    await this.queue.idle()
  }

  /**
   * A `task.submit` span, child of `opts.trace` (the RPC call's span) when given; the job record carries its
   * context, so every node's subtask spans join this one trace.
   */
  async submit (params: unknown, opts: { trace?: string } = {}): Promise<{ jobId: string }> {
    return await this.tracing.run('task.submit', { parent: opts.trace }, async span => await this.submitJob(params, span))
  }

  private async submitJob (params: unknown, span: TraceSpan): Promise<{ jobId: string }> {
    const spec = validateSubmit(params)
    const handler = this.components.handlers.get(spec.handler)
    if (!this.members().some(m => m.capabilities.includes(handlerCapability(spec.handler)))) {
      const hint = spec.handler.startsWith('exec') ? ' (exec handlers run only where tasks.exec is enabled and the command is allowlisted)' : ''
      throw new InvalidInputError(`no live member runs handler '${spec.handler}'${hint}`, { field: 'handler' })
    }
    let inputs: unknown[]
    if (spec.kind === 'list') inputs = spec.inputs
    else if (spec.kind === 'single') inputs = [spec.input]
    else if (handler?.split === undefined) throw new InvalidInputError(`handler '${spec.handler}' cannot split its input on this node; pass explicit inputs`, { field: 'split' })
    else inputs = handler.split(spec.input, spec.split)
    const now = this.components.clock.now()
    const job: JobRecord = validateJobRecord({
      v: 1,
      id: randomBytes(16).toString('hex'),
      handler: spec.handler,
      inputs,
      // An explicit list gives the list of results; a split (or a single input) the handler's own reduce.
      reduce: (spec.reduce ?? (spec.kind === 'list' ? 'list' : 'handler')) === 'list' ? null : 'handler',
      retries: spec.retries,
      timeoutMs: spec.timeoutMs,
      priority: spec.priority,
      submittedBy: this.components.self,
      submittedAt: now,
      ...(span.traceparent !== undefined ? { trace: span.traceparent } : {})
    })
    span.setAttributes({ 'shoal.job': job.id, 'shoal.handler': job.handler, 'shoal.subtasks': inputs.length })
    // On two nodes before we answer: the job outlives the node it was submitted to.
    const acks = Math.min(2, this.members().length)
    await this.components.kv.put(jobKey(job.id), job, { system: true, acks, trace: span.traceparent })
    this.absorb(jobKey(job.id), job)
    this.tick()
    return { jobId: job.id }
  }

  status (jobId: string): JobStatus & { jobId: string, handler: string } {
    const view = this.view(jobId)
    return { jobId, handler: view.job.handler, ...jobStatus(view, this.components.clock.now(), this.members()) }
  }

  /** The final result; with `wait`, blocks until the job ends or `signal` aborts. */
  async result (jobId: string, opts: { wait: boolean, signal: AbortSignal }): Promise<Final> {
    for (;;) {
      // With `wait`, a job not yet known here is waited for too: its record may still be on its way (the node
      // it was submitted to may even have died right after two nodes stored it).
      const view = opts.wait ? this.views.get(jobId) : this.view(jobId)
      if (view?.final !== undefined) return view.final
      if (!opts.wait) throw new UnavailableError(`job ${jobId} has not finished (state: ${this.status(jobId).state}); pass wait: true to wait for it`, { jobId })
      if (opts.signal.aborted) {
        if (view === undefined) throw new NotFoundError(`no job ${jobId} reached this node while waiting`, { jobId })
        throw new UnavailableError(`job ${jobId} has not finished yet`, { jobId })
      }
      await this.changes.next(opts.signal)
    }
  }

  list (): JobSummary[] {
    const now = this.components.clock.now()
    const members = this.members()
    return [...this.views.values()]
      .map(v => ({ jobId: v.job.id, handler: v.job.handler, subtasks: v.job.inputs.length, state: jobStatus(v, now, members).state, submittedAt: v.job.submittedAt, submittedBy: v.job.submittedBy }))
      .sort((a, b) => b.submittedAt - a.submittedAt)
  }

  async cancel (jobId: string): Promise<{ jobId: string, state: string }> {
    const view = this.view(jobId)
    if (view.final === undefined && view.cancel === undefined) {
      await this.components.kv.put(cancelKey(jobId), { by: this.components.self, at: this.components.clock.now() }, { system: true })
    }
    return { jobId, state: view.final?.state ?? 'cancelling' }
  }

  /** Status now, then after each change to the job (at most every `minIntervalMs`), until it ends or `signal` aborts. */
  async * watch (jobId: string, signal: AbortSignal, minIntervalMs = 200): AsyncGenerator<ReturnType<TaskService['status']>> {
    for (;;) {
      const status = this.status(jobId)
      yield status
      if (['done', 'failed', 'cancelled'].includes(status.state) || signal.aborted) return
      await this.changes.next(signal)
      await new Promise(resolve => setTimeout(resolve, minIntervalMs))
    }
  }

  private view (jobId: string): JobView {
    const view = this.views.get(jobId)
    if (view === undefined) throw new NotFoundError(`no job ${jobId}`, { jobId })
    return view
  }

  private members (): TaskMember[] {
    return this.components.membership.members()
      .filter(m => m.state === 'alive')
      .map(m => ({ id: m.id, capabilities: m.capabilities }))
  }

  /** Re-reads one job record from the replica into the views. */
  private async refresh (key: string): Promise<void> {
    const record = await this.components.kv.record(key)
    const parsed = parseJobKey(key)
    const isNew = parsed?.kind === 'job' && !this.views.has(parsed.jobId)
    this.absorb(key, record === undefined || record.tombstone ? undefined : record.value)
    // A job's other records (leases, results, even its final state) may have arrived before the job record
    // itself, and were set aside; now that the job is known, read them all.
    if (isNew && parsed !== undefined && this.views.has(parsed.jobId)) {
      for (let cursor: string | undefined; ;) {
        const page = await this.components.kv.list({ prefix: `${jobKey(parsed.jobId)}/`, cursor, limit: 1000 })
        for (const r of page.records) this.absorb(r.key, r.value)
        if (page.next === undefined) break
        cursor = page.next
      }
    }
  }

  /** Puts one record into its job's view; records that fail validation are ignored (and logged). */
  private absorb (key: string, value: unknown): void {
    try {
      if (absorbRecord(this.views, key, value)) this.changes.wake()
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'ignored an invalid job record')
    }
  }

  /** One decision round over every job that is not over (or that this node still runs subtasks of). */
  private tick (): void {
    if (!this.active) return
    const now = this.components.clock.now()
    const members = this.members()
    const jobs = [...this.views.values()]
      .filter(v => v.final === undefined || this.runsAnyOf(v.job.id))
      .sort((a, b) => b.job.priority - a.job.priority || a.job.submittedAt - b.job.submittedAt)
    for (const view of jobs) {
      const running = new Set<number>()
      for (const key of this.running.keys()) if (key.startsWith(`${view.job.id}/`)) running.add(Number(key.slice(view.job.id.length + 1)))
      const actions = decide(view, {
        self: this.components.self,
        now,
        members,
        freeSlots: Math.max(0, this.slots() - this.running.size),
        running,
        leaseMs: this.init.config.leaseMs
      })
      for (const action of actions) this.perform(view, action)
    }
  }

  private perform (view: JobView, action: TaskAction): void {
    const jobId = view.job.id
    switch (action.type) {
      case 'claim': {
        const prev = view.leases.get(action.index)
        const kind = prev?.attempt === action.lease.attempt ? 'takeover' : action.lease.attempt > 1 ? 'retry' : 'first'
        this.components.events.emit('subtask:leased', { jobId, index: action.index, attempt: action.lease.attempt, kind })
        view.leases.set(action.index, action.lease)
        this.running.set(`${jobId}/${action.index}`, { controller: new AbortController(), token: action.lease.token })
        void this.runSubtask(view, action.index, action.lease.token, action.lease.attempt)
        break
      }
      case 'renew':
        view.leases.set(action.index, action.lease)
        this.write(leaseKey(jobId, action.index), action.lease)
        break
      case 'abort': {
        const r = this.running.get(`${jobId}/${action.index}`)
        r?.controller.abort()
        this.running.delete(`${jobId}/${action.index}`)
        break
      }
      case 'reduce':
        void this.reduce(view)
        break
      case 'finish':
        view.final = action.final
        this.components.events.emit('job:finished', { jobId, state: action.final.state })
        this.write(finalKey(jobId), action.final)
        break
    }
  }

  private async runSubtask (view: JobView, index: number, token: number, attempt: number): Promise<void> {
    const key = `${view.job.id}/${index}`
    const run = this.running.get(key)!
    const started = performance.now()
    let outcome: SubtaskOutcome = 'aborted'
    try {
      outcome = await workOnSubtask({ ...this.components, logger: this.log, tracing: this.tracing, active: () => this.active }, { view, index, token, attempt, signal: run.controller.signal })
    } finally {
      if (this.running.get(key) === run) this.running.delete(key)
      this.components.events.emit('subtask:finished', { jobId: view.job.id, index, outcome, durationMs: performance.now() - started })
      this.tick()
    }
  }

  private async reduce (view: JobView): Promise<void> {
    const jobId = view.job.id
    if (this.reducing.has(jobId)) return
    this.reducing.add(jobId)
    try {
      const results = view.job.inputs.map((_, i) => view.done.get(i)?.result)
      const handler = this.components.handlers.get(view.job.handler)
      const result = view.job.reduce === null ? results : handler?.reduce !== undefined ? handler.reduce(results) : results.length === 1 ? results[0] : results
      const final: Final = { state: 'done', result, by: this.components.self, at: this.components.clock.now() }
      await this.components.kv.put(finalKey(jobId), final, { system: true, trace: view.job.trace })
      this.components.events.emit('job:finished', { jobId, state: 'done' })
    } catch (err) {
      const final: Final = { state: 'failed', error: `reduce failed: ${(err as Error).message}`, by: this.components.self, at: this.components.clock.now() }
      await this.components.kv.put(finalKey(jobId), final, { system: true }).then(() => { this.components.events.emit('job:finished', { jobId, state: 'failed' }) }, () => {})
    } finally {
      this.reducing.delete(jobId)
    }
  }

  private readonly reducing = new Set<string>()

  private write (key: string, value: unknown): void {
    this.components.kv.put(key, value, { system: true }).catch(err => { this.log.warn({ key, err: (err as Error).message }, 'could not write a job record') })
  }

  private runsAnyOf (jobId: string): boolean {
    for (const key of this.running.keys()) if (key.startsWith(`${jobId}/`)) return true
    return false
  }

  /** Subtasks running on this node now. */
  runningCount (): number {
    return this.running.size
  }

  private slots (): number {
    return this.init.config.slots
  }
}
