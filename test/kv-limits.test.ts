/**
 * Limits come from the running config, not from copies in the RPC layer (issue 13): the RPC once refused keys
 * over 512 characters whatever kv.maxKeyBytes said. Two real daemons, one configured for 1024-byte keys and one
 * for 16-byte keys, each answer by their own limit, and a refusal names params.key, its size and the limit.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalSwarm, type LocalNode } from '@shoal/cli/local-swarm'
import { RpcError } from '@shoal/rpc'

let swarm: LocalSwarm
let wide: LocalNode
let narrow: LocalNode

test.before(async () => {
  swarm = await LocalSwarm.create({ args: ['--log-level', 'warn'] })
  try {
    for (const [i, maxKeyBytes] of [[1, 1024], [2, 16]] as const) {
      await mkdir(swarm.dataDir(i), { recursive: true })
      await writeFile(join(swarm.dataDir(i), 'config.json'), JSON.stringify({ kv: { maxKeyBytes } }))
    }
    wide = await swarm.start(1)
    narrow = await swarm.start(2)
  } catch (err) {
    await swarm.destroy()
    throw err
  }
})
test.after(async () => { await swarm?.destroy() })

async function refusal (p: Promise<unknown>): Promise<RpcError> {
  try { await p } catch (err) { assert.instance(err, RpcError); return err as RpcError }
  throw new Error('expected the call to be refused')
}

test('kv.maxKeyBytes 1024: a 600-byte key is stored and read back (the RPC once refused it at 512)', async () => {
  const key = 'k'.repeat(600)
  const put = await wide.client.call('kv.put', { key, value: 1 })
  assert.is(put.key, key)
  assert.is((await wide.client.call('kv.get', { key })).value, 1)
  const page = await wide.client.call('kv.list', { prefix: 'k'.repeat(599) })
  assert.equal(page.records.map(r => r.key), [key])
})

test('kv.maxKeyBytes 1024: a 1025-byte key answers -32602 naming params.key, its size and the limit', async () => {
  const err = await refusal(wide.client.call('kv.put', { key: 'k'.repeat(1023) + 'é', value: 1 }))
  assert.is(err.code, -32602)
  const data = err.data as { field: string, value: unknown, expected: string }
  assert.is(data.field, 'params.key')
  assert.is(data.value, '1025 bytes')
  assert.is(data.expected, 'at most 1024 UTF-8 bytes')
})

test('kv.maxKeyBytes 16: the same limit holds for put, delete and get', async () => {
  assert.is((await narrow.client.call('kv.put', { key: 'x'.repeat(16), value: 1 })).key, 'x'.repeat(16))
  for (const call of [
    narrow.client.call('kv.put', { key: 'x'.repeat(17), value: 1 }),
    narrow.client.call('kv.delete', { key: 'x'.repeat(17) }),
    narrow.client.call('kv.get', { key: 'x'.repeat(17) })
  ]) {
    const err = await refusal(call)
    assert.is(err.code, -32602)
    assert.equal(err.data, { field: 'params.key', value: '17 bytes', expected: 'at most 16 UTF-8 bytes', code: 'ERR_INVALID_INPUT' })
  }
})

test.run()
