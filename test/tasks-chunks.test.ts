/**
 * Chunked leases on three real daemons (one slot each): kill -9 of a worker in the middle of a chunk costs at most
 * the re-run of that chunk and the answer stays exact; kill -9 of the job's finisher after half the results arrived
 * still gives the exact answer (its successor finishes from the checkpoints and the results the workers send it
 * again); kill -9 of the finisher after a checkpoint re-runs only the finisher's own work that no checkpoint held
 * (decision 0011). Every run of a subtask is counted in a run log per node, which survives the kill.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'
import { waitUntil } from '@shoal/test-utils'

let swarm: LocalSwarm
const nodes = new Map<number, LocalNode>()
const CHUNK = 6
const N = 60

/** Squares x after a pause that differs inside a chunk, logging each run ("<subtask>\n") to SHOAL_TEST_RUNLOG. */
const SQUARE = `
import { appendFileSync } from 'node:fs'
export async function run (x, ctx) {
  appendFileSync(process.env.SHOAL_TEST_RUNLOG, 'start ' + ctx.index + '\\n')
  await new Promise(resolve => setTimeout(resolve, 150 + (ctx.index % 6) * 120))
  appendFileSync(process.env.SHOAL_TEST_RUNLOG, 'end ' + ctx.index + '\\n')
  return x * x
}
`
const runLog = (i: number): string => join(swarm.dataDir(i), '..', `runs-${i}.log`)
async function runs (): Promise<{ started: number, ended: number, repeated: string, completed: Map<number, string[]> }> {
  let started = 0
  let ended = 0
  const starts = new Map<number, string[]>()
  const completed = new Map<number, string[]>()
  for (const i of [1, 2, 3]) {
    const text = await readFile(runLog(i), 'utf8').catch(() => '')
    for (const line of text.split('\n')) {
      const [what, at] = line.split(' ')
      if (what !== 'start' && what !== 'end') continue
      const map = what === 'start' ? starts : completed
      map.set(Number(at), [...(map.get(Number(at)) ?? []), `n${i}`])
      if (what === 'start') started++
      else ended++
    }
  }
  const repeated = [...starts].filter(([, by]) => by.length > 1).map(([k, by]) => `${k}:${by.join('+')}`).join(' ')
  return { started, ended, repeated, completed }
}

/** The lines of node i's run log. */
async function logLines (i: number): Promise<string[]> {
  return (await readFile(runLog(i), 'utf8').catch(() => '')).split('\n').filter(line => line !== '')
}

/**
 * Whether node i is in the middle of a chunk by its own run log (lines after the first `from`): a chunk with at
 * least one subtask ended, one running and at least one more to go (a module handler runs in the slot's one worker,
 * so a chunk's subtasks run one after another, each 150 ms or more), so a kill now lands before the chunk can finish.
 */
async function midChunk (i: number, from: number): Promise<boolean> {
  const chunks = new Map<number, { starts: number, ends: number }>()
  for (const line of (await logLines(i)).slice(from)) {
    const [what, at] = line.split(' ')
    const chunk = Math.floor(Number(at) / CHUNK)
    const c = chunks.get(chunk) ?? { starts: 0, ends: 0 }
    if (what === 'start') c.starts++
    else c.ends++
    chunks.set(chunk, c)
  }
  return [...chunks.values()].some(c => c.ends >= 1 && c.starts - c.ends === 1 && c.ends <= CHUNK - 2)
}

async function start (i: number): Promise<LocalNode> {
  const first = nodes.get(1)
  const node = await swarm.start(i, { timeoutMs: 60_000, env: { SHOAL_TEST_RUNLOG: runLog(i) }, ...(first !== undefined && i !== 1 ? { bootstrap: [first.addrs[0]!] } : {}) })
  nodes.set(i, node)
  return node
}

test.before(async () => {
  // A swarm that fails to form (a loaded machine) is torn down here: uvu skips test.after when before throws.
  try {
    swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
    const module = join(swarm.dataDir(0), '..', 'square.mjs')
    await writeFile(module, SQUARE)
    for (const i of [1, 2, 3]) {
      await mkdir(swarm.dataDir(i), { recursive: true })
      await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify({ tasks: { slots: 1, modules: { square: module } } }))
      await start(i)
    }
    await waitUntil('all alive', async () => (await nodes.get(1)!.client.call('swarm.members', { state: 'alive' })).length === 3)
  } catch (err) {
    await swarm?.destroy().catch(() => {})
    throw err
  }
})

