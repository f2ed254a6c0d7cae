/**
 * Which commit this program was built from, for `shoal --version`. A release build (scripts/release.mjs)
 * replaces `__SHOAL_COMMIT__` with the commit through esbuild's `define`; run from a checkout, the commit is
 * read from git, or is 'unknown' when git cannot tell.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

declare const __SHOAL_COMMIT__: string | undefined

/** `<hash>` of the build (12 hex digits, `-dirty` when built from uncommitted changes), or 'unknown'. */
export function buildCommit (): string {
  if (typeof __SHOAL_COMMIT__ === 'string') return __SHOAL_COMMIT__
  try {
    const cwd = fileURLToPath(new URL('.', import.meta.url))
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12', '--exclude', '*'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim() || 'unknown'
  } catch {
    return 'unknown'
  }
}

/** The `--version` line: `shoal 0.1.0 (commit 0123456789ab)`. */
export function versionLine (version: string): string {
  return `shoal ${version} (commit ${buildCommit()})`
}
