/**
 * The result stream's driver (result-flow.ts) on three nodes wired through an in-memory transport, with a manual
 * clock: a worker's result held by a finisher that then dies is sent again to the successor, which checkpoints it
 * (a finisher's death loses no result whose worker is alive); a finisher that restarted under the same id gets it
 * again after TASK_RESULT_RESEND_MS; once a checkpoint holds it the worker forgets it; a stale holder's result is
 * refused and recorded nowhere; an unreachable finisher makes the worker fall back to the done record.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock, constants, countedDone, emptyView, mergeLease, silentLogger, parseJobKey, validateCheckpoint } from '@shoal/core'
import type { Done, JobView, ResultsReply, ResultsRequest } from '@shoal/core'
import { ResultFlow, UNKNOWN_JOB_WAIT_MS } from '../src/tasks/result-flow.js'
import type { ResultTransport } from '../src/tasks/result-stream.js'

const JOB = '0123456789abcdef0123456789abcdef'
const T0 = 1_000_000

const jobRecord = (submittedBy: string): Parameters<typeof emptyView>[0] =>
  ({ v: 1, id: JOB, handler: 'add', inputs: [1, 2, 3, 4], reduce: null, retries: 3, timeoutMs: 600_000, priority: 0, submittedBy, submittedAt: T0 })

interface Node { id: string, flow: ResultFlow, view: JobView, puts: Array<{ key: string, value: unknown }>, up: boolean }

/** Nodes `ids`; `finisher.id` names the finisher every node sees; a node that is not `up` does not answer. */
function cluster (ids: string[], clock: ManualClock): { nodes: Map<string, Node>, finisher: { id: string } } {
  const nodes = new Map<string, Node>()
  const finisher = { id: ids[0]! }
  for (const id of ids) {
    const view = emptyView(jobRecord(ids[0]!))
    const transport: ResultTransport = {
      start: async () => {},
      stop: async () => {},
      send: async (peer: string, req: ResultsRequest): Promise<ResultsReply> => {
        const to = nodes.get(peer)
        if (to === undefined || !to.up) throw new Error(`${peer} is unreachable`)
        return await to.flow.receive(JSON.parse(JSON.stringify(req)), id)
      }
    }
    const node: Node = { id, view, puts: [], up: true, flow: undefined as unknown as ResultFlow }
    node.flow = new ResultFlow({
      clock,
      logger: silentLogger,
      kv: { put: async (key: string, value: unknown) => { node.puts.push({ key, value }); return undefined as any } },
      transport,
      self: id,
      view: jobId => jobId === JOB ? node.view : undefined,
      known: async jobId => jobId === JOB ? node.view : undefined,
      finisher: () => finisher.id,
      absorb: (key, value) => { deliverCheckpoint(nodes, key, value) },
      changed: () => {}
    })
    nodes.set(id, node)
  }
  return { nodes, finisher }
}

/** A checkpoint written by one node reaches every node that is up (as replication would) and covers its entries. */
function deliverCheckpoint (nodes: Map<string, Node>, key: string, value: unknown): void {
  if (parseJobKey(key)?.kind !== 'ckpt') return
  const checkpoint = validateCheckpoint(value)
  for (const n of nodes.values()) {
    if (!n.up) continue
    for (const e of checkpoint.entries) n.flow.covered(JOB, e.unit, e.done.token, e.done.by)
  }
}

const result = (by: string, token = 0, value: unknown = 7): Done => ({ result: value, by, token, attempts: 1 })
const checkpointsOf = (n: Node): number[] => n.puts.filter(p => parseJobKey(p.key)?.kind === 'ckpt').flatMap(p => validateCheckpoint(p.value).entries.map(e => e.unit))
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
}

const t = suite('task result flow')

