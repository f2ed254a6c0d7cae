/** The CLI's pure argument handling: demo flags and JSON values given inline, as @FILE or on stdin. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from '../src/args.js'
import { demoOptions } from '../src/commands/demo.js'
import { main } from '../src/main.js'
import { readJsonValue, type ValueSources } from '../src/values.js'


function capture (): { lines: { out: string[], err: string[] }, io: { out: (t: string) => void, err: (t: string) => void } } {
  const lines = { out: [] as string[], err: [] as string[] }
  return { lines, io: { out: t => { lines.out.push(t) }, err: t => { lines.err.push(t) } } }
}

test('demo: --no-churn turns the kills off (it was refused as an unknown option); defaults otherwise', () => {
  assert.equal(demoOptions([]), { help: false, count: 5, durationS: 0, churn: true })
  assert.equal(demoOptions(['--no-churn', '--nodes', '3', '--duration', '60']), { help: false, count: 3, durationS: 60, churn: false })
  assert.throws(() => demoOptions(['--nodes', '1']), (e: unknown) => e instanceof UsageError && /--nodes must be an integer from 2 to 20/.test(e.message))
})

test('demo: `shoal demo --no-churn --help` prints the help that advertises it, exit 0', async () => {
  const { lines, io } = capture()
  assert.is(await main(['demo', '--no-churn', '--help'], io, {}), 0)
  assert.match(lines.out.join('\n'), '--no-churn')
  assert.equal(lines.err, [])
})

const none: ValueSources = {
  readFile: async () => { throw new Error('no file expected') },
  readStdin: async () => { throw new Error('no stdin expected') }
}

test('values: inline JSON parses; a bare word is a string', async () => {
  assert.equal(await readJsonValue('{"a":1}', 'kv put', 'VALUE', none), { a: 1 })
  assert.equal(await readJsonValue('"fast"', 'kv put', 'VALUE', none), 'fast')
  assert.equal(await readJsonValue('42', 'kv put', 'VALUE', none), 42)
  assert.equal(await readJsonValue('fast', 'kv put', 'VALUE', none), 'fast')
  assert.equal(await readJsonValue('hello world', 'kv put', 'VALUE', none), 'hello world')
})

test('values: inline text that looks like JSON but does not parse is a usage error with the fix', async () => {
  for (const bad of ['{"a":1', '[1,2', '"unterminated', '12abc', '-x']) {
    const err = await readJsonValue(bad, 'kv put', 'VALUE', none).then(() => undefined, (e: unknown) => e)
    assert.instance(err, UsageError, bad)
    assert.match((err as Error).message, /^shoal kv put: VALUE is not valid JSON \(.+\); to store it as a string, quote it: '".*"'$/, bad)
  }
})

test('values: @FILE and - (stdin) must hold JSON; an unreadable file names the path', async () => {
  const src: ValueSources = { readFile: async p => p === 'v.json' ? '{"from":"file"}\n' : '{"a":', readStdin: async () => '[1, 2]\n' }
  assert.equal(await readJsonValue('@v.json', 'kv put', 'VALUE', src), { from: 'file' })
  assert.equal(await readJsonValue('-', 'kv put', 'VALUE', src), [1, 2])
  const broken = await readJsonValue('@broken.json', 'kv put', 'VALUE', src).then(() => undefined, (e: unknown) => e)
  assert.match((broken as Error).message, /^shoal kv put: VALUE in broken\.json is not valid JSON \(/)
  const plain: ValueSources = { ...src, readStdin: async () => 'just text' }
  assert.match(await readJsonValue('-', 'kv put', 'VALUE', plain).then(() => '', (e: Error) => e.message), /VALUE from stdin is not valid JSON/)
  const missing = await readJsonValue('@/nonexistent/v.json', 'kv put', 'VALUE').then(() => undefined, (e: unknown) => e)
  assert.instance(missing, UsageError)
  assert.match((missing as Error).message, 'cannot read /nonexistent/v.json (ENOENT) for VALUE')
})

test('values: a 900 KB value comes from @FILE (too big for a command line)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-values-'))
  try {
    const big = 'x'.repeat(900 * 1024)
    await writeFile(join(dir, 'big.json'), JSON.stringify({ big }))
    assert.equal(await readJsonValue(`@${join(dir, 'big.json')}`, 'kv put', 'VALUE'), { big })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test("kv put: broken JSON is refused with exit 2 before any daemon is asked (it was stored as a string)", async () => {
  const { lines, io } = capture()
  const code = await main(['kv', 'put', 'bad', '{"a":1'], io, { SHOAL_RPC: 'http://127.0.0.1:9/rpc', SHOAL_RPC_TOKEN: 'x' })
  assert.is(code, 2, lines.err.join('\n'))
  assert.match(lines.err.join('\n'), "shoal kv put: VALUE is not valid JSON")
})

test.run()
