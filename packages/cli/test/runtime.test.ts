/**
 * The runtime check at the CLI's entry (issue 13: on Node 20 commands died with "Promise.withResolvers is not
 * a function"). The rule with injected versions, then the built CLI under the system's own Node 20 if there is one.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runtimeProblem } from '../src/runtime.js'

const BIN = fileURLToPath(new URL('../src/bin.js', import.meta.url))

test('Node 22+ with Promise.withResolvers passes; older or without it gets what to do', () => {
  assert.is(runtimeProblem({ version: '22.0.0', execPath: '/x/node', hasWithResolvers: true }), undefined)
  assert.is(runtimeProblem({ version: '24.22.3', execPath: '/x/node', hasWithResolvers: true }), undefined)
  const old = runtimeProblem({ version: '20.20.2', execPath: '/usr/bin/node', hasWithResolvers: false })!
  assert.match(old, 'needs Node.js 22 or newer, but runs on Node 20.20.2 (/usr/bin/node)')
  assert.match(old, 'scripts/dev shoal')
  assert.ok(runtimeProblem({ version: '22.0.0', execPath: '/x/node', hasWithResolvers: false }) !== undefined, 'a runtime lacking the API')
})

test('the built CLI under an older system Node: one line saying what to do, exit 2, no stack trace', async () => {
  const node = '/usr/bin/node'
  const version = existsSync(node) ? await run(node, ['--version']) : undefined
  const major = version === undefined ? undefined : Number(version.stdout.replace(/^v/, '').split('.')[0])
  if (major === undefined || major >= 22) {
    console.log(`runtime.test: the check under an old Node skipped: ${major === undefined ? `${node} is missing` : `${node} is Node ${major}, not older than 22`}`)
    return
  }
  for (const args of [['--version'], ['status', '--rpc', '127.0.0.1:9']]) {
    const r = await run(node, [BIN, ...args])
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.is(r.stdout, '')
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^shoal: needs Node\.js 22 or newer, but runs on Node 2\d\./)
    assert.not.match(r.stderr, 'withResolvers is not a function')
  }
})

async function run (cmd: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test.run()
