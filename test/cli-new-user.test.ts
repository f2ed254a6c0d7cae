/**
 * The CLI a new user meets (issue 13), on real daemons: a failed start is one line with exit code 2 and leaves
 * no identity behind; the banner and `shoal status` give the dashboard's address; `kv put` and `events publish`
 * refuse broken JSON and take values from a file or stdin; `members` and `peers` fit 100 columns; `--acks` beyond a lone node
 * says why at once; JSON log lines carry each key once.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'
import type { LocalNode } from '@shoal/cli/local-swarm'

interface Run { code: number, stdout: string, stderr: string, ms: number }

async function shoal (args: string[], opts: { input?: string } = {}): Promise<Run> {
  const started = Date.now()
  return await new Promise(resolve => {
    const child = execFile(process.execPath, [BIN_PATH, ...args], { env: { ...process.env, SHOAL_DATA_DIR: '', SHOAL_RPC: '', SHOAL_RPC_TOKEN: '' }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr, ms: Date.now() - started })
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    else child.stdin!.end()
  })
}

async function occupy (): Promise<{ server: Server, port: number }> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)

/** One line on stderr, no stack trace, no libp2p internals. */
function assertOneLine (r: Run, what: string): void {
  const lines = r.stderr.trim().split('\n')
  assert.is(lines.length, 1, `${what}: ${r.stderr}`)
  assert.not.match(r.stderr, /^\s+at /m, `${what}: stack trace`)
  assert.not.match(r.stderr, 'faultTolerance', `${what}: libp2p internals`)
  assert.not.match(r.stderr, 'unexpected error', what)
}

let dir: string
let swarm: LocalSwarm
let n1: LocalNode

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-newuser-'))
  swarm = await LocalSwarm.create({ args: ['--log-level', 'info'] })
  n1 = await swarm.start(1)
})

