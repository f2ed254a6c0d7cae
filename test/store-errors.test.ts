/**
 * The daemon refuses a data dir it cannot trust, with one clear message and a non-zero exit, and touches
 * nothing: a corrupt database, and a data dir already in use by another daemon.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'

let swarm: LocalSwarm

async function daemon (dataDir: string): Promise<{ code: number, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, 'daemon', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0', '--log-level', 'warn'],
      { timeout: 30_000 }, (err, _stdout, stderr) => { resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stderr }) })
  })
}

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
})

test.after(async () => {
  await swarm.destroy()
})

test('a data dir in use by a running daemon is refused with a message that says so', async () => {
  const running = await swarm.start(1)
  const second = await daemon(running.dataDir)
  assert.is(second.code, 1)
  assert.match(second.stderr, 'in use by another process')
  assert.is(running.child.exitCode, null, 'the running daemon is unaffected')
  await swarm.kill(1, 'SIGTERM')
})

test('a corrupt database is refused with a clear error and a pointer to the repair path', async () => {
  const node = await swarm.start(2)
  await node.client.call('kv.put', { key: 'k', value: 'v' })
  await swarm.kill(2, 'SIGTERM')
  const current = join(swarm.dataDir(2), 'db', 'CURRENT')
  await writeFile(current, 'garbage without a newline')
  const r = await daemon(swarm.dataDir(2))
  assert.is(r.code, 1)
  assert.match(r.stderr, 'corrupt')
  assert.match(r.stderr, 'docs/operations.md')
  assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
  assert.is(await readFile(current, 'utf8'), 'garbage without a newline', 'nothing was rewritten')
})

test.run()
