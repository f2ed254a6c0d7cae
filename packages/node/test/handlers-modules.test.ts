/**
 * Module handlers: a temp .mjs module's run executes in the pool (off the main thread) with the run's context,
 * its split/reduce are used on the main thread, a cwd-relative path works, and a missing file, a module without
 * run, or a name clash is ERR_INVALID_CONFIG naming the module and path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { silentLogger } from '@shoal/core'
import { createHandlerRegistry } from '../src/tasks/handlers/index.js'
import type { HandlerRegistry } from '../src/tasks/handlers/index.js'

const SUMMER = `
import { isMainThread } from 'node:worker_threads'
export function split (input, n) {
  return Array.from({ length: n }, (_, i) => ({ values: input.values.filter((_, j) => j % n === i) }))
}
export async function run (input, ctx) {
  return { sum: input.values.reduce((a, b) => a + b, 0), isMainThread, jobId: ctx.jobId, index: ctx.index, attempt: ctx.attempt }
}
export function reduce (results) { return results.reduce((total, r) => total + r.sum, 0) }
`

const test = suite('handlers: modules')
let dir: string
const registries: HandlerRegistry[] = []

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-mod-'))
  writeFileSync(join(dir, 'summer.mjs'), SUMMER)
  writeFileSync(join(dir, 'plain.mjs'), 'export async function run (input) { return input.toUpperCase() }\n')
  writeFileSync(join(dir, 'norun.mjs'), 'export function split () { return [] }\n')
})
test.after(async () => {
  await Promise.all(registries.map(async r => await r.close()))
  rmSync(dir, { recursive: true, force: true })
})

async function registry (modules: Record<string, string>): Promise<HandlerRegistry> {
  const r = await createHandlerRegistry({ modules, poolSize: 2, logger: silentLogger })
  registries.push(r)
  return r
}

async function configError (modules: Record<string, string>): Promise<Error & { code?: string }> {
  try {
    await registry(modules)
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a config error')
}

test('run executes in a worker; split and reduce come from the module', async () => {
  const r = await registry({ summer: join(dir, 'summer.mjs'), plain: relative(process.cwd(), join(dir, 'plain.mjs')) })
  assert.ok(r.names().includes('summer') && r.names().includes('plain'))
  const h = r.get('summer')
  if (h?.split === undefined || h.reduce === undefined) throw new Error('summer should have split and reduce')
  const input = { values: Array.from({ length: 10 }, (_, i) => i + 1) }
  const parts = h.split(input, 3)
  assert.equal(parts, [{ values: [1, 4, 7, 10] }, { values: [2, 5, 8] }, { values: [3, 6, 9] }])
  const signal = new AbortController().signal
  const results = await Promise.all(parts.map(async (p, index) => await h.run(p, { signal, jobId: 'job-9', index, attempt: 2 })))
  assert.equal(results[1], { sum: 15, isMainThread: false, jobId: 'job-9', index: 1, attempt: 2 })
  assert.is(h.reduce(results), 55)

  const plain = r.get('plain')
  assert.is(plain?.split, undefined)
  assert.is(plain?.reduce, undefined)
  assert.is(await plain?.run('shoal', { signal, jobId: 'j', index: 0, attempt: 1 }), 'SHOAL')
})

test('a missing file is ERR_INVALID_CONFIG naming the module and path', async () => {
  const path = join(dir, 'absent.mjs')
  const err = await configError({ ghost: path })
  assert.is(err.code, 'ERR_INVALID_CONFIG')
  assert.ok(err.message.includes('tasks.modules.ghost'), err.message)
  assert.ok(err.message.includes(path), err.message)
})

test('a module without run is ERR_INVALID_CONFIG naming the module and path', async () => {
  const path = join(dir, 'norun.mjs')
  const err = await configError({ lazy: path })
  assert.is(err.code, 'ERR_INVALID_CONFIG')
  assert.ok(err.message.includes('tasks.modules.lazy'), err.message)
  assert.ok(err.message.includes(path), err.message)
  assert.match(err.message, /no run export/)
})

test('a module may not take a built-in name', async () => {
  const err = await configError({ primes: join(dir, 'plain.mjs') })
  assert.is(err.code, 'ERR_INVALID_CONFIG')
  assert.match(err.message, /tasks\.modules\.primes/)
})

test.run()
