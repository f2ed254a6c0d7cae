/**
 * The `shoal` CLI as a person runs it: init, swarm-key, config errors with exit code 2, precedence of flags
 * over environment over config file, and the commands that talk to a running daemon.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { BIN_PATH, LocalSwarm } from '@shoal/cli/local-swarm'

/** A port nothing listens on: bind one, then let it go. (Port 1 would not do: fetch refuses "bad ports".) */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

interface Run { code: number, stdout: string, stderr: string }

async function shoal (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, ...args], { env: { ...process.env, SHOAL_DATA_DIR: '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

let dir: string
let swarm: LocalSwarm

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cli-'))
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
})

test.after(async () => {
  await swarm.destroy()
  await rm(dir, { recursive: true, force: true })
})

test('init creates identity, token and config readable only by the owner, and refuses to run twice', async () => {
  const dataDir = join(dir, 'a')
  const first = await shoal(['init', '--data-dir', dataDir, '--swarm', 'lab'])
  assert.is(first.code, 0, first.stderr)
  assert.match(first.stdout, /peer id: 12D3Koo/)
  for (const file of ['identity.key', 'rpc.token', 'config.json']) {
    const mode = (await stat(join(dataDir, file))).mode & 0o777
    assert.is(mode, 0o600, `${file} mode`)
  }
  assert.equal(JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')), { swarm: 'lab' })
  const identity = await readFile(join(dataDir, 'identity.key'))
  const again = await shoal(['init', '--data-dir', dataDir])
  assert.is(again.code, 1)
  assert.match(again.stderr, 'already exists')
  assert.equal(await readFile(join(dataDir, 'identity.key')), identity, 'identity untouched')
})

test('init with a bad swarm name is a usage error and writes nothing', async () => {
  const dataDir = join(dir, 'bad-swarm')
  const r = await shoal(['init', '--data-dir', dataDir, '--swarm', 'Not Valid!'])
  assert.is(r.code, 2)
  assert.match(r.stderr, 'swarm')
  assert.not.ok(await stat(dataDir).then(() => true, () => false), 'no data dir created')
})

test('swarm-key prints a pnet key', async () => {
  const r = await shoal(['swarm-key'])
  assert.is(r.code, 0)
  assert.match(r.stdout, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
})

test('invalid config: one line naming field, value and expectation; exit code 2', async () => {
  const dataDir = join(dir, 'b')
  assert.is((await shoal(['init', '--data-dir', dataDir])).code, 0)
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--rpc', '127.0.0.1:99999'], {}, 'rpc'],
    [['--rpc', '0.0.0.0:0'], {}, 'rpc.host'],
    [['--listen', '/ip4/127.0.0.1/tcp/notaport'], {}, 'listen[0]'],
    [[], { SHOAL_LOG_LEVEL: 'loud' }, 'logLevel'],
    [['--swarm', 'UPPER'], {}, 'swarm']
  ]
  for (const [args, env, field] of cases) {
    const r = await shoal(['daemon', '--data-dir', dataDir, ...args], env)
    assert.is(r.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: exit code (stderr: ${r.stderr})`)
    assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
    assert.match(r.stderr, field)
    assert.match(r.stderr, 'expected')
  }
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ membership: { probeIntervalMs: 'fast' } }))
  const fromFile = await shoal(['daemon', '--data-dir', dataDir])
  assert.is(fromFile.code, 2)
  assert.match(fromFile.stderr, 'membership.probeIntervalMs = "fast"')
  await writeFile(join(dataDir, 'config.json'), '{ not json')
  assert.is((await shoal(['daemon', '--data-dir', dataDir])).code, 2)
  const unknownFlag = await shoal(['daemon', '--data-dir', dataDir, '--frobnicate'])
  assert.is(unknownFlag.code, 2)
  assert.match(unknownFlag.stderr, '--frobnicate')
})

test('precedence: flags over SHOAL_* environment over config file over defaults', async () => {
  const node = 10
  await shoal(['init', '--data-dir', swarm.dataDir(node)])
  await writeFile(join(swarm.dataDir(node), 'config.json'), JSON.stringify({ swarm: 'from-file' }))
  const swarmOf = async (opts: { args?: string[], env?: Record<string, string> }): Promise<string> => {
    const n = await swarm.start(node, opts)
    const { swarm: name } = await n.client.call('node.info', {})
    await swarm.kill(node, 'SIGTERM')
    return name
  }
  assert.is(await swarmOf({}), 'from-file')
  assert.is(await swarmOf({ env: { SHOAL_SWARM: 'from-env' } }), 'from-env')
  assert.is(await swarmOf({ env: { SHOAL_SWARM: 'from-env' }, args: ['--swarm', 'from-flag'] }), 'from-flag')
})

test('status, connect, peers and members talk to a running daemon', async () => {
  const a = await swarm.start(1)
  const b = await swarm.start(2)
  const dataDir = ['--data-dir', a.dataDir]
  const status = await shoal(['status', ...dataDir])
  assert.is(status.code, 0, status.stderr)
  assert.match(status.stdout, a.peerId)
  const connect = await shoal(['connect', b.addrs[0]!, ...dataDir])
  assert.is(connect.code, 0, connect.stderr)
  assert.match(connect.stdout, `connected to ${b.peerId}`)
  const peers = await shoal(['peers', ...dataDir, '--json'])
  assert.ok(JSON.parse(peers.stdout).some((p: { peerId: string }) => p.peerId === b.peerId))
  let members = await shoal(['members', '--wide', ...dataDir])
  for (let i = 0; i < 50 && !members.stdout.includes(b.peerId); i++) members = await shoal(['members', '--wide', ...dataDir])
  assert.match(members.stdout, b.peerId)
  assert.match(members.stdout, 'STATE')
  // The default table names it by its shortened id (first 8 and last 6 characters).
  assert.match((await shoal(['members', ...dataDir])).stdout, `${b.peerId.slice(0, 8)}…${b.peerId.slice(-6)}`)
  const byRpc = await shoal(['status', '--rpc', a.rpcUrl, '--token', (await readFile(join(a.dataDir, 'rpc.token'), 'utf8')).trim(), '--json'])
  assert.is(JSON.parse(byRpc.stdout).peerId, a.peerId)
  const badAddr = await shoal(['connect', 'nonsense', ...dataDir])
  // Checked by the CLI before the daemon is asked: a usage error in words (the RPC's answer quoted a regex).
  assert.is(badAddr.code, 2)
  assert.match(badAddr.stderr, "shoal connect: 'nonsense' is not a multiaddr")
})

test('no daemon running: a clear message and exit code 3', async () => {
  const empty = join(dir, 'empty')
  assert.is((await shoal(['init', '--data-dir', empty])).code, 0)
  const r = await shoal(['status', '--data-dir', empty])
  assert.is(r.code, 3)
  assert.match(r.stderr, 'no daemon is running')
  const closed = await shoal(['status', '--data-dir', empty, '--rpc', `127.0.0.1:${await freePort()}`])
  assert.is(closed.code, 3)
  assert.match(closed.stderr, 'no daemon is answering')
})

test('unknown commands and flags are usage errors', async () => {
  const r = await shoal(['frob'])
  assert.is(r.code, 2)
  assert.match(r.stderr, "unknown command 'frob'")
  const help = await shoal(['--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, 'daemon')
})

test.run()
