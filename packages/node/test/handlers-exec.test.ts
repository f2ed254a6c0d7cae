/**
 * exec handlers: nothing registered when disabled; enabled, each allowlisted command is `exec:<name>`, gets the
 * input as JSON on stdin and returns stdout (JSON if it parses, else trimmed text); a non-zero exit, a timeout, an
 * abort and an oversized stdout fail the run and kill the process. Commands run `node -e` via process.execPath.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { silentLogger } from '@shoal/core'
import { createHandlerRegistry, execDisabledError } from '../src/tasks/handlers/index.js'
import type { HandlerContext, HandlerRegistry } from '../src/tasks/handlers/index.js'

const node = process.execPath
const READ_STDIN = "let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>{s+=d});process.stdin.on('end',()=>{"
const ALLOW = {
  upper: { command: node, args: ['-e', `${READ_STDIN}const i=JSON.parse(s);process.stdout.write(JSON.stringify({text:i.text.toUpperCase(),n:i.n+1}))})`] },
  text: { command: node, args: ['-e', "process.stdout.write('  plain words \\n')"] },
  fail: { command: node, args: ['-e', "process.stderr.write('E'.repeat(300)+'F'.repeat(300));process.exit(3)"] },
  hang: { command: node, args: ['-e', 'setInterval(()=>{},1000)'], timeoutMs: 300 },
  flood: { command: node, args: ['-e', "const b=Buffer.alloc(1<<20,97);let n=0;const w=()=>{while(n<20){n++;if(!process.stdout.write(b))return process.stdout.once('drain',w)}};w()"] }
}

const test = suite('handlers: exec')
const registries: HandlerRegistry[] = []

test.after(async () => { await Promise.all(registries.map(async r => await r.close())) })

async function registry (enabled: boolean): Promise<HandlerRegistry> {
  const r = await createHandlerRegistry({ exec: { enabled, allow: ALLOW }, poolSize: 1, logger: silentLogger })
  registries.push(r)
  return r
}

function ctx (signal = new AbortController().signal): HandlerContext {
  return { signal, jobId: 'job-x', index: 0, attempt: 1 }
}

async function rejection (p: Promise<unknown> | undefined): Promise<Error & { code?: string, data?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

async function run (r: HandlerRegistry, name: string, input: unknown, c = ctx()): Promise<unknown> {
  const h = r.get(name)
  if (h === undefined) throw new Error(`no handler ${name}`)
  return await h.run(input, c)
}

test('disabled: no exec handlers at all, and a clear error to report', async () => {
  const r = await registry(false)
  assert.equal(r.names().filter(n => n.startsWith('exec')), [])
  assert.is(r.get('exec:upper'), undefined)
  assert.is(r.get('exec'), undefined)
  const err = execDisabledError('exec:upper')
  assert.is(err.code, 'ERR_UNAVAILABLE')
  assert.match(err.message, /exec:upper/)
  assert.match(err.message, /tasks\.exec\.enabled/)
})

test('enabled: exactly the allowlisted names', async () => {
  const r = await registry(true)
  assert.equal(r.names().filter(n => n.startsWith('exec')).sort(), ['exec:fail', 'exec:flood', 'exec:hang', 'exec:text', 'exec:upper'])
  assert.is(r.get('exec:rm'), undefined)
  assert.is(r.get('exec'), undefined)
})

test('input goes in as JSON on stdin; JSON stdout is parsed, other text trimmed', async () => {
  const r = await registry(true)
  assert.equal(await run(r, 'exec:upper', { text: 'shoal', n: 41 }), { text: 'SHOAL', n: 42 })
  assert.is(await run(r, 'exec:text', null), 'plain words')
})

test('a non-zero exit fails with the code and the head of stderr', async () => {
  const r = await registry(true)
  const err = await rejection(run(r, 'exec:fail', {}))
  assert.is(err.code, 'ERR_HANDLER_FAILED')
  assert.match(err.message, /exited with code 3/)
  assert.ok(err.message.includes('E'.repeat(300) + 'F'.repeat(200)), 'quotes 500 chars of stderr')
  assert.not.ok(err.message.includes('F'.repeat(201)), 'and no more')
  assert.is(err.data?.exitCode, 3)
})

test('timeout kills the process', async () => {
  const r = await registry(true)
  const err = await rejection(run(r, 'exec:hang', {}))
  assert.is(err.code, 'ERR_TIMEOUT')
  assert.match(err.message, /300 ms/)
})

test('abort kills the process and rejects with the reason', async () => {
  const r = await registry(true)
  const controller = new AbortController()
  const running = run(r, 'exec:upper', { text: 'x', n: 0 }, ctx(controller.signal)).catch(err => err)
  const hanging = rejection(run(r, 'exec:hang', {}, ctx(controller.signal)))
  const reason = new Error('cancelled')
  controller.abort(reason)
  assert.is(await hanging, reason)
  assert.is(await running, reason)
})

test('stdout past 16 MiB kills the process', async () => {
  const r = await registry(true)
  const err = await rejection(run(r, 'exec:flood', {}))
  assert.is(err.code, 'ERR_HANDLER_FAILED')
  assert.match(err.message, /stdout exceeded/)
})

test('a bad allow entry is ERR_INVALID_CONFIG naming it', async () => {
  try {
    await createHandlerRegistry({ exec: { enabled: true, allow: { broken: { command: '' } } }, logger: silentLogger })
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_INVALID_CONFIG')
    assert.match((err as Error).message, /tasks\.exec\.allow\.broken\.command/)
  }
})

test.run()
