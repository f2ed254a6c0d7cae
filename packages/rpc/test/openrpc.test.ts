import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { defineMethod, s, toMarkdown, toOpenRpc } from '../src/index.js'
import { add, echo, missing } from './fixtures.js'

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
    params: s.object({ items: s.array(s.object({ key: s.string({ maxLength: 9 }) })) }),
    result: s.null(),
    handler: () => null
  })])
  assert.ok(nested.includes('Params schema:'))
  assert.ok(nested.includes('"maxLength": 9'))
  assert.ok(md.indexOf('### add') < md.indexOf('### echo'), 'sorted by name')
  assert.ok(md.endsWith('\n') && !md.endsWith('\n\n'))
})

test.run()
