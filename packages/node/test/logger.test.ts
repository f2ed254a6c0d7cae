/** The JSON logger writes every key once per line (issue 13: `component` and `peerId` appeared twice). */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Writable } from 'node:stream'
import { createLogger, withoutBound } from '../src/logger.js'

function sink (): { lines: string[], stream: Writable } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(l => l !== '')); done() } })
  return { lines, stream }
}

/** Keys of a JSON object line as written, in order, repeats included (JSON.parse would hide a repeat). */
function rawKeys (line: string): string[] {
  const keys: string[] = []
  let depth = 0
  for (const m of line.matchAll(/[{}]|"((?:[^"\\]|\\.)*)"(\s*:)?/g)) {
    if (m[0] === '{') depth++
    else if (m[0] === '}') depth--
    else if (depth === 1 && m[2] !== undefined) keys.push(m[1]!)
  }
  return keys
}

async function flush (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

test('a child of a child and a field equal to a bound one: each key once; the innermost component wins', async () => {
  const { lines, stream } = sink()
  const log = createLogger({ level: 'info', format: 'json', base: { swarm: 's', peerId: 'me' }, destination: stream })
  log.child({ component: 'shoal:node' }).child({ component: 'shoal:node:gossip' }).info({ peerId: 'me', n: 1 }, 'hello')
  await flush()
  assert.is(lines.length, 1)
  const keys = rawKeys(lines[0]!)
  assert.equal(keys.filter((k, i) => keys.indexOf(k) !== i), [], `repeated keys in ${lines[0]}`)
  const line = JSON.parse(lines[0]!)
  assert.is(line.component, 'shoal:node:gossip')
  assert.is(line.peerId, 'me')
  assert.is(line.swarm, 's')
  assert.is(line.n, 1)
  assert.is(line.msg, 'hello')
})

test("a field that differs from a bound one keeps the node's value and moves the line's under fields", async () => {
  const { lines, stream } = sink()
  const log = createLogger({ level: 'info', format: 'json', base: { peerId: 'me' }, destination: stream })
  log.info({ peerId: 'other', addr: '/ip4/1.2.3.4' }, 'dialled')
  await flush()
  const keys = rawKeys(lines[0]!)
  assert.equal(keys.filter((k, i) => keys.indexOf(k) !== i), [])
  const line = JSON.parse(lines[0]!)
  assert.is(line.peerId, 'me')
  assert.equal(line.fields, { peerId: 'other' })
  assert.is(line.addr, '/ip4/1.2.3.4')
})

test('withoutBound leaves lines without clashes untouched', () => {
  const fields = { a: 1 }
  assert.is(withoutBound(fields, { b: 2 }), fields)
  assert.equal(withoutBound({ a: 1, b: 2 }, { b: 2 }), { a: 1 })
  assert.equal(withoutBound({ b: 3, fields: { x: 1 } }, { b: 2 }), { fields: { x: 1, b: 3 } })
})

test.run()
