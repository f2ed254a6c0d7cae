/**
 * No import cycles anywhere in the workspace's sources (house style): dependency-cruiser with the repository's
 * .dependency-cruiser.cjs, type-only imports included. A second test plants a two-file circle in a scratch
 * directory and checks that the same command fails on it and names both files, so a silent checker (a parser
 * that sees no imports, a config that excludes everything) cannot pass the first test by accident.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs')
const config = join(root, '.dependency-cruiser.cjs')

async function cruise (...targets: string[]): Promise<{ code: number, out: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [depcruise, '--config', config, '--output-type', 'err', ...targets],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => { resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), out: stdout + stderr }) })
  })
}

test('no import cycles in packages/, test/, bench/ and scripts/ (sources, type-only imports included)', async () => {
  const r = await cruise('packages', 'test', 'bench', 'scripts')
  assert.is(r.code, 0, r.out)
  const cruised = /(\d+) modules/.exec(r.out)
  // The workspace has a few hundred modules; a handful would mean the checker is looking at the wrong files.
  assert.ok(cruised !== null && Number(cruised[1]) > 200, `too few modules cruised: ${r.out}`)
})

test('a planted two-file circle (runtime and type-only) fails the check and is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-cycle-'))
  try {
    await writeFile(join(dir, 'config.ts'), "import { check } from './config-validate.js'\nexport const LEVELS = ['info']\nexport const ok = check\n")
    await writeFile(join(dir, 'config-validate.ts'), "import { LEVELS } from './config.js'\nexport function check (l: string): boolean { return LEVELS.includes(l) }\n")
    await writeFile(join(dir, 'server.ts'), "import type { WsOptions } from './ws-server.js'\nexport interface Logger { info?: (m: string) => void }\nexport type O = WsOptions\n")
    await writeFile(join(dir, 'ws-server.ts'), "import type { Logger } from './server.js'\nexport interface WsOptions { logger?: Logger }\n")
    const r = await cruise(dir)
    assert.is.not(r.code, 0, r.out)
    assert.match(r.out, /no-circular/)
    for (const f of ['config.ts', 'config-validate.ts', 'server.ts', 'ws-server.ts']) assert.match(r.out, f)
    assert.match(r.out, /2 errors/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
