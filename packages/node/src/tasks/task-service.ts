/**
 * Runs distributed jobs (docs/protocols/tasks.md) with no scheduler node: every node keeps a view of each job
 * from the replicated KV store, asks core's pure `decide` what to do on every tick and change, and performs it:
 * claiming and running subtasks, renewing leases, recording results and errors, and (on the job's finisher)
 * reducing and writing the final state. Job state is only ever what the KV store says.
 */
import { randomBytes } from 'node:crypto'
import {
  JOB_PREFIX, HandlerCosts, chunkSize, countedDone, unitCount, unitResults, NotFoundError, RankMemo, UnavailableError, constants, InvalidInputError, cancelKey, collectable, decide, finalKey, finisherOf, handlerCapability, jobKey, jobStatus, leaseHoldMs, leaseKey, parseJobKey, validateJobRecord, validateSubmit
} from '@shoal/core'
import type { Clock, Final, HandlerCost, JobRecord, JobStatus, JobView, Logger, TaskAction, TaskMember, TasksConfig, TimerHandle } from '@shoal/core'
import type { EventBus } from '../events.js'
import type { KvService } from '../kv/kv-service.js'
import type { MembershipService } from '../membership-service.js'
import type { HandlerRegistry } from './handlers/index.js'
import { RepeatingTasks, SerialQueue, Waiters } from '../tasks.js'
import { absorbRecord } from './job-views.js'
import { noopTracing } from '../tracing.js'
import type { TraceSpan, Tracing } from '../tracing.js'
import { workOnSubtask } from './subtask-work.js'
import { ResultFlow } from './result-flow.js'
import type { ResultTransport } from './result-stream.js'
import type { SubtaskOutcome } from './subtask-work.js'

/**
 * How often every job is looked at even without news (lease expiry and timeouts need a clock, not a change),
 * while there is a job to look at: an idle node does not tick.
 */
const TICK_MS = 250
/**
 * How often finished jobs are checked against tasks.retentionMs: at most a minute (retention is measured in
 * hours), at least a second; each check looks only at finished views.
 */
const collectIntervalMs = (retentionMs: number): number => Math.max(1000, Math.min(60_000, Math.floor(retentionMs / 4)))

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
  /**
   * The result stream to finishers (/shoal/<swarm>/task-results/1.0.0). Without it a result another node
   * finishes is written as a replicated done record (results of jobs this node finishes stay in memory until their
   * checkpoint or final state either way).
   */
  results?: ResultTransport
}

export interface TaskServiceInit {
  config: TasksConfig
}

/**
 * Runs a handler's validate or split at submit; whatever it throws becomes an InvalidInputError (-32602) whose
 * message starts with `where` (and whose field, for a built-in's own error, is `where`.field).
 */
function refuseAtSubmit<T> (where: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    const message = (err as Error)?.message ?? String(err)
    const inner = err instanceof InvalidInputError && typeof err.data?.field === 'string' ? err.data.field : undefined
    const field = inner === undefined || inner === 'input' ? where : where === 'input' ? inner : `${where}.${inner}`
    throw new InvalidInputError(where === 'input' ? message : `${where}: ${message}`, { ...(err instanceof InvalidInputError ? err.data : {}), field })
  }
}

/**
 * Jobs remembered as having records ahead of their job record (TaskService `ahead`). Records of collected jobs
 * that come late are such records too, and their job record never comes: past this many, every new job's keys are
 * listed (as before the set existed) rather than risk skipping the list for one that needs it.
 */
const MAX_JOBS_AHEAD = 4096

export interface JobSummary { jobId: string, handler: string, subtasks: number, state: JobStatus['state'], submittedAt: number, submittedBy: string }

/** A run of one chunk here; `leasePending` until its lease write has landed in the local replica (or failed). */
interface Running { controller: AbortController, token: number, leasePending: boolean }

/** A final-state write in flight or failed: another is not started before `retryAt`. */
interface Finishing { inFlight: boolean, retryAt: number }