test.after(async () => {
  await swarm.destroy()
})

const inputs = Array.from({ length: N }, (_, i) => i)
const squares = inputs.map(x => x * x)

test('kill -9 of a worker mid-chunk: exact answer, and at most one chunk is run again', async () => {
  const observer = nodes.get(1)!
  const before = await runs()
  const logged = new Map(await Promise.all([1, 2, 3].map(async i => [i, (await logLines(i)).length] as const)))
  const { jobId } = await observer.client.call('task.submit', { handler: 'square', inputs, chunk: CHUNK })
  // The victim: a worker that is neither the observer nor the finisher (the observer: a job's submitter finishes
  // it, decision 0018), caught with a chunk in flight and part of that chunk already run, as its own run log says
  // (the observer's status lags: once, a victim it still showed running had finished and handed in its chunk
  // before the kill, and nothing was left to run again).
  const victim = nodes.get(2)!
  await waitUntil('the victim to be in the middle of a chunk', async () => await midChunk(victim.index, logged.get(victim.index)!), { intervalMs: 20, timeoutMs: 60_000 })
  await swarm.kill(victim.index)
  try {
    const r = await observer.client.call('task.result', { jobId, wait: true, timeoutMs: 90_000 }, { timeoutMs: 100_000 })
    assert.is(r.state, 'done', r.error)
    assert.equal(r.result, squares)
    const after = await runs()
    const extra = after.started - before.started - N
    assert.ok(extra >= 1, 'the killed chunk was run again')
    // What the kill costs: subtasks run to the end more than once lie in one chunk, the victim's, and the victim
    // ran each of them. An optimistic claim race between two live nodes (both take a free chunk; the loser's run
    // is aborted, its worker terminated, so it logs a start without an end) is a separate cost: only starts, and
    // bounded, together with the re-run, by two chunks.
    const again = [...after.completed].filter(([, by]) => by.length > 1)
    const chunks = new Set(again.map(([k]) => Math.floor(k / CHUNK)))
    const detail = `${extra} subtask runs repeated (${after.repeated}; victim n${victim.index}); one chunk is ${CHUNK}`
    // None when the victim died before finishing any of its chunk's subtasks (only the one it was running starts
    // again elsewhere), one chunk at most otherwise.
    assert.ok(chunks.size <= 1, `repeats span ${chunks.size} chunks: ${detail}`)
    assert.ok(again.every(([, by]) => by.includes(`n${victim.index}`)), `a repeat the victim had no part in: ${detail}`)
    assert.ok(extra <= 2 * CHUNK, detail)
  } finally {
    await start(victim.index)
  }
  await waitUntil('all alive again', async () => (await observer.client.call('swarm.members', { state: 'alive' })).length === 3)
})

/**
 * Submits the test's job on node 2: the submitter is the job's finisher (decision 0018), so that is the node a
 * finisher test kills, and node 1 (the others' bootstrap) stays up to observe.
 */
async function submitOnFinisher (): Promise<{ jobId: string, finisher: LocalNode, observer: LocalNode }> {
  const finisher = nodes.get(2)!
  const { jobId } = await finisher.client.call('task.submit', { handler: 'square', inputs, chunk: CHUNK })
  return { jobId, finisher, observer: nodes.get(1)! }
}

test('kill -9 of the finisher after half the results arrived: exact answer from its successor', async () => {
  const { jobId, finisher, observer } = await submitOnFinisher()
  await waitUntil('half the results', async () => (await observer.client.call('task.status', { jobId })).counts.done >= N / 2, { intervalMs: 20, timeoutMs: 60_000 })
  await swarm.kill(finisher.index)
  try {
    const r = await observer.client.call('task.result', { jobId, wait: true, timeoutMs: 90_000 }, { timeoutMs: 100_000 })
    assert.is(r.state, 'done', r.error)
    assert.equal(r.result, squares)
    assert.is.not(r.finishedBy, finisher.peerId, 'the successor finished it')
  } finally {
    await start(finisher.index)
  }
  await waitUntil('all alive again', async () => (await observer.client.call('swarm.members', { state: 'alive' })).length === 3)
})

