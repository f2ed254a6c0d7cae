/**
 * Who runs what (docs/protocols/tasks.md, "Deciding who runs what"). decide() runs on every node on every tick
 * or job change and returns effects; the driver performs them (writes the lease, then runs; writes final; ...)
 * and applies its own writes to the view before the next call. Pure: `now` comes in, nothing is read.
 */
import { TASK_BACKOFF_BASE_MS, TASK_BACKOFF_MAX_MS, TASK_CHUNK_TARGET_MS, TASK_CHUNKS_PER_SLOT, TASK_MAX_ERROR_CHARS, TASK_PASS_OVER_MS } from '../constants.js'
import { rank } from './rendezvous.js'
import { handlerCapability, unitCount, unitRange } from './types.js'
import type { Done, Failure, Final, JobRecord, JobView, Lease, TaskMember } from './types.js'
import { countedDone, leaseLive, releasedByFailure } from './view.js'

/** Ranks member ids for a key (rendezvous.ts `rank`, or a memo of it: see RankMemo). */
export type Ranker = (key: string, memberIds: readonly string[]) => string[]

export interface DecideContext {
  self: string
  now: number
  /** Alive members, self included. */
  members: readonly TaskMember[]
  /**
   * Members the finisher is chosen from: alive and suspect ones (default: `members`). A suspect finisher stays
   * the finisher until it is declared dead: a node that wakes from a stall and sees the others only as suspect
   * must not make itself finisher and count its own stale result before it has heard of the newer claim.
   */
  finisherMembers?: readonly TaskMember[]
  /** Subtasks this node can start now (its own pool; it assumes others have room). */
  freeSlots: number
  /** Subtasks of this job this node runs now: index -> the fencing token it runs under. */
  running: ReadonlyMap<number, number>
  leaseMs: number
  /** Default: rank. The driver passes a memo (ranks per job and membership epoch). */
  ranker?: Ranker
}

export type TaskAction =
  | { type: 'claim', index: number, lease: Lease }
  | { type: 'renew', index: number, lease: Lease }
  | { type: 'abort', index: number, reason: 'lost-lease' | 'job-ended' }
  | { type: 'finish', final: Final }
  | { type: 'reduce' }

/**
 * What the submitting node knows of a handler's cost (handler-costs.ts): milliseconds of wall time per subtask as
 * it ran them, and the slots it runs the handler with itself.
 */
export interface HandlerCost {
  msPerSubtask: number
  localSlots: number
}

/**
 * Subtasks per chunk for a job of n subtasks, given the slots of the members that run its handler (each member's
 * `slots:<n>` capability, 1 when it does not say): ceil(n / (slots x TASK_CHUNKS_PER_SLOT)), at least 1.
 * With the handler's measured `cost`, cheap subtasks make bigger chunks: each holds TASK_CHUNK_TARGET_MS of work
 * (ceil(TASK_CHUNK_TARGET_MS / msPerSubtask) subtasks), their number rounded down to a multiple of the
 * submitter's slots and never below them (its own slots stay busy: it is the first candidate). Never smaller
 * than without a cost, never more than n.
 */
export function chunkSize (n: number, members: readonly TaskMember[], handler: string, cost?: HandlerCost): number {
  const cap = handlerCapability(handler)
  let slots = 0
  for (const m of members) if (m.capabilities.includes(cap)) slots += slotsOf(m)
  const bySlots = Math.max(1, Math.ceil(n / (Math.max(1, slots) * TASK_CHUNKS_PER_SLOT)))
  if (cost === undefined || !(cost.msPerSubtask > 0) || !(cost.localSlots >= 1) || n <= 1) return bySlots
  // Chunks of the target's worth, their number rounded down to a multiple of the submitter's slots (at least one
  // per slot), so its slots finish their rounds together instead of a short last chunk running alone.
  const perChunk = Math.ceil(TASK_CHUNK_TARGET_MS / cost.msPerSubtask)
  if (perChunk <= bySlots) return bySlots
  const local = Math.floor(cost.localSlots)
  const target = Math.ceil(n / perChunk)
  const count = Math.max(local, target - (target % local))
  return Math.min(n, Math.max(bySlots, Math.ceil(n / count)))
}

