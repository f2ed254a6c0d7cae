import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RpcError, RpcErrorCode, toRpcError } from '../src/index.js'

const test = suite('errors')

class CodedError extends Error {
  constructor (readonly code: string, message: string, readonly data?: Record<string, unknown>) { super(message) }
}

const table = { ERR_NOT_FOUND: RpcErrorCode.NOT_FOUND, ERR_SECRET: { code: RpcErrorCode.FORBIDDEN, message: 'Forbidden' } }

test('stable numeric codes', () => {
  assert.equal(
    [RpcErrorCode.PARSE_ERROR, RpcErrorCode.INVALID_REQUEST, RpcErrorCode.METHOD_NOT_FOUND, RpcErrorCode.INVALID_PARAMS,
      RpcErrorCode.INTERNAL_ERROR, RpcErrorCode.TIMEOUT, RpcErrorCode.UNAVAILABLE, RpcErrorCode.NOT_FOUND,
      RpcErrorCode.FORBIDDEN, RpcErrorCode.CONFLICT],
    [-32700, -32600, -32601, -32602, -32603, -32001, -32003, -32004, -32005, -32009])
})

test('RpcError passes through unchanged', () => {
  const e = new RpcError(-32009, 'Conflict', { at: 1 })
  assert.is(toRpcError(e, table), e)
  assert.equal(e.toJSON(), { code: -32009, message: 'Conflict', data: { at: 1 } })
})

test('listed app codes map by code with message and data', () => {
  const e = toRpcError(new CodedError('ERR_NOT_FOUND', 'no key k', { key: 'k' }), table)
  assert.is(e.code, -32004)
  assert.is(e.message, 'no key k')
  assert.equal(e.data, { key: 'k', code: 'ERR_NOT_FOUND' })
})

test('a fixed message in the table hides the thrown text and data', () => {
  const e = toRpcError(new CodedError('ERR_SECRET', 'token abc leaked', { token: 'abc' }), table)
  assert.is(e.code, -32005)
  assert.is(e.message, 'Forbidden')
  assert.equal(e.data, { code: 'ERR_SECRET' })
})

test('unknown errors become -32603 with nothing leaked, and reach the hook', () => {
  const seen: unknown[] = []
  const secret = new Error('password=hunter2')
  for (const thrown of [secret, new CodedError('ERR_UNLISTED', 'x'), 'a string', null, { code: 'toString' }]) {
    const e = toRpcError(thrown, table, err => seen.push(err))
    assert.is(e.code, -32603)
    assert.is(e.message, 'Internal error')
    assert.is(e.data, undefined)
  }
  assert.is(seen.length, 5)
  assert.is(seen[0], secret)
})

test.run()
