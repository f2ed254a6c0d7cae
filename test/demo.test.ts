/**
 * The README's first command runs `shoal demo`: a short run must show the swarm forming, a KV write seen
 * everywhere, a node killed and marked dead and its return, a job that survives a killed worker with the
 * right answer, and a clean stop that leaves no daemon behind. It tells the story to a person watching
 * (issue 13): never silent for long, set-up lines kept on screen, the stop drawn, nodes named as on the
 * dashboard (the end of the peer id).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { BIN_PATH } from '@shoal/cli/local-swarm'

/** The demo's own promise without a terminal (QUIET_MS in demo.ts), with room for a loaded machine. */
const MAX_SILENCE_MS = 10_000 + 5_000

test('shoal demo forms a swarm, survives kills, gets the job right and stops cleanly, never silent for long', async () => {
  const child = spawn(process.execPath, [BIN_PATH, 'demo', '--nodes', '4', '--duration', '45'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let last = Date.now()
  let longestSilence = 0
  const heard = (d: Buffer): void => { out += String(d); longestSilence = Math.max(longestSilence, Date.now() - last); last = Date.now() }
  child.stdout.on('data', heard)
  child.stderr.on('data', heard)
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  assert.is(code, 0, out)
  const name = '([A-Za-z0-9]{6})'
  for (const line of ['swarm formed: every node sees all 4 alive', 'visible on all 4 nodes', new RegExp(`node ${name} killed with SIGKILL`), new RegExp(`marked node ${name} dead`),
    new RegExp(`node ${name} rejoined with the same peer id`), new RegExp(`worker node ${name} killed with SIGKILL`), /job done: (\d+) primes \(a local count says \1: right\)/,
    'the story is over', 'stopping: every daemon gets SIGTERM', 'all daemons stopped']) {
    assert.match(out, line)
  }
  assert.ok(longestSilence <= MAX_SILENCE_MS, `silent for ${longestSilence} ms`)
  // Names: the ones listed at start are the ones the story and the table use.
  const names = /all 4 daemons running: (\w{6}), (\w{6}), (\w{6}), (\w{6});/.exec(out)?.slice(1)
  assert.ok(names !== undefined, 'the demo lists its nodes by name')
  assert.ok(names!.includes(new RegExp(`node ${name} killed`).exec(out)![1]!), 'the killed node is one of them')
  assert.not.match(out, /\bn[1-4]\b/, 'no n1..n4 names')
  const root = /starting 4 daemons in (\S+?)…/.exec(out)?.[1]
  assert.ok(root !== undefined, 'the demo names its temp folder')
  assert.not.ok(existsSync(root!), 'the temp folder is removed')
})

test('on a terminal: the set-up lines stay on screen and the stop is drawn after the last frame', async () => {
  const script = await new Promise<boolean>(resolve => { execFile('script', ['--version'], err => { resolve(err === null) }) })
  if (!script) { console.log('demo.test: the terminal check skipped: `script` (util-linux) is missing'); return }
  const cmd = [process.execPath, BIN_PATH, 'demo', '--nodes', '3', '--duration', '20', '--no-churn'].map(a => `'${a}'`).join(' ')
  const out = await new Promise<string>(resolve => {
    execFile('script', ['-qfec', cmd, '/dev/null'], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) => { resolve(stdout) })
  })
  const frames = out.split('\x1b[2J\x1b[H')
  assert.ok(frames.length > 3, `frames drawn: ${frames.length}`)
  const lastFrame = frames.at(-1)!
  assert.match(lastFrame, 'starting 3 daemons in', 'the first line is still on screen at the end')
  assert.match(lastFrame, 'dashboard: http://127.0.0.1:')
  assert.match(lastFrame, /stopping: every daemon gets SIGTERM[\s\S]*all daemons stopped/, 'the stop is drawn')
  assert.not.match(out, 'worker node', '--no-churn: no kills')
})

test.run()
