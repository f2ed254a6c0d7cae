/**
 * The README's first command runs `shoal demo`: a short run must show the swarm forming, a node killed and
 * marked dead, its return, and a clean stop that leaves no daemon behind.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { BIN_PATH } from '@shoal/cli/local-swarm'

test('shoal demo forms a swarm, survives a kill -9 and stops cleanly', async () => {
  const child = spawn(process.execPath, [BIN_PATH, 'demo', '--nodes', '4', '--duration', '25'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  assert.is(code, 0, out)
  for (const line of ['swarm formed: every node sees all 4 alive', 'node 4 killed with SIGKILL', 'marked node 4 dead', 'node 4 rejoined with the same peer id', 'all daemons stopped']) {
    assert.match(out, line)
  }
  const root = /starting 4 daemons in (\S+)/.exec(out)?.[1]
  assert.ok(root !== undefined, 'the demo names its temp folder')
  const { existsSync } = await import('node:fs')
  assert.not.ok(existsSync(root!), 'the temp folder is removed')
})

test.run()
