import { readFile } from 'node:fs/promises'
import { connectClient, connectWsClient, CLIENT_HELP, CLIENT_OPTIONS } from '../client.js'
import { parse, str, UsageError } from '../args.js'
import { table } from '../output.js'
import type { Io } from '../output.js'

export const TASK_HELP = `Usage: shoal task run HANDLER (--input JSON|@FILE [--split N] | --inputs JSON|@FILE) [--retries N] [--timeout SECONDS]
       shoal task status JOB
       shoal task result JOB [--wait]
       shoal task list
       shoal task cancel JOB

run     submits a job, shows a live progress bar with an ETA, then prints the result (exit 1 if the job fails)
        e.g. shoal task run primes --input '{"from":0,"to":1000000}' --split 100
             shoal task run wordcount --input @book.json --split 50
status  state, progress per member, attempts and errors
result  the result of a finished job (--wait: wait for it)
list    jobs this node knows of
cancel  stops a job everywhere

${CLIENT_HELP}`

const OPTIONS = { ...CLIENT_OPTIONS, input: { type: 'string' }, inputs: { type: 'string' }, split: { type: 'string' }, retries: { type: 'string' }, timeout: { type: 'string' }, wait: { type: 'boolean' } } as const

interface SubtaskError { index: number, error: string, attempt?: number, retryAt?: number }
interface Status { state: string, subtasks: number, counts: { done: number, running: number, failed: number, pending: number }, perMember: Record<string, { done: number }>, error?: string, errors?: SubtaskError[] }

export async function taskCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parse(`task ${sub ?? ''}`.trim(), rest, OPTIONS, 1)
  if (sub === undefined || values.help === true || sub === 'help' || sub === '--help' || sub === '-h') { io.out(TASK_HELP); return sub === undefined ? 2 : 0 }
  const json = values.json === true
  const jobArg = (): string => {
    const job = positionals[0]
    if (job === undefined || !/^[0-9a-f]{32}$/.test(job)) throw new UsageError(`shoal task ${sub}: need a JOB id (32 hex characters, from \`shoal task run\` or \`shoal task list\`)`)
    return job
  }
  switch (sub) {
    case 'run': return await run(positionals[0], values, io, env)
    case 'status': {
      const status = await (await connectClient(values, env)).call('task.status', { jobId: jobArg() })
      io.out(json ? JSON.stringify(status, null, 2) : describe(status as Status))
      return 0
    }
    case 'result': {
      const r = await (await connectClient(values, env)).call('task.result', { jobId: jobArg(), wait: values.wait === true }, { timeoutMs: 24 * 3_600_000 })
      io.out(json ? JSON.stringify(r) : r.state === 'done' ? JSON.stringify(r.result, null, 2) : `job ${r.state}: ${r.error ?? ''}`)
      return r.state === 'done' ? 0 : 1
    }
    case 'list': {
      const jobs = await (await connectClient(values, env)).call('task.list', {})
      io.out(json ? JSON.stringify(jobs, null, 2) : table(['JOB', 'HANDLER', 'SUBTASKS', 'STATE', 'SUBMITTED'], jobs.map(j => [j.jobId, j.handler, String(j.subtasks), j.state, new Date(j.submittedAt).toISOString()])))
      return 0
    }
    case 'cancel': {
      const r = await (await connectClient(values, env)).call('task.cancel', { jobId: jobArg() })
      io.out(json ? JSON.stringify(r) : `job ${r.jobId}: ${r.state}`)
      return 0
    }
    default:
      throw new UsageError(`shoal task: unknown subcommand '${sub}'. Use run, status, result, list or cancel.`)
  }
}

