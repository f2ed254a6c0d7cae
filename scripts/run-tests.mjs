#!/usr/bin/env node
// Runs every compiled uvu test file in its own process (so a many-node suite cannot leak into another),
// unit files two at a time, end-to-end files one at a time. Prints one line per file and a closing
// "tests: N passed, N failed" line. Usage: node scripts/run-tests.mjs [substring-filter...]
import { spawn } from 'node:child_process'
import { readdirSync, existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { testOutcome } from './test-outcome.mjs'

const root = new URL('..', import.meta.url).pathname
const filters = process.argv.slice(2)
const FILE_TIMEOUT_MS = 10 * 60 * 1000

function findTests (dir) {
  if (!existsSync(dir)) return []
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...findTests(path))
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out.sort()
}

const units = readdirSync(join(root, 'packages')).flatMap(p => findTests(join(root, 'packages', p, 'dist', 'test')))
const e2e = findTests(join(root, 'test', 'dist'))
const keep = f => filters.length === 0 || filters.some(s => relative(root, f).includes(s))

function runFile (file) {
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(process.execPath, [file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } })
    let output = ''
    child.stdout.on('data', d => { output += d })
    child.stderr.on('data', d => { output += d })
    const timer = setTimeout(() => { output += `\n[run-tests] timed out after ${FILE_TIMEOUT_MS / 1000}s\n`; child.kill('SIGKILL') }, FILE_TIMEOUT_MS)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ file, ...testOutcome(output, code), output, ms: Date.now() - started })
    })
  })
}

async function runAll (files, parallel) {
  const results = []
  const queue = [...files]
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const r = await runFile(f)
      results.push(r)
      const name = relative(root, r.file)
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${name}  (${r.passed} passed${r.failed ? `, ${r.failed} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}, ${(r.ms / 1000).toFixed(1)}s)`)
      if (!r.ok) console.log(r.output.split('\n').map(l => `     | ${l}`).join('\n'))
    }
  }))
  return results
}

const selectedUnits = units.filter(keep)
const selectedE2e = e2e.filter(keep)
if (selectedUnits.length + selectedE2e.length === 0) {
  console.error('no test files found (did the build run?)')
  process.exit(1)
}
const results = [...await runAll(selectedUnits, 2), ...await runAll(selectedE2e, 1)]
const passed = results.reduce((n, r) => n + r.passed, 0)
const failed = results.reduce((n, r) => n + r.failed, 0)
const skipped = results.reduce((n, r) => n + r.skipped, 0)
console.log(`\n${results.length} files`)
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed === 0 && results.every(r => r.ok) ? 0 : 1)
