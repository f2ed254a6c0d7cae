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
import { HELP } from '@shoal/cli'

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

test.run()