/** A lone finisher 'f' whose view of JOB appears when the test says (as a replicated job record would). */
function lateFinisher (): { flow: ResultFlow, arrive: () => void } {
  let view: JobView | undefined
  const waiters = new Set<() => void>()
  const flow = new ResultFlow({
    clock: new ManualClock(T0),
    logger: silentLogger,
    kv: { put: async () => undefined as any },
    self: 'f',
    view: () => view,
    known: async (_jobId, signal) => {
      while (view === undefined && !signal.aborted) {
        await new Promise<void>(resolve => { waiters.add(resolve); signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      }
      return view
    },
    finisher: () => 'f',
    absorb: () => {},
    changed: () => {}
  })
  const arrive = (): void => {
    view = emptyView(jobRecord('s'))
    mergeLease(view, 2, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
    for (const w of waiters) w()
  }
  return { flow, arrive }
}

t("a result for a job whose record is still on its way is held until the record lands, not refused", async () => {
  const { flow, arrive } = lateFinisher()
  const reply = flow.receive({ v: 1, type: 'results', jobId: JOB, entries: [{ unit: 2, done: result('w') }] }, 'w')
  await new Promise(resolve => setTimeout(resolve, 30))
  arrive()
  assert.equal((await reply).acks, ['ok'])
})

t('a job whose record never comes is refused as unknown-job once the wait is over', async () => {
  const { flow } = lateFinisher()
  const started = Date.now()
  const alive = setTimeout(() => {}, 2 * UNKNOWN_JOB_WAIT_MS) // the wait's own timer does not keep a process alive
  const reply = await flow.receive({ v: 1, type: 'results', jobId: JOB, entries: [{ unit: 2, done: result('w') }] }, 'w')
  clearTimeout(alive)
  assert.equal(reply.acks, ['unknown-job'])
  assert.ok(Date.now() - started >= UNKNOWN_JOB_WAIT_MS - 10, 'it waited for the record first')
})

t('a result held by a finisher that dies is sent again to its successor, which checkpoints it; the worker then forgets it', async () => {
  const clock = new ManualClock(T0)
  const { nodes, finisher } = cluster(['f1', 'f2', 'w', 'f3'], clock)
  const [f1, f2, w, f3] = ['f1', 'f2', 'w', 'f3'].map(id => nodes.get(id)!) as [Node, Node, Node, Node]
  for (const n of nodes.values()) mergeLease(n.view, 2, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
  assert.is(await w.flow.deliver(w.view, 2, result('w')), 'ok')
  assert.ok(countedDone(f1.view, 2) !== undefined, 'the finisher holds it')
  assert.ok(countedDone(w.view, 2) !== undefined, 'and so does the worker\'s own view')
  // f1 dies before its checkpoint is due: f2 becomes the finisher.
  f1.up = false
  finisher.id = 'f2'
  clock.advance(100)
  w.flow.round(() => false)
  await settle()
  assert.ok(countedDone(f2.view, 2) !== undefined, 'the successor got it again from the worker')
  clock.advance(constants.TASK_CHECKPOINT_MS)
  f2.flow.round(() => false)
  await settle()
  assert.equal(checkpointsOf(f2), [2], 'the successor checkpoints it')
  // The checkpoint came back to the worker: nothing is sent any more, to anyone (f3 becoming finisher gets nothing).
  finisher.id = 'f3'
  clock.advance(constants.TASK_RESULT_RESEND_MS)
  w.flow.round(() => false)
  await settle()
  assert.is(countedDone(f3.view, 2), undefined, 'the worker forgot it once a checkpoint held it')
})

t('a finisher that restarted under the same id (its memory lost) gets the result again after TASK_RESULT_RESEND_MS', async () => {
  const clock = new ManualClock(T0)
  const { nodes } = cluster(['f1', 'w'], clock)
  const [f1, w] = ['f1', 'w'].map(id => nodes.get(id)!) as [Node, Node]
  for (const n of nodes.values()) mergeLease(n.view, 1, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
  assert.is(await w.flow.deliver(w.view, 1, result('w')), 'ok')
  // The restart: a new flow and an empty view under the same id.
  f1.view = emptyView(f1.view.job)
  mergeLease(f1.view, 1, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
  clock.advance(constants.TASK_RESULT_RESEND_MS - 1)
  w.flow.round(() => false)
  await settle()
  assert.is(countedDone(f1.view, 1), undefined, 'not before the resend interval')
  clock.advance(1)
  w.flow.round(() => false)
  await settle()
  assert.ok(countedDone(f1.view, 1) !== undefined, 'sent again')
})

t('a stale holder\'s result is refused by the finisher and recorded nowhere; an unreachable finisher means the done record', async () => {
  const clock = new ManualClock(T0)
  const { nodes } = cluster(['f1', 'w'], clock)
  const [f1, w] = ['f1', 'w'].map(id => nodes.get(id)!) as [Node, Node]
  mergeLease(w.view, 0, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
  mergeLease(f1.view, 0, { holder: 'f1', token: 1, expiresAt: T0 + 20_000, attempt: 1 })
  assert.is(await w.flow.deliver(w.view, 0, result('w', 0)), 'stale')
  assert.is(countedDone(f1.view, 0), undefined)
  assert.is(countedDone(w.view, 0), undefined, 'the worker does not count it either')
  clock.advance(constants.TASK_CHECKPOINT_MS)
  f1.flow.round(() => false)
  await settle()
  assert.equal(f1.puts, [], 'nothing to checkpoint')
  f1.up = false
  mergeLease(w.view, 3, { holder: 'w', token: 0, expiresAt: T0 + 10_000, attempt: 1 })
  assert.is(await w.flow.deliver(w.view, 3, result('w', 0)), 'fallback')
})

t.run()