/** Units whose results a checkpoint record in `node`'s replica holds. */
async function checkpointed (node: LocalNode, jobId: string): Promise<Set<number>> {
  const page = await node.client.call('kv.list', { prefix: `_shoal/job/${jobId}/ckpt/`, limit: 1000 })
  return new Set(page.records.flatMap(r => (r.value as { entries: Array<{ unit: number }> }).entries.map(e => e.unit)))
}

test('kill -9 of the finisher after a checkpoint: exact answer; no checkpointed chunk runs again, and only the finisher\'s own chunks run again in full', async () => {
  const before = await runs()
  const { jobId, finisher, observer } = await submitOnFinisher()
  // Results stream to the finisher and reach the other nodes only in its checkpoints: wait for checkpoints that
  // hold at least two chunks while the job still has work left, then kill the finisher.
  const saved = await waitUntil('a checkpoint of two chunks, with work left', async () => {
    const units = await checkpointed(observer, jobId)
    const s = await observer.client.call('task.status', { jobId })
    return units.size >= 2 && s.state === 'running' && units.size < N / CHUNK ? units : undefined
  }, { intervalMs: 20, timeoutMs: 60_000 })
  await swarm.kill(finisher.index)
  try {
    const r = await observer.client.call('task.result', { jobId, wait: true, timeoutMs: 90_000 }, { timeoutMs: 100_000 })
    assert.is(r.state, 'done', r.error)
    assert.equal(r.result, squares)
    assert.is.not(r.finishedBy, finisher.peerId, 'the successor finished it')
    const after = await runs()
    // Per subtask, the nodes that ran it to the end during this job (the run logs are shared by the tests).
    const during = (k: number): string[] => {
      const was = [...(before.completed.get(k) ?? [])]
      return (after.completed.get(k) ?? []).filter(n => { const at = was.indexOf(n); if (at < 0) return true; was.splice(at, 1); return false })
    }
    const again = inputs.map(k => [k, during(k)] as const).filter(([, by]) => by.length > 1)
    const detail = `repeated: ${again.map(([k, by]) => `${k}:${by.join('+')}`).join(' ')}; finisher n${finisher.index}; checkpointed chunks ${[...saved].sort((a, b) => a - b).join(',')}`
    // A checkpointed chunk is never run again (its result is in the successor's replica), and neither is a chunk a
    // live worker had sent to the dead finisher (the worker sends it again to the successor): what runs again is
    // only what the finisher itself held (a lease record names it) and had not yet checkpointed. (A node that lost
    // a same-token claim race to the finisher may have finished a subtask of that chunk before it stopped.)
    // Lease records in every live replica: the finisher's lease may have reached only the node it raced with.
    const heldByFinisher = new Set<number>()
    for (const n of [...nodes.values()].filter(x => x !== finisher)) {
      const leases = await n.client.call('kv.list', { prefix: `_shoal/job/${jobId}/lease/`, limit: 1000 })
      for (const r of leases.records) if ((r.value as { holder: string }).holder === finisher.peerId) heldByFinisher.add(Number(r.key.split('/lease/')[1]!.split('/')[0]))
    }
    assert.ok(again.every(([k]) => !saved.has(Math.floor(k / CHUNK))), `a checkpointed chunk ran again: ${detail}`)
    // Chunks run again in full (every subtask completed twice) must be the finisher's. A run stopped midway by a
    // claim race it lost may also have completed its first subtasks; that cost is the race's, as in the first test.
    const full = [...new Set(again.map(([k]) => Math.floor(k / CHUNK)))].filter(c => inputs.slice(c * CHUNK, (c + 1) * CHUNK).every(k => during(k).length > 1))
    assert.ok(full.every(c => heldByFinisher.has(c)), `a chunk the finisher never held ran again in full: ${detail}; finisher held ${[...heldByFinisher].join(',')}`)
  } finally {
    await start(finisher.index)
  }
  await waitUntil('all alive again', async () => (await nodes.get(1)!.client.call('swarm.members', { state: 'alive' })).length === 3)
})

test.run()
