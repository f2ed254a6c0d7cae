import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { SUBMIT_PARAMS } from '@shoal/core'
import { defineMethod, Type, toMarkdown, toOpenRpc } from '../src/index.js'
import { shoalMethods } from '../src/methods/index.js'
import { add, echo, missing } from './fixtures.js'
import { compacted, ticker } from './ws-fixtures.js'

const test = suite('openrpc')

test('OpenRPC 1.2.6 document from the table', () => {
  const doc = toOpenRpc([echo, missing, add], { title: 'Shoal', version: '1.0.0' }) as any
  assert.is(doc.openrpc, '1.2.6')
  assert.equal(doc.info, { title: 'Shoal', version: '1.0.0' })
  assert.equal(doc.methods.map((m: any) => m.name), ['add', 'echo', 'missing'])
  const echoDoc = doc.methods[1]
  assert.is(echoDoc.paramStructure, 'by-name')
  assert.equal(echoDoc.params, [{ name: 'message', required: true, schema: { type: 'string', maxLength: 256, description: 'Text to echo' }, description: 'Text to echo' }])
  assert.equal(echoDoc.result, { name: 'result', schema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'], additionalProperties: false } })
  assert.equal(doc.methods[2].params[0].required, false)
  assert.equal(doc.methods[2].errors.map((e: any) => e.code), [-32004, -32602, -32001])
})

test('published schemas carry no Shoal-only keyword; task.submit publishes the shape the node checks', () => {
  const doc = toOpenRpc(shoalMethods, { title: 'Shoal', version: '1.0.0' }) as any
  assert.not.match(JSON.stringify(doc), /"expected":"/)
  const submit = shoalMethods.find(m => m.name === 'task.submit')!
  assert.ok(submit.params === SUBMIT_PARAMS, "task.submit's params are core's SUBMIT_PARAMS, not a copy")
  const handler = doc.methods.find((m: any) => m.name === 'task.submit').params.find((p: any) => p.name === 'handler')
  assert.is(handler.schema.pattern, (SUBMIT_PARAMS.properties.handler as unknown as { pattern: string }).pattern)
})

test('Markdown: sections, params table, result schema, error codes', () => {
  const md = toMarkdown({ echo, add })
  assert.ok(md.includes('### add\n\nAdds two integers.'))
  assert.ok(md.includes('| `message` | a string of at most 256 characters | yes | Text to echo |'), md)
  assert.ok(md.includes('| `a` | an integer from -1000 to 1000 | yes |  |'))
  assert.ok(md.includes('| -32602 | INVALID_PARAMS |'))
  assert.ok(md.includes('Result: an object with fields message.'))
  assert.not.ok(md.includes('Params schema'), 'flat params need no schema block')
  const nested = toMarkdown([defineMethod({
    name: 'put',
    description: 'Puts.',
    params: Type.Object({ items: Type.Array(Type.Object({ key: Type.String({ maxLength: 9 }) }, { additionalProperties: false })) }, { additionalProperties: false }),
    result: Type.Null(),
    handler: () => null
  })])
  assert.ok(nested.includes('Params schema:'))
  assert.ok(nested.includes('"maxLength": 9'))
  assert.ok(md.indexOf('### add') < md.indexOf('### echo'), 'sorted by name')
  assert.ok(md.endsWith('\n') && !md.endsWith('\n\n'))
})

test('subscriptions: listed after methods as WebSocket-only, with their notification schema', () => {
  const doc = toOpenRpc([echo], { title: 'T', version: '1' }, [ticker, compacted]) as any
  assert.equal(doc.methods.map((m: any) => m.name), ['echo', 'compacted', 'ticker', 'rpc.unsubscribe'])
  const t = doc.methods[2]
  assert.is(t['x-transport'], 'websocket')
  assert.match(t.description, /WebSocket only \(GET \/rpc\/ws\)/)
  assert.equal(t['x-notification'].schema, { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false })
  assert.equal(t.result.schema.required, ['subscription'])
  assert.equal(doc.methods[1].errors.map((e: any) => e.code), [-32010, -32029, -32602, -32001])
  assert.equal(toOpenRpc([echo], { title: 'T', version: '1' }).methods, toOpenRpc([echo], { title: 'T', version: '1' }, []).methods)

  const md = toMarkdown([echo], { subscriptions: { ticker } })
  assert.ok(md.includes('## Subscriptions (WebSocket only)'))
  assert.ok(md.includes('### ticker\n\nSends n = 1..count at once, then stays open until ended. *WebSocket only.*'), md)
  assert.ok(md.includes('| `count` | an integer from 0 to 1000 | yes |  |'))
  assert.ok(md.includes('| -32011 | SLOW_CONSUMER |'))
  assert.ok(md.includes('Notification `result`: an object with fields n.'))
  assert.not.ok(toMarkdown([echo]).includes('Subscriptions'), 'no section without subscriptions')
})

test.run()
