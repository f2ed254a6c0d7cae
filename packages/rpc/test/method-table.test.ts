import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createDispatcher, defineMethod, methodsFor, RpcError, s, type MethodTable } from '../src/index.js'

const test = suite('method-table')

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_ok: T): void {}

interface Ctx { prefix: string }
const define = methodsFor<Ctx>()

const greet = define({
  name: 'greet',
  description: 'Greets.',
  params: s.object({ name: s.string(), loud: s.optional(s.boolean()) }),
  result: s.string(),
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
  assert.throws(() => defineMethod({ name: 'rpc.discover', description: '', params: s.object({}), result: s.null(), handler: () => null }), /reserved/)
  assert.throws(() => createDispatcher({ methods: [greet, greet], context: { prefix: '' } }), /twice/)
})

test('the dispatcher answers at once when its signal aborts, with an RpcError reason as given', async () => {
  let markStarted!: () => void
  const started = new Promise<void>(resolve => { markStarted = resolve })
  const hang = defineMethod({
    name: 'hang',
    description: '',
    params: s.object({}),
    result: s.null(),
    handler: async () => { markStarted(); return await new Promise<null>(() => {}) }
  })
  const d = createDispatcher({ methods: { hang }, context: undefined })
  const controller = new AbortController()
  const pending = d.handle('{"jsonrpc":"2.0","id":1,"method":"hang"}', controller.signal)
  await started
  controller.abort(new RpcError(-32003, 'going away'))
  assert.equal(JSON.parse(await pending ?? ''), { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'going away' } })
})

test.run()
