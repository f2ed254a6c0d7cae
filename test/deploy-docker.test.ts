/**
 * deploy/docker: no container engine runs here, so the test checks what can be checked without one:
 * the Dockerfile copies exactly what scripts/release.mjs produces, verifies it, and runs as a non-root user with
 * a data volume and a HEALTHCHECK; the entrypoint script (run for real, against a stand-in release and against
 * a real daemon's health endpoints); and the compose file's structure (5 nodes, one private swarm, one
 * bootstrap name that is a service, a volume each).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { LocalSwarm } from '@shoal/cli/local-swarm'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DOCKER = join(ROOT, 'deploy/docker')
const ENTRYPOINT = join(DOCKER, 'entrypoint.sh')
const VERSION = /VERSION = '([^']+)'/.exec(await readFile(join(ROOT, 'packages/node/src/version.ts'), 'utf8'))?.[1] ?? '?'

/** Dockerfile instructions (continuation lines joined), in order. */
async function dockerfile (): Promise<Array<{ op: string, args: string }>> {
  const text = (await readFile(join(DOCKER, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ')
  return text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
    .map(l => { const m = /^(\S+)\s+(.*)$/.exec(l); return { op: (m?.[1] ?? l).toUpperCase(), args: m?.[2] ?? '' } })
}

test('Dockerfile: built from the release tarball, checked against SHA256SUMS, non-root, data volume, HEALTHCHECK', async () => {
  const ins = await dockerfile()
  const one = (op: string): string => { const found = ins.filter(i => i.op === op); assert.is(found.length, 1, `one ${op}`); return found[0]?.args ?? '' }
  assert.is(one('ARG'), `SHOAL_VERSION=${VERSION}`, 'the default version is the one this checkout releases')
  assert.is(one('COPY'), 'shoal-${SHOAL_VERSION}-linux-x64.tar.gz SHA256SUMS /tmp/release/', 'copies the names scripts/release.mjs writes')
  const release = await readFile(join(ROOT, 'scripts/release.mjs'), 'utf8')
  assert.ok(release.includes('const name = `shoal-${VERSION}-linux-x64`') && release.includes("join(outDir, 'SHA256SUMS')"), 'release.mjs still writes those names')
  const run = one('RUN')
  assert.match(run, /sha256sum -c SHA256SUMS .*tar -xzf/, 'verified before unpacking')
  assert.ok(!/npm|pnpm|apt-get install/.test(run), 'nothing built or fetched: only the release')
  const user = one('USER')
  assert.ok(!/^(root|0)(:|$)/.test(user), `runs as ${user}`)
  assert.match(run, new RegExp(`useradd [^&]*--uid ${user.split(':')[0] ?? ''} `), 'the USER exists')
  const dataDir = /SHOAL_DATA_DIR=(\S+)/.exec(one('ENV'))?.[1]
  assert.is(dataDir, '/var/lib/shoal')
  assert.equal(JSON.parse(one('VOLUME')), [dataDir], 'the data dir is the volume')
  assert.match(run, new RegExp(`install -d -o shoal -g shoal -m 0700 ${dataDir ?? ''}`), 'the volume is owned by the user')
  assert.ok(ins.findIndex(i => i.op === 'USER') > ins.findIndex(i => i.op === 'RUN'), 'USER after the root-only steps')
  assert.match(one('HEALTHCHECK'), /CMD \["\/opt\/shoal\/deploy\/docker\/entrypoint\.sh", "health"\]/)
  assert.equal(JSON.parse(one('ENTRYPOINT')), ['/opt/shoal/deploy/docker/entrypoint.sh'])
  assert.ok(release.includes("cpSync(join(root, 'deploy'), join(stage, 'deploy')"), 'the release ships deploy/ (the entrypoint the image runs)')
})

/** A stand-in release: bin/shoal prints its arguments and the data dir; runtime/bin/node is this Node. */
async function fakeRelease (dir: string): Promise<string> {
  const home = join(dir, 'release')
  await mkdir(join(home, 'bin'), { recursive: true })
  await mkdir(join(home, 'runtime/bin'), { recursive: true })
  await writeFile(join(home, 'bin/shoal'), '#!/bin/sh\necho "args:$*"\necho "data:$SHOAL_DATA_DIR"\n')
  await chmod(join(home, 'bin/shoal'), 0o755)
  await symlink(process.execPath, join(home, 'runtime/bin/node'))
  return home
}

async function entry (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile('/bin/sh', [ENTRYPOINT, ...args], { env: { PATH: '/usr/bin:/bin', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

test('entrypoint: daemon by default, flags go to the daemon, other commands pass through, a missing key stops it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-entry-'))
  try {
    const home = await fakeRelease(dir)
    const env = { SHOAL_HOME: home }
    assert.equal(await entry([], env), { code: 0, stdout: 'args:daemon\ndata:/var/lib/shoal\n', stderr: '' })
    assert.is((await entry(['daemon', '--log-level', 'debug'], env)).stdout, 'args:daemon --log-level debug\ndata:/var/lib/shoal\n')
    assert.is((await entry(['--log-level', 'debug'], env)).stdout, 'args:daemon --log-level debug\ndata:/var/lib/shoal\n')
    assert.is((await entry(['kv', 'get', 'k'], { ...env, SHOAL_DATA_DIR: '/data' })).stdout, 'args:kv get k\ndata:/data\n')
    const noKey = await entry([], { ...env, SHOAL_SWARM_KEY: join(dir, 'absent.key') })
    assert.is(noKey.code, 2)
    assert.match(noKey.stderr, 'is not a readable file')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('entrypoint health/ready: exit 0 only on a 200 from /healthz or /readyz (a real daemon, a 503, nothing listening)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-entry-'))
  const swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  const server = createServer((req, res) => { res.writeHead(req.url === '/healthz' ? 200 : 503); res.end() })
  try {
    const home = await fakeRelease(dir)
    const node = await swarm.start(1)
    const rpc = new URL(node.rpcUrl).host
    assert.is((await entry(['health'], { SHOAL_HOME: home, SHOAL_RPC: rpc })).code, 0, 'daemon up')
    assert.is((await entry(['ready'], { SHOAL_HOME: home, SHOAL_RPC: rpc })).code, 0, 'a seed is ready')
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const other = `127.0.0.1:${(server.address() as AddressInfo).port}`
    assert.is((await entry(['health'], { SHOAL_HOME: home, SHOAL_RPC: other })).code, 0)
    assert.is((await entry(['ready'], { SHOAL_HOME: home, SHOAL_RPC: other })).code, 1, '503 is not ready')
    await swarm.kill(1, 'SIGTERM')
    assert.is((await entry(['health'], { SHOAL_HOME: home, SHOAL_RPC: rpc })).code, 1, 'nothing listening')
  } finally {
    server.close()
    await swarm.destroy()
    await rm(dir, { recursive: true, force: true })
  }
})

test('compose: 5 nodes of one image, one private swarm, bootstrap by a service name, a volume each', async () => {
  const doc = parse(await readFile(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, { image: string, hostname?: string, environment: Record<string, string>, secrets: string[], volumes: string[], networks: string[], stop_grace_period?: string }>
    volumes: Record<string, unknown>
    secrets: Record<string, { file: string }>
    networks: Record<string, unknown>
  }
  const names = Object.keys(doc.services).sort()
  assert.equal(names, ['node-0', 'node-1', 'node-2', 'node-3', 'node-4'])
  const images = new Set(names.map(n => doc.services[n]?.image))
  assert.equal([...images], [`shoal:${VERSION}`])
  const volumes = new Set<string>()
  for (const name of names) {
    const s = doc.services[name]
    if (s === undefined) throw new Error(name)
    const bootstrap = s.environment.SHOAL_BOOTSTRAP ?? ''
    const host = /^\/dns4\/([^/]+)\/tcp\/7700$/.exec(bootstrap)?.[1]
    assert.ok(host !== undefined && host in doc.services, `${name}: bootstrap ${bootstrap} names a service`)
    assert.is(s.environment.SHOAL_SWARM_KEY, `/run/secrets/${s.secrets[0] ?? ''}`, `${name}: swarm key from the secret`)
    assert.ok(s.secrets.every(k => k in doc.secrets), `${name}: secrets declared`)
    assert.ok(s.networks.every(n => n in doc.networks), `${name}: networks declared`)
    assert.is(s.volumes.length, 1)
    const [vol, target] = (s.volumes[0] ?? '').split(':')
    assert.is(target, '/var/lib/shoal', `${name}: the image's data volume`)
    assert.ok(vol !== undefined && vol in doc.volumes, `${name}: a named volume`)
    volumes.add(vol ?? '')
    assert.is(s.stop_grace_period, '6s', `${name}: more than the daemon's 4.5 s shutdown deadline`)
  }
  assert.is(volumes.size, 5, 'no two nodes share a store')
  assert.is(doc.secrets.swarm_key?.file, './swarm.key')
})

test.run()
