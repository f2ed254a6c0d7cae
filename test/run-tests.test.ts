/**
 * The README's test command (scripts/run-tests.mjs) reads each file's uvu summary with scripts/test-outcome.mjs.
 * These run real uvu files and check what the runner makes of them: a skipped test is reported as skipped, never
 * as passed and never as failed (uvu's Total leaves skipped tests out), and a failure or a crash still counts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const UVU = import.meta.resolve('uvu')
const ASSERT = import.meta.resolve('uvu/assert')

interface Outcome { ok: boolean, passed: number, failed: number, skipped: number }
const { testOutcome } = await import(pathToFileURL(join(ROOT, 'scripts/test-outcome.mjs')).href) as {
  testOutcome: (output: string, code: number | null) => Outcome
}

/** Runs `body` (uvu test calls, then test.run()) as its own file, as the runner does, and reads the outcome. */
async function runUvu (body: string): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-run-tests-'))
  try {
    const file = join(dir, 'case.test.mjs')
    await writeFile(file, `import { test } from '${UVU}'\nimport * as assert from '${ASSERT}'\n${body}\n`)
    const child = spawn(process.execPath, [file], { env: { ...process.env, FORCE_COLOR: '0' } })
    let output = ''
    child.stdout.on('data', d => { output += String(d) })
    child.stderr.on('data', d => { output += String(d) })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    return testOutcome(output, code)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('a skipped test counts as skipped, not as passed and not as failed', async () => {
  const r = await runUvu(`test('a', () => { assert.ok(true) })\ntest.skip('b needs root', () => {})\ntest.run()`)
  assert.equal(r, { ok: true, passed: 1, failed: 0, skipped: 1 })
})

test('a failing test beside a skipped one is one failure', async () => {
  const r = await runUvu(`test('a', () => { assert.ok(true) })\ntest.skip('b', () => {})\ntest('c', () => { assert.ok(false) })\ntest.run()`)
  assert.equal(r, { ok: false, passed: 1, failed: 1, skipped: 1 })
})

test('a file that dies before its summary counts as failed', async () => {
  const r = await runUvu(`test('a', () => { assert.ok(true) })\nprocess.exit(3)`)
  assert.equal(r.ok, false)
  assert.ok(r.failed >= 1)
})

test.run()
