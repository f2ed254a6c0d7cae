/**
 * Every `shoal <command> [<subcommand>]` hint the dashboard shows names a real command (issue 13: the empty Jobs
 * panel said `shoal task submit`; the command is `shoal task run`). Commands come from the CLI's top-level help
 * (its command table); subcommands from the `case '<sub>':` dispatch in that command's source.
 * Left for later: the CLI's own printed hints, and `--help` on every subcommand (see /work/notes/input.md).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HELP, main } from '@shoal/cli'

const root = fileURLToPath(new URL('../..', import.meta.url))
const commands = new Set([...HELP.matchAll(/^ {2}([a-z-]+) /gm)].map(m => m[1]!))

test('every shoal hint in the dashboard names a command and subcommand that exist', () => {
  assert.ok(commands.has('task') && commands.has('kv'), [...commands].join(' '))
  const page = readFileSync(`${root}/packages/dashboard/public/render.js`, 'utf8')
  const hints = [...page.matchAll(/shoal ([a-z-]+)(?: ([a-z-]+))?/g)]
  assert.ok(hints.length > 0, 'the page has hints')
  for (const [hint, cmd, sub] of hints) {
    assert.ok(commands.has(cmd!), `${hint}: no command ${cmd}`)
    if (sub === undefined) continue
    const source = readFileSync(`${root}/packages/cli/src/commands/${cmd}.ts`, 'utf8')
    assert.ok(source.includes(`case '${sub}'`), `${hint}: ${cmd} has no subcommand ${sub}`)
  }
})

async function run (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: t => { out += t + '\n' }, err: t => { err += t + '\n' } }, {})
  return { code, out, err }
}

test('--help and -h work on every command and every subcommand of kv, task and events', async () => {
  for (const cmd of commands) {
    for (const flag of ['--help', '-h']) {
      const r = await run([cmd, flag])
      assert.is(r.code, 0, `shoal ${cmd} ${flag}: ${r.err}`)
      assert.match(r.out, /Usage|usage|shoal/, `shoal ${cmd} ${flag}`)
    }
  }
  for (const cmd of ['kv', 'task', 'events']) {
    const source = readFileSync(`${root}/packages/cli/src/commands/${cmd}.ts`, 'utf8')
    const subs = [...source.matchAll(/case '([a-z-]+)':/g)].map(m => m[1]!)
    assert.ok(subs.length > 0, cmd)
    for (const sub of subs) {
      for (const flag of ['--help', '-h']) {
        const r = await run([cmd, sub, flag])
        assert.is(r.code, 0, `shoal ${cmd} ${sub} ${flag}: ${r.err}`)
      }
    }
  }
})

test.run()
