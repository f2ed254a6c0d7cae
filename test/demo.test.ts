/**
 * The README's first command runs `shoal demo`: a short run must show the swarm forming, a KV write seen
 * everywhere, a node killed and marked dead and its return, a job that survives a killed worker with the
 * right answer, and a clean stop that leaves no daemon behind.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { BIN_PATH } from '@shoal/cli/local-swarm'

test('shoal demo forms a swarm, survives kills, gets the job right and stops cleanly', async () => {
  const child = spawn(process.execPath, [BIN_PATH, 'demo', '--nodes', '4', '--duration', '45'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  assert.is(code, 0, out)
  for (const line of ['swarm formed: every node sees all 4 alive', 'visible on all 4 nodes', 'node 4 killed with SIGKILL', 'marked node 4 dead',
    'node 4 rejoined with the same peer id', /worker node \d killed with SIGKILL/, /job done: (\d+) primes \(a local count says \1: right\)/, 'all daemons stopped']) {
    assert.match(out, line)
  }
  const root = /starting 4 daemons in (\S+)/.exec(out)?.[1]
  assert.ok(root !== undefined, 'the demo names its temp folder')
  const { existsSync } = await import('node:fs')
  assert.not.ok(existsSync(root!), 'the temp folder is removed')
})

test.run()
