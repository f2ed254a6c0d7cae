// Bundles the CLI and daemon into one directory that runs with a bare Node (no node_modules): esbuild bundles
// every production dependency; LevelDB's native addon and the dashboard files go beside the bundle.
// Used by scripts/release.mjs, and by tests that need a second build (e.g. one announcing newer protocol ids).
//
//   outdir/shoal.js, worker-entry.js, builtin-work.js   entry points (the workers are loaded by URL)
//   outdir/verify-worker.js                             the signature-check thread's (events/verify-pool.ts)
//   outdir/piscina-worker.js                            the worker-pool library's thread script
//   outdir/native/classic-level.node                    glibc linux-x64 addon (LevelDB)
//   outdir/native/sodium-native.node                    glibc linux-x64 addon (libsodium: Ed25519)
//   outdir/public/                                      dashboard files
//   outdir/package.json                                 {"type":"module"}
import { build } from 'esbuild'
import { copyFileSync, cpSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const root = realpathSync(new URL('..', import.meta.url).pathname)

// classic-level loads its addon with node-gyp-build(__dirname), and sodium-native with require-addon, which a
// bundle cannot keep: point each at the one addon the release ships, beside the bundle. The dashboard reads its
// files from ../../public/ relative to its compiled module; in the release they sit in lib/public/ beside the bundle.
const releasePaths = {
  name: 'release-paths',
  setup (b) {
    b.onLoad({ filter: /classic-level[/\\]binding\.js$/ }, () => ({
      contents: "module.exports = require(require('node:path').join(__shoalLibDir, 'native', 'classic-level.node'))",
      loader: 'js'
    }))
    b.onLoad({ filter: /sodium-native[/\\]index\.js$/ }, () => ({
      contents: "module.exports = require(require('node:path').join(__shoalLibDir, 'native', 'sodium-native.node'))",
      loader: 'js'
    }))
    // piscina starts each worker from the worker.js beside its own index.js; in the release that is the
    // piscina-worker.js entry point beside the bundle.
    b.onLoad({ filter: /piscina[/\\]dist[/\\]index\.js$/ }, args => {
      const text = readFileSync(args.path, 'utf8')
      const from = "(0, node_path_1.resolve)(__dirname, 'worker.js')"
      if (!text.includes(from)) throw new Error(`piscina: expected ${from} in ${args.path}; update scripts/bundle.mjs`)
      return { contents: text.replace(from, "require('node:path').join(__shoalLibDir, 'piscina-worker.js')"), loader: 'js' }
    })
    b.onLoad({ filter: /packages[/\\]dashboard[/\\]dist[/\\]src[/\\]index\.js$/ }, args => {
      const text = readFileSync(args.path, 'utf8')
      const from = "new URL('../../public/', import.meta.url)"
      if (!text.includes(from)) throw new Error(`dashboard: expected ${from} in ${args.path}; update scripts/bundle.mjs`)
      return { contents: text.replace(from, "new URL('./public/', import.meta.url)"), loader: 'js' }
    })
  }
}

/**
 * Builds into `outdir`. `commit` becomes __SHOAL_COMMIT__ (shoal --version); `plugins` run before the
 * release's own (a test's plugin may rewrite a module). Returns esbuild's metafile and classic-level's package dir
 * (sodium-native's licence comes in through the metafile: its index.js is an input).
 */
export async function bundleShoal ({ outdir, commit, plugins = [] }) {
  mkdirSync(join(outdir, 'native'), { recursive: true })
  const handlers = join(root, 'packages/node/dist/src/tasks/handlers')
  const result = await build({
    entryPoints: {
      shoal: join(root, 'packages/cli/dist/src/bin.js'),
      'worker-entry': join(handlers, 'worker-entry.js'),
      'builtin-work': join(handlers, 'builtin-work.js'),
      'verify-worker': join(root, 'packages/node/dist/src/events/verify-worker.js'),
      'piscina-worker': join(dirname(realpathSync(join(root, 'packages/node/node_modules/piscina/package.json'))), 'dist/worker.js')
    },
    // piscina's optional thread-priority addon: absent, and piscina runs without it.
    external: ['@napi-rs/nice'],
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Whitespace and syntax only: identifiers stay, so stack traces in a bug report still read.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { __SHOAL_COMMIT__: JSON.stringify(commit) },
    // CommonJS dependencies call require(); an ES module bundle gets one from createRequire.
    banner: {
      js: "import { createRequire as __shoalCreateRequire } from 'node:module'; import { dirname as __shoalDirname } from 'node:path'; import { fileURLToPath as __shoalFileURLToPath } from 'node:url'; const require = __shoalCreateRequire(import.meta.url); const __shoalLibDir = __shoalDirname(__shoalFileURLToPath(import.meta.url));"
    },
    plugins: [...plugins, releasePaths]
  })
  writeFileSync(join(outdir, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n')
  // The native addon: glibc linux-x64 only (the musl build and other platforms' builds stay out).
  // pnpm keeps a package's dependencies beside it: level's classic-level sits next to level itself.
  const classicDir = join(dirname(realpathSync(join(root, 'packages/store/node_modules/level'))), 'classic-level')
  copyFileSync(join(classicDir, 'prebuilds/linux-x64/classic-level.node'), join(outdir, 'native/classic-level.node'))
  const sodiumDir = dirname(realpathSync(join(root, 'packages/node/node_modules/sodium-native/package.json')))
  copyFileSync(join(sodiumDir, 'prebuilds/linux-x64/sodium-native.node'), join(outdir, 'native/sodium-native.node'))
  cpSync(join(root, 'packages/dashboard/public'), join(outdir, 'public'), { recursive: true })
  return { metafile: result.metafile, classicDir }
}