export class TaskService {
  private readonly log: Logger
  private readonly views = new Map<string, JobView>()
  /** jobId -> subtask index -> the run. */
  private readonly running = new Map<string, Map<number, Running>>()
  private runningTotal = 0
  private readonly finishing = new Map<string, Finishing>()
  private readonly collecting = new Set<string>()
  private readonly ranks = new RankMemo()
  /** What a subtask of each handler cost here: sizes the chunks of jobs submitted here (decisions/0018). */
  private readonly costs = new HandlerCosts()
  private tickScheduled = false
  private tickTimer: TimerHandle | undefined
  private readonly queue = new SerialQueue()
  private readonly changes = new Waiters()
  /**
   * Jobs some of whose records came here before their job record (absorb could not place them): once the job
   * record comes, they are read back with one list of the job's keys. Other jobs need no list. Bounded: past
   * MAX_JOBS_AHEAD the set is given up and every new job is listed from then on (`listEveryNewJob`), as before.
   */
  private readonly ahead = new Set<string>()
  private listEveryNewJob = false
  private tasks!: RepeatingTasks
  private unsubscribe?: () => void
  private active = false
  private readonly tracing: Tracing
  private readonly flow: ResultFlow

  constructor (private readonly components: TaskServiceComponents, private readonly init: TaskServiceInit) {
    this.log = components.logger.child({ component: 'shoal:node:tasks' })
    this.tracing = components.tracing ?? noopTracing
    this.flow = new ResultFlow({
      clock: components.clock,
      logger: this.log,
      kv: components.kv,
      ...(components.results !== undefined ? { transport: components.results } : {}),
      self: components.self,
      view: jobId => this.views.get(jobId),
      known: async (jobId, signal) => {
        for (;;) {
          const view = this.views.get(jobId)
          if (view !== undefined || signal.aborted) return view
          await this.changes.next(signal)
        }
      },
      finisher: jobId => finisherOf(jobId, this.finisherMembers(), this.ranks.rank, this.views.get(jobId)?.job.submittedBy),
      absorb: (key, value) => { this.absorb(key, value) },
      changed: () => { this.changes.wake(); this.scheduleTick() }
    })
  }

  async start (): Promise<void> {
    if (this.active) return
    this.active = true
    this.unsubscribe = this.components.events.on('kv:changed', change => {
      if (!change.key.startsWith(JOB_PREFIX)) return
      // A record of a job already known, with its value in the change: folded in at once (changes come in commit
      // order), without reading it back from the store. Job records themselves, records of jobs not known here
      // (orphans, or records ahead of their job record) and changes without a value go through refresh().
      const parsed = parseJobKey(change.key)
      const carried = change.tombstone || 'value' in change
      if (carried && parsed !== undefined && parsed.kind !== 'job' && this.views.has(parsed.jobId)) {
        this.absorb(change.key, change.tombstone ? undefined : change.value)
        this.scheduleTick()
        return
      }
      const value = carried ? { value: change.tombstone ? undefined : change.value } : undefined
      void this.queue.run(async () => { await this.refresh(change.key, value) }).then(() => { this.scheduleTick() })
    })
    for (let cursor: string | undefined; ;) {
      const page = await this.components.kv.list({ prefix: JOB_PREFIX, cursor, limit: 1000 })
      for (const r of page.records) this.absorb(r.key, r.value)
      if (page.next === undefined) break
      cursor = page.next
    }
    await this.flow.start()
    this.tasks = new RepeatingTasks(this.components.clock, this.log)
    this.armTick()
    this.tasks.every(collectIntervalMs(this.init.config.retentionMs), async () => { await this.collectFinished() })
  }