async function run (handler: string | undefined, values: Record<string, unknown>, io: Io, env: Record<string, string | undefined>): Promise<number> {
  if (handler === undefined) throw new UsageError('shoal task run: need a HANDLER, e.g. shoal task run primes --input \'{"from":0,"to":100000}\' --split 10')
  const input = str(values.input)
  const inputs = str(values.inputs)
  if ((input === undefined) === (inputs === undefined)) throw new UsageError('shoal task run: give exactly one of --input (with optional --split) or --inputs')
  const params: Record<string, unknown> = { handler }
  if (input !== undefined) params.input = await jsonArg(input, '--input')
  if (inputs !== undefined) params.inputs = await jsonArg(inputs, '--inputs')
  for (const [flag, field, scale] of [['split', 'split', 1], ['retries', 'retries', 1], ['timeout', 'timeoutMs', 1000]] as const) {
    const v = str(values[flag])
    if (v === undefined) continue
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`shoal task run: --${flag} must be a number >= 0, got '${v}'`)
    params[field] = Math.round(n * scale)
  }
  const client = await connectClient(values, env)
  const { jobId } = await client.call('task.submit', params as never)
  if (values.json !== true) io.err(`job ${jobId} submitted`)
  const started = Date.now()
  const ws = await connectWsClient(values, env)
  let last: Status | undefined
  const shown = new Set<string>()
  const finished = new Promise<void>(resolve => {
    void ws.subscribe<Status>('task.watch', { jobId }, {
      onNotification: s => {
        last = s
        if (values.json !== true) {
          // Each failed attempt once, with its error and when it is retried, as the watch reports it.
          for (const e of s.errors ?? []) {
            const key = `${e.index}/${e.attempt ?? 0}`
            if (shown.has(key)) continue
            shown.add(key)
            if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
            io.err(failedAttempt(e))
          }
          progress(io, s, started)
        }
        if (['done', 'failed', 'cancelled'].includes(s.state)) resolve()
      },
      onError: () => { resolve() }
    })
  })
  await finished
  await ws.close()
  const r = await client.call('task.result', { jobId, wait: true }, { timeoutMs: 24 * 3_600_000 })
  if (process.stderr.isTTY && values.json !== true) io.err('')
  if (values.json === true) { io.out(JSON.stringify({ ...r, status: last })); return r.state === 'done' ? 0 : 1 }
  if (r.state !== 'done') { io.err(`shoal: job ${jobId} ${r.state}: ${r.error ?? ''}`); return 1 }
  io.out(JSON.stringify(r.result, null, 2))
  return 0
}

function progress (io: Io, s: Status, started: number): void {
  const done = s.counts.done + s.counts.failed
  const fraction = s.subtasks === 0 ? 1 : done / s.subtasks
  const width = 30
  const filled = Math.round(fraction * width)
  const elapsed = (Date.now() - started) / 1000
  const eta = fraction > 0 && fraction < 1 ? `, ETA ${Math.ceil(elapsed / fraction - elapsed)}s` : ''
  const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${done}/${s.subtasks} subtasks, ${s.counts.running} running on ${Object.keys(s.perMember).length} members${eta}`
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`)
  else io.err(line)
}

/** One line per failed attempt: `subtask 3, attempt 1 failed: <error> (retry in 0.2s)` or `... (gave up)`. */
function failedAttempt (e: SubtaskError): string {
  const retry = e.retryAt === undefined ? 'gave up' : `retry in ${Math.max(0, (e.retryAt - Date.now()) / 1000).toFixed(1)}s`
  return `subtask ${e.index}${e.attempt !== undefined ? `, attempt ${e.attempt}` : ''} failed: ${e.error} (${retry})`
}

function describe (s: Status & { jobId?: string, handler?: string, attempts?: number, lostWorkers?: number }): string {
  return [
    `job:      ${s.jobId ?? ''} (${s.handler ?? ''})`,
    `state:    ${s.state}`,
    `subtasks: ${s.subtasks} (${s.counts.done} done, ${s.counts.running} running, ${s.counts.pending} pending, ${s.counts.failed} failed)`,
    `attempts: ${s.attempts ?? 0}, lost workers: ${s.lostWorkers ?? 0}`,
    ...(s.error !== undefined ? [`error:    ${s.error}`] : []),
    table(['MEMBER', 'DONE'], Object.entries(s.perMember).map(([id, m]) => [id, String(m.done)])),
    ...(s.errors ?? []).slice(0, 5).map(failedAttempt)
  ].join('\n')
}

async function jsonArg (v: string, flag: string): Promise<unknown> {
  const text = v.startsWith('@') ? await readFile(v.slice(1), 'utf8').catch(() => { throw new UsageError(`shoal task run: cannot read ${v.slice(1)} (${flag})`) }) : v
  try {
    return JSON.parse(text)
  } catch {
    throw new UsageError(`shoal task run: ${flag} is not JSON: ${text.slice(0, 60)}`)
  }
}
