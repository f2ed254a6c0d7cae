/**
 * The release as a user gets it, for end-to-end tests: scripts/release.mjs packs the tarball (after tsc -b, which
 * compiled this file), the helper unpacks it into a temp dir and makes a PATH with no node on it (only the two
 * tools the launcher calls). SHOAL_RELEASE_HOME=<an unpacked shoal-<v>-linux-x64 dir> skips the build (a release
 * built elsewhere, or one built once for several test files).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface UnpackedRelease {
  /** The release directory: bin/shoal, runtime/, lib/ ... */
  home: string
  /** bin/shoal, absolute. */
  shoal: string
  /** A PATH holding only readlink and dirname (what bin/shoal calls): a machine with no Node installed. */
  barePath: string
}

/** Builds the tarball into `dir`/out and unpacks it into `dir`/unpacked (or takes SHOAL_RELEASE_HOME). */
export async function unpackedRelease (dir: string): Promise<UnpackedRelease> {
  const given = process.env.SHOAL_RELEASE_HOME
  let home: string
  if (given !== undefined && given !== '') {
    home = given
  } else {
    const version = /VERSION = '([^']+)'/.exec(await readFile(join(REPO_ROOT, 'packages/node/src/version.ts'), 'utf8'))?.[1] ?? '?'
    const name = `shoal-${version}-linux-x64`
    const out = join(dir, 'out')
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/release.mjs'), '--out', out], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000 })
    const unpack = join(dir, 'unpacked')
    await mkdir(unpack, { recursive: true })
    execFileSync('tar', ['-xzf', join(out, `${name}.tar.gz`), '-C', unpack])
    home = join(unpack, name)
  }
  const shoal = join(home, 'bin/shoal')
  if (!existsSync(shoal)) throw new Error(`no bin/shoal in ${home}`)
  const bin = join(dir, 'path-bin')
  await mkdir(bin, { recursive: true })
  for (const tool of ['readlink', 'dirname']) {
    const found = ['/usr/bin', '/bin'].map(d => join(d, tool)).find(p => existsSync(p))
    if (found === undefined) throw new Error(`${tool} not found`)
    if (!existsSync(join(bin, tool))) await symlink(found, join(bin, tool))
  }
  return { home, shoal, barePath: bin }
}