  async stop (): Promise<void> {
    if (!this.active) return
    this.active = false
    this.tasks.stop()
    this.tickTimer?.cancel()
    this.tickTimer = undefined
    this.unsubscribe?.()
    for (const job of this.running.values()) for (const r of job.values()) r.controller.abort()
    this.changes.wake()
    await this.flow.stop()
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
    else inputs = refuseAtSubmit('input', () => handler.split!(spec.input, spec.split))
    // Each subtask's input is checked here when this node runs the handler: bad input fails the submit at once
    // (-32602 naming the field) instead of a worker's retries. A node without the handler cannot check.
    if (handler?.validate !== undefined) {
      const path = (i: number): string => spec.kind === 'list' ? `inputs[${i}]` : spec.kind === 'split' ? `split part ${i}` : 'input'
      inputs.forEach((input, i) => { refuseAtSubmit(path(i), () => handler.validate!(input)) })
    }
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
      // One lease and one result record per chunk of subtasks (docs/decisions/0006-chunked-job-leases.md).
      chunk: spec.chunk ?? chunkSize(inputs.length, this.members(), spec.handler, this.handlerCost(spec.handler)),
      ...(span.traceparent !== undefined ? { trace: span.traceparent } : {})
    })
    span.setAttributes({ 'shoal.job': job.id, 'shoal.handler': job.handler, 'shoal.subtasks': inputs.length, 'shoal.chunk': job.chunk ?? 1 })
    // On two nodes before we answer: the job outlives the node it was submitted to.
    const acks = Math.min(2, this.members().length)
    await this.components.kv.put(jobKey(job.id), job, { system: true, acks, trace: span.traceparent })
    this.absorb(jobKey(job.id), job)
    this.scheduleTick()
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
      // Read before the status, so that a change while the consumer holds it (the job's end, say) is not missed.
      const seen = this.changes.generation
      const status = this.status(jobId)
      yield status
      if (['done', 'failed', 'cancelled'].includes(status.state) || signal.aborted) return
      await this.changes.after(seen, signal)
      await new Promise(resolve => setTimeout(resolve, minIntervalMs))
    }
  }

  private view (jobId: string): JobView {
    const view = this.views.get(jobId)
    if (view === undefined) throw new NotFoundError(`no job ${jobId}`, { jobId })
    return view
  }

  /** Alive and suspect members: a suspect finisher stays the finisher until declared dead (DecideContext). */
  private finisherMembers (): TaskMember[] {
    return this.components.membership.members()
      .filter(m => m.state === 'alive' || m.state === 'suspect')
      .map(m => ({ id: m.id, capabilities: m.capabilities }))
  }

  private members (): TaskMember[] {
    return this.components.membership.members()
      .filter(m => m.state === 'alive')
      .map(m => ({ id: m.id, capabilities: m.capabilities }))
  }

  /**
   * Folds one job record into the views: its value as of the change that announced it (`carried`; changes come in
   * commit order and so do these calls), else read back from the replica.
   */
  private async refresh (key: string, carried?: { value: unknown }): Promise<void> {
    const parsed = parseJobKey(key)
    const isNew = parsed?.kind === 'job' && !this.views.has(parsed.jobId)
    let value = carried?.value
    if (carried === undefined) {
      const record = await this.components.kv.record(key)
      value = record === undefined || record.tombstone ? undefined : record.value
    }
    this.absorb(key, value)
    if (parsed !== undefined && parsed.kind !== 'job' && value !== undefined && !this.views.has(parsed.jobId)) {
      this.setAside(parsed.jobId)
      await this.sweepOrphan(parsed.jobId, key)
    }
    // A job's other records (leases, results, even its final state) may have arrived before the job record
    // itself, and were set aside; now that the job is known, read them all.
    if (isNew && parsed !== undefined && this.views.has(parsed.jobId) && (this.listEveryNewJob || this.ahead.delete(parsed.jobId))) {
      for (let cursor: string | undefined; ;) {
        const page = await this.components.kv.list({ prefix: `${jobKey(parsed.jobId)}/`, cursor, limit: 1000 })
        for (const r of page.records) this.absorb(r.key, r.value)
        if (page.next === undefined) break
        cursor = page.next
      }
    }
  }

  /** Remembers that a record of `jobId` came before its job record (see `ahead`). */
  private setAside (jobId: string): void {
    if (this.ahead.has(jobId)) return
    if (this.ahead.size >= MAX_JOBS_AHEAD) {
      this.listEveryNewJob = true
      this.ahead.clear()
      return
    }
    this.ahead.add(jobId)
  }

  /**
   * A record of a job this node does not know: either its job record is still on its way (keep waiting), or the
   * job was collected (its job record is a tombstone) and this record outlived it, written late by a worker or
   * left by a finisher that died while collecting. The job's finisher deletes such leftovers.
   */
  private async sweepOrphan (jobId: string, key: string): Promise<void> {
    if (finisherOf(jobId, this.members(), this.ranks.rank) !== this.components.self) return
    const job = await this.components.kv.record(jobKey(jobId))
    if (job?.tombstone === true) await this.components.kv.delete(key, { system: true }).catch(() => {})
  }

  /** Puts one record into its job's view; records that fail validation are ignored (and logged). */
  private absorb (key: string, value: unknown): void {
    try {
      const parsed = parseJobKey(key)
      if (parsed?.kind === 'ckpt' && parsed.by === this.components.self && value !== undefined) this.flow.ownCheckpoint(parsed.jobId, parsed.index!)
      if (absorbRecord(this.views, key, value, (jobId, unit, token, by) => { this.flow.covered(jobId, unit, token, by) })) this.changes.wake()
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'ignored an invalid job record')
    }
  }

  /**
   * Runs one decision round soon, once however many changes ask for it in the meantime (a burst of kv:changed
   * from replication costs one round, not one per record).
   */
  private scheduleTick (): void {
    if (this.tickScheduled || !this.active) return
    this.tickScheduled = true
    setImmediate(() => {
      this.tickScheduled = false
      this.tick()
    })
  }

  /** One decision round over every job that is not over (or that this node still runs subtasks of). */
  private tick (): void {
    if (!this.active) return
    try {
      const jobs = [...this.views.values()]
        .filter(v => v.final === undefined || this.running.has(v.job.id))
        .sort((a, b) => b.job.priority - a.job.priority || a.job.submittedAt - b.job.submittedAt)
      if (jobs.length > 0) this.decideAll(jobs)
      this.flow.round(jobId => this.finishing.get(jobId)?.inFlight === true)
    } finally {
      this.armTick()
    }
  }

  /**
   * Arms the periodic tick while a round could do anything without news: a job not final, a subtask running
   * here, or results waiting for a checkpoint or a resend. Every change runs a tick (`scheduleTick`), which
   * re-arms it, so a job that arrives wakes the node and a node with no job sleeps.
   */
  private armTick (): void {
    if (!this.active || this.tickTimer !== undefined) return
    let busy = this.runningTotal > 0 || !this.flow.idle
    if (!busy) for (const v of this.views.values()) if (v.final === undefined) { busy = true; break }
    if (!busy) return
    this.tickTimer = this.components.clock.setTimer(() => {
      this.tickTimer = undefined
      // As the fixed-period tick did: a round that throws is logged, and the next one still comes.
      try { this.tick() } catch (err) { this.log.debug({ err: (err as Error).message }, 'task tick failed') }
    }, TICK_MS)
  }

  /** One decision round over the jobs not yet final (membership is read only when there is one: idle ticks are cheap). */
  private decideAll (jobs: JobView[]): void {
    const now = this.components.clock.now()
    const members = this.members()
    const finisherMembers = this.finisherMembers()
    for (const view of jobs) {
      const running = new Map<number, number>()
      for (const [index, r] of this.running.get(view.job.id) ?? []) running.set(index, r.token)
      const actions = decide(view, {
        self: this.components.self,
        now,
        members,
        finisherMembers,
        freeSlots: Math.max(0, this.slots() - this.runningTotal),
        running,
        leaseMs: this.init.config.leaseMs,
        ranker: this.ranks.rank
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
        let job = this.running.get(jobId)
        if (job === undefined) this.running.set(jobId, job = new Map())
        job.set(action.index, { controller: new AbortController(), token: action.lease.token, leasePending: true })
        this.runningTotal++
        const hold = leaseHoldMs(view.job, this.components.self, action.lease, this.components.clock.now(), this.init.config.leaseMs, this.handlerCost(view.job.handler))
        void this.runSubtask(view, action.index, action.lease.token, action.lease.attempt, hold)
        break
      }
      case 'renew':
        view.leases.set(action.index, action.lease)
        this.write(leaseKey(jobId, action.index, action.lease.token), action.lease)
        break
      case 'abort': {
        const run = this.running.get(jobId)?.get(action.index)
        // A rival's lease under our own token, seen before our own lease write landed here: the KV's
        // last-writer-wins has not chosen yet. If ours wins, its change puts it back in the view; aborting now
        // would leave a lease that nobody runs until it expires (seen: 10 s stalls with 3 daemons). Decided again
        // once our write has landed (runSubtask's onLeased schedules a round).
        if (action.reason === 'lost-lease' && run?.leasePending === true && view.leases.get(action.index)?.token === run.token) break
        run?.controller.abort()
        this.forget(jobId, action.index)
        break
      }
      case 'reduce':
        if (this.mayFinish(jobId)) this.writeFinal(view, this.reduced(view))
        break
      case 'finish':
        if (this.mayFinish(jobId)) this.writeFinal(view, action.final)
        break
    }
  }

  private forget (jobId: string, index: number, run?: Running): void {
    const job = this.running.get(jobId)
    const r = job?.get(index)
    if (job === undefined || r === undefined || (run !== undefined && r !== run)) return
    job.delete(index)
    this.runningTotal--
    if (job.size === 0) this.running.delete(jobId)
  }

  private async runSubtask (view: JobView, index: number, token: number, attempt: number, holdLeaseMs: number): Promise<void> {
    const jobId = view.job.id
    const run = this.running.get(jobId)!.get(index)!
    const started = performance.now()
    let outcome: SubtaskOutcome = 'aborted'
    try {
      outcome = await workOnSubtask({
        ...this.components,
        logger: this.log,
        tracing: this.tracing,
        active: () => this.active,
        absorb: (key, value) => { this.absorb(key, value) },
        deliver: async (v, unit, done) => await this.flow.deliver(v, unit, done),
        observe: (handler, wallMs, subtasks) => { this.costs.record(handler, wallMs, subtasks) }
      }, { view, index, token, attempt, signal: run.controller.signal, holdLeaseMs, onLeased: () => { run.leasePending = false; this.scheduleTick() } })
    } finally {
      this.forget(jobId, index, run)
      this.components.events.emit('subtask:finished', { jobId, index, outcome, durationMs: performance.now() - started })
      this.scheduleTick()
    }
  }

  /** The job's result from its counted subtask results (decide asked for a reduce: all are done). */
  private reduced (view: JobView): Final {
    const at = this.components.clock.now()
    const by = this.components.self
    try {
      // Exactly the counted result of each unit, in order (decide asked for a reduce: every unit has one).
      const results: unknown[] = []
      for (let unit = 0, units = unitCount(view.job); unit < units; unit++) {
        const done = countedDone(view, unit)
        if (done === undefined) throw new Error(`chunk ${unit} has no result`)
        results.push(...unitResults(view.job, unit, done))
      }
      const handler = this.components.handlers.get(view.job.handler)
      const result = view.job.reduce === null ? results : handler?.reduce !== undefined ? handler.reduce(results) : results.length === 1 ? results[0] : results
      return { state: 'done', result, by, at }
    } catch (err) {
      return { state: 'failed', error: `reduce failed: ${(err as Error).message}`, by, at }
    }
  }

  /** Whether this node may start writing the job's final state now: none in flight, and a failed one is due again. */
  private mayFinish (jobId: string): boolean {
    const f = this.finishing.get(jobId)
    return f === undefined || (!f.inFlight && this.components.clock.now() >= f.retryAt)
  }

  /**
   * Writes the job's final state. The view takes it only once the write succeeded: a failed write (disk full, a
   * store error) leaves the job unfinished here, so decide() asks again on a later round and the write is retried
   * every TASK_FINAL_RETRY_MS until it sticks (issue 9, kind 10).
   */
  private writeFinal (view: JobView, final: Final): void {
    const jobId = view.job.id
    this.finishing.set(jobId, { inFlight: true, retryAt: Infinity })
    this.components.kv.put(finalKey(jobId), final, { system: true, trace: view.job.trace }).then(() => {
      this.finishing.delete(jobId)
      if (view.final === undefined) view.final = final
      this.changes.wake()
      this.components.events.emit('job:finished', { jobId, state: final.state })
      this.scheduleTick()
    }, (err: Error) => {
      this.finishing.set(jobId, { inFlight: false, retryAt: this.components.clock.now() + constants.TASK_FINAL_RETRY_MS })
      this.log.warn({ jobId, err: err.message }, 'could not write a job\'s final state; will retry')
    })
  }

  private write (key: string, value: unknown): void {
    this.components.kv.put(key, value, { system: true }).catch(err => { this.log.warn({ key, err: (err as Error).message }, 'could not write a job record') })
  }

  /**
   * Deletes the records of jobs finished more than tasks.retentionMs ago, on the job's finisher (core finisherOf:
   * its submitter while a member, else the first of rank(jobId, alive members)). The job record goes first, so
   * every node drops the job's view as soon as that deletion reaches it; then the job's other records. A finisher that dies midway leaves the rest to its
   * successor (which sees a job view still present only if the job record survived; records left behind after
   * the job record's deletion are swept by whoever is the finisher when they are next seen, see absorb).
   */
  private async collectFinished (): Promise<void> {
    const now = this.components.clock.now()
    const members = this.members()
    for (const view of [...this.views.values()]) {
      if (!collectable(view, now, this.init.config.retentionMs) || this.running.has(view.job.id)) continue
      if (finisherOf(view.job.id, members, this.ranks.rank, view.job.submittedBy) !== this.components.self) continue
      await this.collect(view.job.id)
    }
  }

  private async collect (jobId: string): Promise<void> {
    if (this.collecting.has(jobId)) return
    this.collecting.add(jobId)
    try {
      await this.components.kv.delete(jobKey(jobId), { system: true })
      this.views.delete(jobId)
      this.finishing.delete(jobId)
      for (let cursor: string | undefined; ;) {
        const page = await this.components.kv.list({ prefix: `${jobKey(jobId)}/`, cursor, limit: 1000 })
        for (const r of page.records) if (r.tombstone !== true) await this.components.kv.delete(r.key, { system: true })
        if (page.next === undefined) break
        cursor = page.next
      }
      this.log.debug({ jobId }, 'collected a finished job')
      this.components.events.emit('job:collected', { jobId })
    } catch (err) {
      this.log.warn({ jobId, err: (err as Error).message }, 'could not collect a finished job; will retry')
    } finally {
      this.collecting.delete(jobId)
    }
  }

  /** Subtasks running on this node now. */
  runningCount (): number {
    return this.runningTotal
  }

  private slots (): number {
    return this.init.config.slots
  }

  /** What this node measured of a handler it runs (undefined before its first chunk here, or without the handler). */
  private handlerCost (handler: string): HandlerCost | undefined {
    const msPerSubtask = this.costs.msPerSubtask(handler)
    if (msPerSubtask === undefined || this.components.handlers.get(handler) === undefined) return undefined
    return { msPerSubtask, localSlots: this.slots() }
  }
}
