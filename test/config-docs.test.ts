/**
 * The configuration is described once, in core's CONFIG_SCHEMA (issue 13); the two texts a person reads are
 * checked against it: docs/architecture.md's settings table (every setting has a row, every row is a setting,
 * each env variable and each number or boolean default as the schema says) and `shoal daemon --help` (every
 * SHOAL_* variable the config reads, and none it does not).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONFIG_SCHEMA, envSettings } from '@shoal/core'
import { BIN_PATH } from '@shoal/cli/local-swarm'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Node { properties?: Record<string, Node>, default?: unknown, env?: string, type?: string }

/** The schema at a dotted path, or undefined. */
function at (path: string): Node | undefined {
  let node: Node | undefined = CONFIG_SCHEMA as unknown as Node
  for (const key of path.split('.')) node = node?.properties?.[key]
  return node
}

/** Settings as the table lists them: leaves, and objects a variable sets whole (rpc). */
function settings (): string[] {
  const out: string[] = []
  const walk = (node: Node, path: string): void => {
    for (const [key, field] of Object.entries(node.properties ?? {})) {
      const p = path === '' ? key : `${path}.${key}`
      if (field.properties !== undefined && field.env === undefined) walk(field, p)
      else out.push(p)
    }
  }
  walk(CONFIG_SCHEMA as unknown as Node, '')
  return out
}

interface Row { field: string, defaults: string, env: string }

async function table (): Promise<Row[]> {
  const doc = await readFile(join(ROOT, 'docs/architecture.md'), 'utf8')
  const section = doc.slice(doc.indexOf('## Configuration'))
  return [...section.matchAll(/^\| `([a-zA-Z.]+)` \| ([^|]*) \| ([^|]*) \|/gm)].map(m => ({ field: m[1]!, defaults: m[2]!.trim(), env: m[3]!.trim() }))
}

test("architecture.md's settings table lists every setting of the schema, and only those", async () => {
  const rows = await table()
  assert.ok(rows.length > 30, `rows found: ${rows.length}`)
  for (const row of rows) assert.ok(at(row.field) !== undefined, `the table's ${row.field} is no setting of CONFIG_SCHEMA`)
  // A setting is covered by its own row, by rows for its fields (rpc: rpc.host, rpc.port) or by its parent's (tasks.exec).
  const covered = (field: string): boolean => rows.some(r => r.field === field || r.field.startsWith(`${field}.`) || field.startsWith(`${r.field}.`))
  const missing = settings().filter(f => !covered(f))
  assert.equal(missing, [], `settings without a row: ${missing.join(', ')}`)
})

test('each row names the variable the schema reads, and a number or boolean default the schema has', async () => {
  const rows = await table()
  for (const { name, field } of envSettings()) {
    const row = rows.find(r => r.field === field || r.field.startsWith(`${field}.`))
    assert.ok(row !== undefined, `a row for ${field}`)
    assert.match(row.env, `\`${name}\``, `${field}'s variable`)
  }
  for (const row of rows) {
    // A row's variable is the one its own setting reads (rpc.host and rpc.port: rpc's).
    const variable = /`(SHOAL_[A-Z_]+)`/.exec(row.env)?.[1]
    if (variable !== undefined) {
      const own = envSettings().find(e => e.field === row.field || row.field.startsWith(`${e.field}.`))
      assert.is(own?.name, variable, `${row.field}: the variable the config reads for it`)
    }
    const fallback = at(row.field)?.default
    const shown = /^`?(-?\d+(?:\.\d+)?|true|false)`?(?:\s|$)/.exec(row.defaults)?.[1]
    if ((typeof fallback === 'number' || typeof fallback === 'boolean') && shown !== undefined) {
      assert.is(shown, String(fallback), `${row.field}: the table's default`)
    }
  }
})

test('`shoal daemon --help` names every SHOAL_* variable the config reads, and no other', async () => {
  const help = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [BIN_PATH, 'daemon', '--help'], (err, stdout) => { if (err !== null) reject(err); else resolve(stdout) })
  })
  const named = new Set([...help.matchAll(/\$(SHOAL_[A-Z_]+)/g)].map(m => m[1]!))
  const read = new Set(envSettings().map(e => e.name))
  assert.equal([...read].filter(n => !named.has(n)), [], 'variables --help leaves out')
  assert.equal([...named].filter(n => !read.has(n)), [], 'variables --help names that nothing reads')
})

test.run()
