/**
 * The Node.js the CLI runs on. libp2p 3 calls Promise.withResolvers (Node 22+); on Node 20 commands fail
 * deep inside it ("Promise.withResolvers is not a function"), so the entry checks first and says what to do.
 * This file imports nothing, so the check runs before any library is loaded.
 */

/** The oldest Node major the CLI runs on (package.json "engines"). */
export const MIN_NODE_MAJOR = 22

export interface Runtime {
  /** process.versions.node, e.g. '20.20.2'. */
  version: string
  /** process.execPath, to name the binary that is too old. */
  execPath: string
  hasWithResolvers: boolean
}

export function currentRuntime (): Runtime {
  return { version: process.versions.node, execPath: process.execPath, hasWithResolvers: typeof (Promise as { withResolvers?: unknown }).withResolvers === 'function' }
}

/** Undefined when the runtime will do; otherwise one message saying what is wrong and what to do. */
export function runtimeProblem (rt: Runtime): string | undefined {
  const major = Number(rt.version.split('.')[0])
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR && rt.hasWithResolvers) return undefined
  return `shoal: needs Node.js ${MIN_NODE_MAJOR} or newer, but runs on Node ${rt.version} (${rt.execPath}). ` +
    `Install Node ${MIN_NODE_MAJOR}+ (24 LTS), or run it from a checkout with \`scripts/dev shoal ...\` (it fetches Node 24 into .tools/), ` +
    'or use a release tarball (Node included).'
}
