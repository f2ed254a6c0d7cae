/**
 * What the README and scripts/dev tell a new user holds (issue 13): `shoal daemon --help` is not claimed to list
 * all settings unless it does, every daemon flag is in its help, `scripts/dev` with no arguments prints its
 * help at once, without fetching Node and without a stray line of code, and takes every command its help names.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN_PATH } from '@shoal/cli/local-swarm'

const root = fileURLToPath(new URL('../../', import.meta.url))

async function run (cmd: string, args: string[], env?: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { timeout: 30_000, ...(env !== undefined ? { env } : {}) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test("the README says what `shoal daemon --help` lists, and the help lists every daemon flag", async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const sentence = readme.replace(/\n/g, ' ').split(/(?<=\.) /).find(s => s.includes('`shoal daemon --help`'))
  assert.ok(sentence !== undefined, 'the README mentions shoal daemon --help')
  const help = (await run(process.execPath, [BIN_PATH, 'daemon', '--help'])).stdout
  const architecture = await readFile(join(root, 'docs/architecture.md'), 'utf8')
  const fields = [...architecture.matchAll(/^\| `([a-zA-Z.]+)` \|/gm)].map(m => m[1]!)
  assert.ok(fields.length > 30, 'the configuration table was found')
  if (/lists (them|all|every)/.test(sentence!)) {
    const missing = fields.filter(f => !help.includes(f))
    assert.equal(missing, [], `the README says --help lists all settings, but it lacks ${missing.length}`)
  } else {
    assert.match(sentence!, 'docs/architecture.md#configuration', 'the README says where all settings are')
  }
  const source = await readFile(join(root, 'packages/cli/src/commands/daemon.ts'), 'utf8')
  const options = source.slice(source.indexOf('DAEMON_OPTIONS = {'))
  const flags = [...options.slice(0, options.indexOf('} as const')).matchAll(/^\s+'?([a-z-]+)'?: \{ type/gm)].map(m => `--${m[1]!}`)
  assert.ok(flags.length >= 10, `flags found: ${flags.join(' ')}`)
  for (const flag of flags) assert.match(help, flag)
})

test('scripts/dev with no arguments prints its help without fetching Node or printing code; --help exits 0', async () => {
  // A checkout with no .tools and a PATH with neither node nor npm: any attempt to fetch Node fails loudly.
  const dir = await mkdtemp(join(tmpdir(), 'shoal-dev-help-'))
  try {
    await mkdir(join(dir, 'scripts'))
    await mkdir(join(dir, 'bin'))
    await copyFile(join(root, 'scripts/dev'), join(dir, 'scripts/dev'))
    for (const tool of ['bash', 'sed', 'dirname', 'mkdir', 'chmod', 'printf', 'cat']) {
      const found = await run('/bin/sh', ['-c', `command -v ${tool}`])
      if (found.code === 0 && found.stdout.trim().startsWith('/')) await symlink(found.stdout.trim(), join(dir, 'bin', tool))
    }
    const env = { PATH: join(dir, 'bin'), HOME: dir }
    const bare = await run(join(dir, 'bin/bash'), [join(dir, 'scripts/dev')], env)
    assert.is(bare.code, 2, bare.stderr)
    assert.is(bare.stderr, '', 'nothing fetched, nothing logged')
    assert.match(bare.stdout, /^One entry point for people and CI/)
    assert.match(bare.stdout, 'scripts/dev demo [--nodes 5] [--duration 60] [--no-churn]')
    for (const line of bare.stdout.split('\n')) {
      assert.not.match(line, /^(set |#)|pipefail/, `stray line: ${line}`)
    }
    const help = await run(join(dir, 'bin/bash'), [join(dir, 'scripts/dev'), '--help'], env)
    assert.is(help.code, 0)
    assert.is(help.stdout, bare.stdout)
    // Every command the help names is taken: here each gets as far as fetching Node (no npm: it says so).
    const commands = [...bare.stdout.matchAll(/^\s*scripts\/dev ([a-z-]+)/gm)].map(m => m[1]!)
    assert.ok(commands.length >= 10 && commands.includes('fuzz'), commands.join(' '))
    for (const cmd of commands) {
      const r = await run(join(dir, 'bin/bash'), [join(dir, 'scripts/dev'), cmd], env)
      assert.not.match(r.stderr, /unknown command/, `scripts/dev ${cmd}`)
      assert.match(r.stderr, /need npm/, `scripts/dev ${cmd} went on to fetch Node`)
    }
    const unknown = await run(join(dir, 'bin/bash'), [join(dir, 'scripts/dev'), 'frobnicate'], env)
    assert.is(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command 'frobnicate'/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('every exit code the CLI can return is in the documented list (docs/architecture.md)', async () => {
  const architecture = await readFile(join(root, 'docs/architecture.md'), 'utf8')
  const flat = architecture.replace(/\s+/g, ' ')
  const sentence = flat.slice(flat.indexOf('exit codes: ') + 'exit codes: '.length, flat.indexOf('Errors are one line'))
  const documented = new Set([...sentence.matchAll(/(?:^|, )(\d) [a-z]/g)].map(m => Number(m[1])))
  assert.equal([...documented].sort(), [0, 1, 2, 3, 4], `documented: ${sentence}`)
  const dir = join(root, 'packages/cli/src')
  const files = [...(await readdir(dir)).filter(f => f.endsWith('.ts')).map(f => join(dir, f)),
    ...(await readdir(join(dir, 'commands'))).map(f => join(dir, 'commands', f))]
  for (const file of files) {
    const source = await readFile(file, 'utf8')
    // `return 2`, `exit(2)`, `exitCode = 2`, and both arms of `return cond ? 3 : 1`.
    for (const m of source.matchAll(/(?:\breturn|exit\(|exitCode =) (?:[^;\n?]*\? *(\d+) *: *)?(\d+)\b/g)) {
      for (const code of [m[1], m[2]].filter(c => c !== undefined)) {
        assert.ok(documented.has(Number(code)), `${file.slice(root.length)}: exit code ${code} is not documented`)
      }
    }
  }
})

test.run()