/**
 * How long the node that claims a chunk may hold back that claim's lease record, in ms (0: write it now;
 * docs/decisions/0019-held-back-submitter-leases.md). Only for a job expected to end on its submitter before
 * anyone else could take part in it: one of no more chunks than the submitter's slots (it claims them all at once,
 * so none is left for others to take), which the handler's measured `cost` here says takes at most the window
 * `min(TASK_PASS_OVER_MS, leaseMs / 3)` on those slots (n x msPerSubtask / localSlots). The submitter's first claim
 * of such a chunk (token 0) is written at `submittedAt` + window, and not at all if the job is over by then.
 * No other member claims any chunk of the job within the window anyway: the submitter is every chunk's first
 * candidate, and the others wait at least TASK_PASS_OVER_MS (when its leases show it full) or leaseMs / 2 (when
 * they show nothing) from `submittedAt`. Nor is a renewal due before leaseMs / 3. A short job then costs the swarm
 * its job record and its final state, not one replicated write per chunk as well. A job of more chunks, of unknown
 * cost, or expected to run longer, writes its leases at once, so others see at once what its submitter holds.
 * `now` and `leaseMs` in ms.
 */
export function leaseHoldMs (job: JobRecord, self: string, lease: Lease, now: number, leaseMs: number, cost?: HandlerCost): number {
  if (job.submittedBy !== self || lease.holder !== self || lease.token !== 0 || cost === undefined) return 0
  if (unitCount(job) > cost.localSlots) return 0
  const window = Math.min(TASK_PASS_OVER_MS, leaseMs / 3)
  if (!(job.inputs.length * cost.msPerSubtask / Math.max(1, cost.localSlots) <= window)) return 0
  return Math.max(0, job.submittedAt + window - now)
}

/** The slots a member advertises (`slots:<n>`), 1 when it does not say. */
export function slotsOf (member: TaskMember): number {
  const advertised = member.capabilities.find(c => c.startsWith('slots:'))
  const k = advertised === undefined ? NaN : Number(advertised.slice('slots:'.length))
  return Number.isSafeInteger(k) && k > 0 ? k : 1
}

/** Retry delay after the n-th handler error: 200 ms x 2^(n-1), at most 30 s. */
export function backoff (attempts: number): number {
  const n = Math.max(1, Math.floor(attempts))
  if (n > 20) return TASK_BACKOFF_MAX_MS
  return Math.min(TASK_BACKOFF_BASE_MS * 2 ** (n - 1), TASK_BACKOFF_MAX_MS)
}

/**
 * The member that writes the job's final state: the member the job was submitted to (`submittedBy`) while it is
 * among `members`, else rank(jobId, members)[0]. Pass `submittedBy` whenever the job record is known; without it
 * (a record of a job not seen yet) the ranking alone decides.
 */
export function finisherOf (jobId: string, members: readonly TaskMember[], ranker: Ranker = rank, submittedBy?: string): string | undefined {
  if (submittedBy !== undefined && members.some(m => m.id === submittedBy)) return submittedBy
  return ranker(jobId, members.map(m => m.id))[0]
}

/**
 * Chunk `index`'s candidates among the `capable` member ids, in order: the job's submitter first when it is one of
 * them (locality, as Ray's owner-first scheduling: its chunks need no hop to reach the finisher, which is the
 * submitter too), then the others in rendezvous order. Others take over a chunk from a submitter whose slots are
 * full after TASK_PASS_OVER_MS.
 */
function candidateOrder (job: JobRecord, index: number, capable: readonly string[], ranker: Ranker): string[] {
  const ranked = ranker(`${job.id}/${index}`, capable)
  const at = ranked.indexOf(job.submittedBy)
  return at <= 0 ? ranked : [job.submittedBy, ...ranked.slice(0, at), ...ranked.slice(at + 1)]
}

/** Ids of the alive members that run the job's handler. */
export function capableIds (view: JobView, members: readonly TaskMember[]): string[] {
  const cap = handlerCapability(view.job.handler)
  return members.filter(m => m.capabilities.includes(cap)).map(m => m.id)
}

/** Alive members that run the handler, in candidate order for chunk i (candidateOrder). */
export function candidatesFor (view: JobView, index: number, members: readonly TaskMember[], ranker: Ranker = rank): string[] {
  return candidateOrder(view.job, index, capableIds(view, members), ranker)
}

/**
 * The lowest-index poison subtask (a counted done record with an error), if any: `index` is the job-wide subtask
 * whose handler failed, `unit` its chunk.
 */
