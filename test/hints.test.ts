/**
 * Every `shoal <command> [<subcommand>]` hint the dashboard shows names a real command (issue 13: the empty Jobs
 * panel said `shoal task submit`; the command is `shoal task run`). Commands come from the CLI's top-level help
 * (its command table); subcommands from the `case '<sub>':` dispatch in that command's source.
 * The CLI's own printed hints (a `shoal ...` in backquotes in its sources, e.g. "Start it again with
 * `shoal daemon --data-dir DIR`") are checked the same way, and each --flag they use must be in that command's help.
 */
import { readdirSync, readFileSync } from 'node:fs'
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

test("every `shoal ...` hint the CLI prints names a command, subcommand and flags that exist", async () => {
  const dirs = [`${root}/packages/cli/src`, `${root}/packages/cli/src/commands`]
  const hints: Array<{ file: string, text: string }> = []
  for (const d of dirs) {
    for (const f of readdirSync(d).filter(f => f.endsWith('.ts'))) {
      const source = readFileSync(`${d}/${f}`, 'utf8')
      // Backquoted inside a template or string: \`shoal ...\` or `shoal ...` in a '...' string.
      for (const m of source.matchAll(/\\`shoal ([a-z][^`\\]*)\\`/g)) hints.push({ file: f, text: m[1]! })
      for (const m of source.matchAll(/'[^'`\n]*`shoal ([a-z][^`'\n]*)`[^'`\n]*'/g)) hints.push({ file: f, text: m[1]! })
    }
  }
  assert.ok(hints.length >= 5, `hints found: ${hints.map(h => h.text).join(' | ')}`)
  const helps = new Map<string, string>()
  for (const { file, text } of hints) {
    const words = text.replace(/\$\{[^}]*\}/g, 'X').split(/\s+/)
    const cmd = words[0]!
    assert.ok(commands.has(cmd), `${file}: \`shoal ${text}\`: no command ${cmd}`)
    const sub = words[1]
    const source = readFileSync(`${root}/packages/cli/src/commands/${cmd === 'swarm-key' ? 'swarm-key' : cmd}.ts`, 'utf8')
    if (sub !== undefined && /^[a-z]+$/.test(sub) && source.includes('case \'')) {
      assert.ok(source.includes(`case '${sub}'`) || ['export', 'import'].includes(sub), `${file}: \`shoal ${text}\`: ${cmd} has no subcommand ${sub}`)
    }
    if (!helps.has(cmd)) helps.set(cmd, (await run([cmd, '--help'])).out)
    for (const flag of words.filter(w => w.startsWith('--'))) {
      assert.match(helps.get(cmd)!, flag.replace(/=.*$/, ''), `${file}: \`shoal ${text}\`: ${flag} is not in shoal ${cmd} --help`)
    }
  }
})

test.run()
