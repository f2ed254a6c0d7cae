/**
 * The release as a user gets it: scripts/release.mjs builds the tarball, the test checks it against
 * SHA256SUMS, unpacks it in a temp dir and runs bin/shoal with a PATH that has no node on it: --version (with
 * the commit), init, and a daemon that answers RPC, serves the dashboard and /readyz, and runs a job on its
 * worker threads (loaded by URL from the bundle). Also the helpers' own files (deploy/) that copy the release.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readDaemonInfo, readToken } from '@shoal/node'
import { createRpcClient } from '@shoal/rpc'
import { waitUntil } from '@shoal/test-utils'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const VERSION = /VERSION = '([^']+)'/.exec(await readFile(join(ROOT, 'packages/node/src/version.ts'), 'utf8'))?.[1] ?? '?'
const NAME = `shoal-${VERSION}-linux-x64`

let dir: string
let home: string
/** A PATH with only what the launcher itself calls (readlink, dirname): no node. */
let bareEnv: Record<string, string>
let report: { bytes: number, unpackedBytes: number, sha256: string, commit: string }

interface Run { code: number, stdout: string, stderr: string }
async function run (file: string, args: string[], env: Record<string, string>, timeout = 30_000): Promise<Run> {
  return await new Promise(resolve => {
    execFile(file, args, { env, timeout }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-release-'))
  const out = join(dir, 'out')
  // The build itself: tsc -b has run (the test is compiled); the release script bundles and packs.
  const built = execFileSync(process.execPath, [join(ROOT, 'scripts/release.mjs'), '--out', out], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 })
  report = JSON.parse(built.trim().split('\n').pop() ?? '{}')
  const unpack = join(dir, 'unpacked')
  await mkdir(unpack)
  execFileSync('tar', ['-xzf', join(out, `${NAME}.tar.gz`), '-C', unpack])
  home = join(unpack, NAME)
  const bin = join(dir, 'path-bin')
  await mkdir(bin)
  for (const tool of ['readlink', 'dirname']) {
    const found = ['/usr/bin', '/bin'].map(d => join(d, tool)).find(p => existsSync(p))
    if (found === undefined) throw new Error(`${tool} not found`)
    await symlink(found, join(bin, tool))
  }
  bareEnv = { PATH: bin, HOME: join(dir, 'home') }
})

test.after(async () => { await rm(dir, { recursive: true, force: true }) })

/** Calls the verify worker (argv[1]) on two signatures of one key over one message, the second altered; prints its verdicts and backend. */
const VERIFY_SCRIPT = `
  const { generateKeyPairSync, sign } = await import('node:crypto')
  const { pathToFileURL } = await import('node:url')
  const worker = await import(pathToFileURL(process.argv[1]).href)
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  const message = Buffer.from('shoal')
  const good = sign(null, message, privateKey)
  const bad = Buffer.from(good); bad[0] ^= 1
  const out = worker.default({ messages: Buffer.concat([message, message]), offsets: Uint32Array.of(0, 5, 10), signatures: Buffer.concat([good, bad]), keys: Buffer.concat([raw, raw]) })
  console.log(JSON.stringify({ verdicts: [...out], backend: worker.ed25519Backend }))`

test('the tarball matches SHA256SUMS and holds the runtime, the bundle, the addon and the licences, nothing more', async () => {
  const out = join(dir, 'out')
  const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8')
  const digest = createHash('sha256').update(await readFile(join(out, `${NAME}.tar.gz`))).digest('hex')
  assert.is(sums, `${digest}  ${NAME}.tar.gz\n`)
  assert.is(report.sha256, digest)
  for (const f of ['bin/shoal', 'runtime/bin/node', 'runtime/LICENSE', 'lib/shoal.js', 'lib/worker-entry.js', 'lib/builtin-work.js', 'lib/verify-worker.js', 'lib/piscina-worker.js', 'lib/native/classic-level.node', 'lib/public/index.html', 'BUILD.json', 'LICENSE-THIRD-PARTY.txt']) {
    assert.ok(existsSync(join(home, f)), `missing ${f}`)
  }
  assert.is((await stat(join(home, 'bin/shoal'))).mode & 0o111, 0o111, 'launcher executable')
  for (const f of ['deploy/systemd/shoal.service', 'deploy/docker/Dockerfile', 'deploy/docker/compose.yaml', 'deploy/kubernetes/statefulset.yaml', 'deploy/kubernetes/kustomization.yaml']) {
    assert.ok(existsSync(join(home, f)), `missing ${f}`)
  }
  assert.is((await stat(join(home, 'deploy/docker/entrypoint.sh'))).mode & 0o111, 0o111, 'the image runs the entrypoint directly')
  assert.ok(!existsSync(join(home, 'deploy/docker/swarm.key')) && !existsSync(join(home, 'deploy/kubernetes/swarm.key')), 'no swarm key ships')
  assert.equal((await readdir(join(home, 'lib'))).sort(), ['builtin-work.js', 'native', 'package.json', 'piscina-worker.js', 'public', 'shoal.js', 'verify-worker.js', 'worker-entry.js'], 'no node_modules: dependencies are bundled')
  assert.equal((await readdir(join(home, 'lib/native'))).sort(), ['classic-level.node', 'sodium-native.node'], 'two addons (LevelDB, libsodium), glibc linux-x64 only')
  const licences = await readFile(join(home, 'LICENSE-THIRD-PARTY.txt'), 'utf8')
  for (const name of ['libp2p@', '@chainsafe/libp2p-noise@', 'pino@', 'classic-level@', 'leveldb', 'snappy', 'sodium-native@', 'libsodium', 'Node.js', 'Permission is hereby granted', 'Apache License']) {
    assert.ok(licences.includes(name), `licence texts mention ${name}`)
  }
  // The size budget recorded in docs/operations.md; a change that doubles the bundle or ships node_modules fails.
  assert.ok(report.bytes < 48 * 1024 * 1024, `tarball ${report.bytes} bytes`)
  assert.ok(report.unpackedBytes < 125 * 1024 * 1024, `unpacked ${report.unpackedBytes} bytes`)
})

test('bin/shoal runs with no node on PATH: --version with the commit, init, a daemon that answers RPC', async () => {
  const shoal = join(home, 'bin/shoal')
  assert.is((await run('/bin/sh', ['-c', 'command -v node || echo none'], bareEnv)).stdout.trim(), 'none', 'the test PATH has no node')

  const version = await run(shoal, ['--version'], bareEnv)
  assert.is(version.code, 0, version.stderr)
  const commit = execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12', '--exclude', '*'], { cwd: ROOT, encoding: 'utf8' }).trim()
  assert.is(version.stdout.trim(), `shoal ${VERSION} (commit ${commit})`)
  assert.is(report.commit, commit)

  const dataDir = join(dir, 'data')
  const init = await run(shoal, ['init', '--data-dir', dataDir], bareEnv)
  assert.is(init.code, 0, init.stderr)
  assert.match(init.stdout, /peer id: 12D3Koo/)

  const child = spawn(shoal, ['daemon', '--data-dir', dataDir, '--rpc', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'info'], { env: bareEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', d => { log += d })
  child.stderr.on('data', d => { log += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  try {
    const info = await waitUntil('daemon.json', async () => await readDaemonInfo(dataDir), { timeoutMs: 20_000 })
    const client = createRpcClient({ url: info.rpcUrl, token: await readToken(dataDir) })
    const status = await client.call('node.info') as { peerId: string, version: string }
    assert.is(status.version, VERSION)
    assert.is(status.peerId, info.peerId)
    // Ed25519 through the libsodium addon beside the bundle, not node:crypto's stand-in (ed25519.ts).
    const started = await waitUntil('the daemon\'s start line', () => log.split('\n').find(l => l.includes('"msg":"node started"')), { timeoutMs: 10_000 })
    assert.is((JSON.parse(started) as { ed25519?: string }).ed25519, 'libsodium', started)
    const base = info.rpcUrl.replace(/\/rpc$/, '')
    assert.is((await fetch(`${base}/readyz`)).status, 200, 'a seed is ready')
    assert.match(await (await fetch(`${base}/`)).text(), '<title>Shoal', 'the dashboard files ship in lib/public')
    // The container entrypoint as the image runs it: from the release, probing with the release's own Node.
    const rpcHost = new URL(info.rpcUrl).host
    for (const probe of ['health', 'ready']) {
      const r = await run('/bin/sh', [join(home, 'deploy/docker/entrypoint.sh'), probe], { ...bareEnv, SHOAL_HOME: home, SHOAL_RPC: rpcHost })
      assert.is(r.code, 0, `entrypoint ${probe}: ${r.stderr}`)
    }
    // The signature-check thread's entry point (events/verify-pool.ts), run by the release's Node (on its main
    // thread: piscina loads it the same way as worker-entry.js, which the job below runs): it loads the libsodium
    // addon beside the bundle, and tells a good signature from a bad one.
    const checks = await run(join(home, 'runtime/bin/node'), ['--input-type=module', '-e', VERIFY_SCRIPT, join(home, 'lib/verify-worker.js')], bareEnv)
    assert.is(checks.code, 0, checks.stderr)
    assert.equal(JSON.parse(checks.stdout), { verdicts: [1, 0], backend: 'libsodium' })
    // A job: the task handlers run on worker threads whose entry points the bundle loads by URL.
    const job = await run(shoal, ['task', 'run', 'primes', '--input', '{"from":0,"to":100000}', '--split', '2', '--data-dir', dataDir], bareEnv)
    assert.is(job.code, 0, job.stderr)
    assert.is(job.stdout.trim().split('\n').pop(), '9592')
    child.kill('SIGTERM')
    assert.is(await exited, 0, `graceful exit; log:\n${log}`)
  } finally {
    child.kill('SIGKILL')
  }
})

test.run()