export function firstPoison (view: JobView): { index: number, unit: number, error: string } | undefined {
  let found: { index: number, unit: number, error: string } | undefined
  const units = unitCount(view.job)
  for (const unit of view.done.keys()) {
    const done = countedDone(view, unit)
    if (done?.error === undefined || unit >= units) continue
    const index = done.subtask ?? unitRange(view.job, unit)[0]
    if (found === undefined || index < found.index) found = { index, unit, error: done.error }
  }
  return found
}

export const isTimedOut = (view: JobView, now: number): boolean => now > view.job.submittedAt + view.job.timeoutMs

/** Every unit has a counted result (fencing: a stale holder's result does not count). */
export function allDone (view: JobView): boolean {
  for (let i = 0, n = unitCount(view.job); i < n; i++) {
    const done = countedDone(view, i)
    if (done === undefined || done.error !== undefined) return false
  }
  return true
}

export function decide (view: JobView, ctx: DecideContext): TaskAction[] {
  const actions: TaskAction[] = []
  const { job } = view
  const { self, now, leaseMs } = ctx
  const ended = view.final !== undefined || view.cancel !== undefined

  const running = [...ctx.running.keys()].sort((a, b) => a - b)
  // Aborts first: the driver stops work before anything else. A lease under a newer token (fencing), or held
  // by someone else, means this node lost the subtask.
  for (const index of running) {
    const lease = view.leases.get(index)
    if (ended) actions.push({ type: 'abort', index, reason: 'job-ended' })
    else if (lease === undefined || lease.holder !== self || lease.token !== ctx.running.get(index)) actions.push({ type: 'abort', index, reason: 'lost-lease' })
  }
  if (view.final !== undefined) return actions

  const isFinisher = finisherOf(job.id, ctx.finisherMembers ?? ctx.members, ctx.ranker, job.submittedBy) === self
  if (view.cancel !== undefined) {
    if (isFinisher) actions.push({ type: 'finish', final: { state: 'cancelled', by: self, at: now } })
    return actions
  }

  // Renew what this node runs and still holds under its own token, once 1/3 of the lease has passed.
  for (const index of running) {
    const lease = view.leases.get(index)
    if (lease !== undefined && lease.holder === self && lease.token === ctx.running.get(index) && lease.expiresAt - now <= leaseMs * 2 / 3) {
      actions.push({ type: 'renew', index, lease: { ...lease, expiresAt: now + leaseMs } })
    }
  }

  const poison = firstPoison(view)
  const timedOut = isTimedOut(view, now)
  if (isFinisher) {
    if (poison !== undefined) {
      actions.push({ type: 'finish', final: { state: 'failed', error: `subtask ${poison.index} failed: ${poison.error}`.slice(0, TASK_MAX_ERROR_CHARS), by: self, at: now } })
    } else if (allDone(view)) {
      actions.push({ type: 'reduce' })
    } else if (timedOut) {
      actions.push({ type: 'finish', final: { state: 'failed', error: `timed out after ${job.timeoutMs} ms`, by: self, at: now } })
    }
  }
  // A job that will fail anyway (poison or past its deadline) starts no new work.
  if (poison !== undefined || timedOut) return actions

  actions.push(...claims(view, ctx))
  return actions
}

