/** The demo names nodes as the dashboard does (issue 13: the table said n1-n5, the dashboard peer-id suffixes). */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { nodeName, render, type Row } from '../src/commands/demo.js'

const ids = new Map([1, 2, 3].map(i => [i, `12D3KooWPeer${i}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAbc${i}${i}${i}`]))

test("nodeName is the dashboard's short(): the same name for the same peer id", async () => {
  const dom = await import(new URL('../../../dashboard/public/dom.js', import.meta.url).href) as { short: (id: string) => string }
  for (const id of ids.values()) assert.is(nodeName(id), dom.short(id))
})

test('the live table names rows and columns by nodeName, never n1..nN', () => {
  const rows: Row[] = [1, 2, 3].map(index => ({ node: { rpcUrl: `http://127.0.0.1:70${index}0/rpc` } as Row['node'], index, peers: 2, view: new Map([...ids.values()].map(id => [id, 'alive'])) }))
  const out = render(rows, ids, 3)
  const [head, , ...body] = out.split('\n')
  assert.equal(head!.split(/\s+/).slice(3), [...ids.values()].map(nodeName))
  assert.equal(body.map(l => l.split(/\s+/)[0]), [...ids.values()].map(nodeName))
  assert.not.match(out, /\bn[1-3]\b/)
})

test.run()