test.after(async () => {
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

test('libp2p port in use: one line, exit 2, and the new data dir is gone again (no identity left behind)', async () => {
  const { server, port } = await occupy()
  try {
    const fresh = join(dir, 'fresh-listen')
    const r = await shoal(['daemon', '--data-dir', fresh, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--rpc', '127.0.0.1:0'])
    assert.is(r.code, 2, r.stderr)
    assertOneLine(r, 'listen in use')
    assert.match(r.stderr, `shoal: cannot listen on /ip4/127.0.0.1/tcp/${port}: address already in use`)
    assert.not.ok(await exists(join(fresh, 'identity.key')), 'no identity left behind')
    assert.not.ok(await exists(fresh), 'the data dir this start created is removed')
  } finally {
    server.close()
  }
})

test('a listen address libp2p refuses after the data dir was created: exit 2, and what the start created is removed', async () => {
  // Not a TCP port the early check can bind (a WebSocket address, no such transport here): libp2p fails later.
  const fresh = join(dir, 'fresh-ws')
  const r = await shoal(['daemon', '--data-dir', fresh, '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--rpc', '127.0.0.1:0'])
  assert.is(r.code, 2, r.stderr)
  const last = r.stderr.trim().split('\n').at(-1)!
  assert.match(last, /^shoal: (cannot listen on \/ip4\/127\.0\.0\.1\/tcp\/0\/ws|could not start the node)/)
  assert.not.match(r.stderr, /^\s+at /m)
  assert.not.match(r.stderr, 'faultTolerance')
  assert.not.ok(await exists(fresh), 'the data dir this start created (identity, token, store) is removed')
})

test('RPC port in use: one line, exit 2; an initialised data dir keeps its identity', async () => {
  const { server, port } = await occupy()
  try {
    const inited = join(dir, 'inited')
    assert.is((await shoal(['init', '--data-dir', inited])).code, 0)
    const identity = await readFile(join(inited, 'identity.key'))
    const r = await shoal(['daemon', '--data-dir', inited, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', `127.0.0.1:${port}`])
    assert.is(r.code, 2, r.stderr)
    assertOneLine(r, 'rpc in use')
    assert.match(r.stderr, `shoal: cannot serve RPC on 127.0.0.1:${port}: address already in use`)
    assert.equal(await readFile(join(inited, 'identity.key')), identity, 'identity untouched')
    assert.not.ok(await exists(join(inited, 'daemon.json')))
  } finally {
    server.close()
  }
})

test('init or backup where a file is in the way: one line naming the path, exit 2', async () => {
  const file = join(dir, 'in-the-way')
  await writeFile(file, 'hello')
  for (const args of [['init', '--data-dir', file], ['init', '--data-dir', join(file, 'sub')], ['backup', file, '--data-dir', n1.dataDir], ['backup', join(file, 'sub'), '--data-dir', n1.dataDir]]) {
    const r = await shoal(args)
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assertOneLine(r, args.join(' '))
    assert.match(r.stderr, file, `${args.join(' ')} names the path`)
  }
  assert.is(await readFile(file, 'utf8'), 'hello')
})

test('a --data-dir that is a file: one line, exit 2, the file untouched', async () => {
  const file = join(dir, 'not-a-dir')
  await writeFile(file, 'hello')
  const r = await shoal(['daemon', '--data-dir', file, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0'])
  assert.is(r.code, 2, r.stderr)
  assertOneLine(r, 'data dir file')
  assert.match(r.stderr, `shoal: cannot use the data dir ${file}: it is a file, not a directory`)
  assert.is(await readFile(file, 'utf8'), 'hello')
})

test("the start-up banner and `shoal status` print the dashboard's address", async () => {
  const dashboard = n1.rpcUrl.replace(/rpc$/, '')
  const banner = await readFile(join(n1.dataDir, 'daemon.log'), 'utf8')
  assert.match(banner, `dashboard: ${dashboard} (log in with the token in ${join(n1.dataDir, 'rpc.token')})`)
  const r = await shoal(['status', '--data-dir', n1.dataDir])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, `dashboard: ${dashboard}`)
  const json = await shoal(['status', '--data-dir', n1.dataDir, '--json'])
  assert.is(JSON.parse(json.stdout).dashboard, dashboard)
})

test('kv put: broken JSON is refused and nothing stored; a 900 KB value from @FILE and a value from stdin are', async () => {
  const bad = await shoal(['kv', 'put', 'bad', '{"a":1', '--data-dir', n1.dataDir])
  assert.is(bad.code, 2, bad.stderr)
  assert.match(bad.stderr, 'shoal kv put: VALUE is not valid JSON')
  assert.is((await shoal(['kv', 'get', 'bad', '--data-dir', n1.dataDir])).code, 4, 'not stored')

  const big = { blob: 'x'.repeat(900 * 1024) }
  const file = join(dir, 'big.json')
  await writeFile(file, JSON.stringify(big))
  const put = await shoal(['kv', 'put', 'big', `@${file}`, '--data-dir', n1.dataDir])
  assert.is(put.code, 0, put.stderr)
  assert.match(put.stdout, 'stored big')
  const got = await shoal(['kv', 'get', 'big', '--data-dir', n1.dataDir])
  assert.equal(JSON.parse(got.stdout), big)

  const piped = await shoal(['kv', 'put', 'piped', '-', '--data-dir', n1.dataDir], { input: '{"from":"stdin"}\n' })
  assert.is(piped.code, 0, piped.stderr)
  assert.equal(JSON.parse((await shoal(['kv', 'get', 'piped', '--data-dir', n1.dataDir])).stdout), { from: 'stdin' })
})

test('events publish takes DATA as kv put takes VALUE: broken JSON refused (nothing published), @FILE and stdin read', async () => {
  const before = JSON.parse((await shoal(['events', 'list', 'cli-data', '--json', '--data-dir', n1.dataDir])).stdout) as { events: unknown[] }
  const bad = await shoal(['events', 'publish', 'cli-data', '{"a":1', '--data-dir', n1.dataDir])
  assert.is(bad.code, 2, bad.stderr)
  assert.match(bad.stderr, 'shoal events publish: DATA is not valid JSON')
  const file = join(dir, 'event.json')
  await writeFile(file, JSON.stringify({ from: 'file' }))
  assert.is((await shoal(['events', 'publish', 'cli-data', `@${file}`, '--data-dir', n1.dataDir])).code, 0)
  assert.is((await shoal(['events', 'publish', 'cli-data', '-', '--data-dir', n1.dataDir], { input: '[1,2]' })).code, 0)
  assert.is((await shoal(['events', 'publish', 'cli-data', 'hello', '--data-dir', n1.dataDir])).code, 0)
  const after = JSON.parse((await shoal(['events', 'list', 'cli-data', '--json', '--data-dir', n1.dataDir])).stdout) as { events: Array<{ data: unknown }> }
  assert.equal(after.events.slice(before.events.length).map(e => e.data), [{ from: 'file' }, [1, 2], 'hello'])
})

test('--acks 3 on a lone node answers at once and says why, not "in time"', async () => {
  const r = await shoal(['kv', 'put', 'lonely', '1', '--acks', '3', '--data-dir', n1.dataDir])
  assert.is(r.code, 1, r.stderr)
  assert.not.match(r.stderr, 'in time')
  assert.match(r.stderr, 'this node sees 0 live peers, so at most 1 of the 3 required nodes can hold it')
  assert.ok(r.ms < 8_000, `answered after ${r.ms} ms (the ack timeout is 10 s)`)
})

test('members and peers fit 100 columns; --wide and --json show full peer ids', async () => {
  const n2 = await swarm.start(2, { bootstrap: [n1.addrs[0]!] })
  const { waitUntil } = await import('@shoal/test-utils')
  await waitUntil('n1 sees n2 alive', async () => (await n1.client.call('swarm.members', {})).some(m => m.id === n2.peerId && m.state === 'alive'))
  for (const cmd of ['members', 'peers']) {
    const r = await shoal([cmd, '--data-dir', n1.dataDir])
    assert.is(r.code, 0, r.stderr)
    const widest = Math.max(...r.stdout.trimEnd().split('\n').map(l => l.length))
    assert.ok(widest <= 100, `${cmd}: ${widest} columns\n${r.stdout}`)
    assert.not.match(r.stdout, n2.peerId, `${cmd}: short ids`)
    const wide = await shoal([cmd, '--wide', '--data-dir', n1.dataDir])
    assert.match(wide.stdout, n2.peerId, `${cmd} --wide`)
    const json = await shoal([cmd, '--json', '--data-dir', n1.dataDir])
    assert.match(json.stdout, n2.peerId, `${cmd} --json`)
  }
})

test('JSON log lines (stderr not a terminal) carry each key once', async () => {
  const log = await readFile(join(n1.dataDir, 'daemon.log'), 'utf8')
  const lines = log.split('\n').filter(l => l.startsWith('{'))
  assert.ok(lines.length >= 3, `log lines: ${lines.length}`)
  for (const line of lines) {
    const keys = topKeys(line)
    assert.equal(keys.filter((k, i) => keys.indexOf(k) !== i), [], line)
  }
  assert.ok(lines.some(l => l.includes('"component"')), 'component lines are there')
})

test('on a terminal the daemon logs readable lines, not JSON', async () => {
  const script = await new Promise<boolean>(resolve => { execFile('script', ['--version'], err => { resolve(err === null) }) })
  if (!script) { console.log('cli-new-user: the terminal log check skipped: `script` (util-linux) is missing'); return }
  const dataDir = join(dir, 'tty')
  const cmd = [process.execPath, BIN_PATH, 'daemon', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0', '--log-level', 'info'].map(a => `'${a}'`).join(' ')
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  try {
    const { waitUntil } = await import('@shoal/test-utils')
    await waitUntil('the node started line', () => out.includes('node started'), { timeoutMs: 30_000 })
    const logLine = out.split(/\r?\n/).find(l => l.includes('node started'))!
    assert.not.match(logLine, /^\s*\{/, logLine)
    assert.match(logLine, /^\d\d:\d\d:\d\d\.\d{3} INFO /)
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    const info = await readFile(join(dataDir, 'daemon.json'), 'utf8').then(t => JSON.parse(t) as { pid: number }, () => undefined)
    if (info !== undefined) { try { process.kill(info.pid, 'SIGKILL') } catch {} }
  }
})

/** Top-level keys of a JSON line as written, repeats included (JSON.parse would hide a repeat). */
function topKeys (line: string): string[] {
  const keys: string[] = []
  let depth = 0
  for (const m of line.matchAll(/[{}[\]]|"((?:[^"\\]|\\.)*)"(\s*:)?/g)) {
    if (m[0] === '{' || m[0] === '[') depth++
    else if (m[0] === '}' || m[0] === ']') depth--
    else if (depth === 1 && m[2] !== undefined) keys.push(m[1]!)
  }
  return keys
}

test.run()
