import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidInputError } from '@shoal/core'
import { createDispatcher, defineMethod, methodsFor, RpcError, Type, type MethodTable } from '../src/index.js'

const test = suite('method-table')

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_ok: T): void {}

interface Ctx { prefix: string }
const define = methodsFor<Ctx>()

const greet = define({
  name: 'greet',
  description: 'Greets.',
  params: Type.Object({ name: Type.String(), loud: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  result: Type.String(),
  handler: (p, ctx) => {
    expectType<Equal<typeof p, { name: string, loud?: boolean }>>(true)
    expectType<Equal<typeof ctx, Ctx>>(true)
    const text = `${ctx.prefix} ${p.name}`
    return p.loud === true ? text.toUpperCase() : text
  }
})

test('defineMethod types params from the schema and ctx from methodsFor', async () => {
  const table: MethodTable<Ctx> = [greet]
  const d = createDispatcher({ methods: table, context: { prefix: 'hello' } })
  const out = await d.handle('{"jsonrpc":"2.0","id":1,"method":"greet","params":{"name":"ann","loud":true}}', new AbortController().signal)
  assert.equal(JSON.parse(out ?? ''), { jsonrpc: '2.0', id: 1, result: 'HELLO ANN' })
})

test('reserved and duplicate names are refused', () => {
  assert.throws(() => defineMethod({ name: 'rpc.discover', description: '', params: Type.Object({}, { additionalProperties: false }), result: Type.Null(), handler: () => null }), /reserved/)
  assert.throws(() => createDispatcher({ methods: [greet, greet], context: { prefix: '' } }), /twice/)
})

test('the dispatcher answers at once when its signal aborts, with an RpcError reason as given', async () => {
  let markStarted!: () => void
  const started = new Promise<void>(resolve => { markStarted = resolve })
  const hang = defineMethod({
    name: 'hang',
    description: '',
    params: Type.Object({}, { additionalProperties: false }),
    result: Type.Null(),
    handler: async () => { markStarted(); return await new Promise<null>(() => {}) }
  })
  const d = createDispatcher({ methods: { hang }, context: undefined })
  const controller = new AbortController()
  const pending = d.handle('{"jsonrpc":"2.0","id":1,"method":"hang"}', controller.signal)
  await started
  controller.abort(new RpcError(-32003, 'going away'))
  assert.equal(JSON.parse(await pending ?? ''), { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'going away' } })
})

test('a limit the service checks (from its running config) answers -32602 naming the param as params.<field>', async () => {
  // What kv.put does with a key over kv.maxKeyBytes: the schema only says "a non-empty string", the node knows the limit.
  const maxKeyBytes = 8
  const put = define({
    name: 'put',
    description: 'Stores.',
    params: Type.Object({ key: Type.String({ minLength: 1 }), value: Type.Unknown() }, { additionalProperties: false }),
    result: Type.Boolean(),
    handler: p => {
      const size = Buffer.byteLength(p.key)
      if (size > maxKeyBytes) throw new InvalidInputError(`key: too long`, { field: 'key', value: `${size} bytes`, expected: `at most ${maxKeyBytes} UTF-8 bytes` })
      if (p.value === 'nested') throw new InvalidInputError('input.from: bad', { field: 'input.from', value: 1, expected: 'x' })
      return true
    }
  })
  const d = createDispatcher({ methods: [put], context: { prefix: '' }, errorTable: { ERR_INVALID_INPUT: -32602 } })
  const call = async (params: unknown): Promise<any> => JSON.parse(await d.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'put', params }), new AbortController().signal) ?? '')
  assert.is((await call({ key: 'é'.repeat(4), value: 1 })).result, true, '8 bytes fit')
  const err = (await call({ key: 'é'.repeat(5), value: 1 })).error
  assert.is(err.code, -32602)
  assert.equal(err.data, { field: 'params.key', value: '10 bytes', expected: 'at most 8 UTF-8 bytes', code: 'ERR_INVALID_INPUT' })
  // A field that is not one of the method's params is left as the service named it.
  assert.is((await call({ key: 'k', value: 'nested' })).error.data.field, 'input.from')
})

test.run()