function claims (view: JobView, ctx: DecideContext): TaskAction[] {
  const { job } = view
  const { self, now, leaseMs } = ctx
  const out: TaskAction[] = []
  if (ctx.freeSlots <= 0) return out
  const capable = capableIds(view, ctx.members)
  if (!capable.includes(self)) return out
  const ranker = ctx.ranker ?? rank
  const alive = new Set(ctx.members.map(m => m.id))
  // Members whose live leases in this job fill their advertised slots: a chunk they rank first for is not waited
  // for (they cannot start it now), so a free node takes it at once rather than leaseMs / 2 later.
  const held = new Map<string, number>()
  for (const index of view.leases.keys()) {
    const lease = view.leases.get(index)!
    if (countedDone(view, index) === undefined && leaseLive(view, index, now, alive)) held.set(lease.holder, (held.get(lease.holder) ?? 0) + 1)
  }
  const slots = new Map(ctx.members.map(m => [m.id, slotsOf(m)]))
  const full = (id: string): boolean => (held.get(id) ?? 0) >= (slots.get(id) ?? 1)

  // Claimable chunks with this node's place in their ranking. The chunks where it ranks first come first, and
  // among the rest those where it ranks best: free nodes that pass over full-looking candidates then take
  // different chunks instead of all the lowest-numbered one (seen: four of five daemons running one chunk).
  const eligible: Array<{ at: number, action: TaskAction & { type: 'claim' } }> = []
  let firsts = 0
  for (let index = 0, units = unitCount(job); index < units && firsts < ctx.freeSlots; index++) {
    if (ctx.running.has(index) || countedDone(view, index) !== undefined) continue
    if (leaseLive(view, index, now, alive)) continue
    const lease = view.leases.get(index)
    const failure = view.failures.get(index)
    if (failure !== undefined && failure.retryAt > now) continue
    const ranked = candidateOrder(job, index, capable, ranker)
    const at = ranked.indexOf(self)
    if (at < 0) continue
    // The candidates before this node: one that could start the chunk now is waited for leaseMs / 2; one whose
    // live leases fill its slots only TASK_PASS_OVER_MS (its finished chunks' leases stay live until a checkpoint
    // or the final state reaches this node, so "full" is often stale: waiting a moment lets it claim first).
    let wait = 0
    for (let j = 0; j < at; j++) wait += full(ranked[j]!) ? TASK_PASS_OVER_MS : leaseMs / 2
    // A dead holder's lease counts as expired now, and so does a lease its holder gave up by writing a failure
    // under its token (the retry then waits only for the backoff); the k-th candidate waits k * leaseMs / 2 for
    // those before it.
    const expired = lease === undefined || releasedByFailure(view, index) ? 0 : alive.has(lease.holder) ? lease.expiresAt : Math.min(lease.expiresAt, now)
    const claimableSince = Math.max(job.submittedAt, expired, failure?.retryAt ?? 0)
    if (now < claimableSince + wait) continue
    if (at === 0) firsts++
    eligible.push({
      at,
      action: { type: 'claim', index, lease: { holder: self, token: lease === undefined ? 0 : lease.token + 1, expiresAt: now + leaseMs, attempt: (failure?.attempts ?? 0) + 1 } }
    })
  }
  // A chunk where this node ranks first goes lowest index first; one taken over from a candidate that looks full
  // goes highest index first, as a work-stealing deque's thief takes from the far end (Blumofe and Leiserson; the
  // Chase-Lev deque): the owner works up from the bottom of its share while thieves work down from the top, so
  // they meet at most once, at the end. "Full" is often stale (a finished chunk's lease stays live here until a
  // checkpoint or the final state arrives), and taking the lowest index raced the owner's own next claim: on 5
  // daemons 1 chunk in 4 was leased twice, and both ran it.
  eligible.sort((a, b) => a.at - b.at || (a.at === 0 ? a.action.index - b.action.index : b.action.index - a.action.index))
  for (const e of eligible.slice(0, ctx.freeSlots)) out.push(e.action)
  return out
}

export type AfterError = { write: 'fail', failure: Failure } | { write: 'done', done: Done }

/**
 * What a worker that ran subtask `index` under fencing token `token` writes when its handler threw: `fail/<i>`
 * with attempts + 1, a backoff and its token (which releases its lease at once), or, once attempts exceed the
 * job's retries, `done/<i>/<token>` with the error (poison).
 */
export function afterError (view: JobView, index: number, error: string, by: string, now: number, token = view.leases.get(index)?.token ?? 0, subtask?: number): AfterError {
  // The attempt is the one the run was leased under: two runs of one lease (a same-token claim race) are one
  // attempt, not two, so a duplicate run does not spend the retry budget twice. Without that lease in view: + 1.
  const lease = view.leases.get(index)
  const leased = lease !== undefined && lease.token === token ? lease.attempt : undefined
  const previous = view.failures.get(index)?.attempts ?? 0
  const attempts = leased === undefined ? previous + 1 : Math.max(previous, leased)
  const text = error.slice(0, TASK_MAX_ERROR_CHARS)
  const at = subtask !== undefined && subtask !== index ? { subtask } : {}
  if (attempts > view.job.retries) {
    return { write: 'done', done: { error: text, ...at, by, token, attempts } }
  }
  return { write: 'fail', failure: { token, attempts, error: text, retryAt: now + backoff(attempts), by, ...at } }
}

/** What a worker writes when its handler returned: `done/<i>/<token>` with the result, its lease token and attempt. */
export function afterResult (view: JobView, index: number, result: unknown, by: string): Done {
  const lease = view.leases.get(index)
  const done: Done = { by, token: lease?.token ?? 0, attempts: lease?.attempt ?? (view.failures.get(index)?.attempts ?? 0) + 1 }
  if (result !== undefined) done.result = result
  return done
}
