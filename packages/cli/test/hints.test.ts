/**
 * Error hints that stopped short (issue 13): a refused token says where the token came from and where the
 * daemon's is; a stale daemon.json keeps --data-dir in its hint; `connect` explains a bad multiaddr in words.
 * A real RPC server on 127.0.0.1 refuses the token; nothing else here needs a daemon.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRpcServer } from '@shoal/rpc'
import { main } from '../src/main.js'

let dir: string
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'shoal-hints-')) })
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

async function run (argv: string[], env: Record<string, string> = {}): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: t => { out.push(t) }, err: t => { err.push(t) } }, env)
  return { code, out: out.join('\n'), err: err.join('\n') }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

async function dataDir (name: string, rpcUrl: string): Promise<string> {
  const d = join(dir, name)
  await rm(d, { recursive: true, force: true })
  await import('node:fs/promises').then(async fs => await fs.mkdir(d, { recursive: true }))
  await writeFile(join(d, 'rpc.token'), 'a'.repeat(64) + '\n')
  await writeFile(join(d, 'daemon.json'), JSON.stringify({ pid: 1, peerId: '12D3KooWx', rpcUrl, listen: [], startedAt: 0 }))
  return d
}

test('a stale daemon.json: the hint names the daemon.json and keeps --data-dir', async () => {
  const d = await dataDir('stale', `http://127.0.0.1:${await freePort()}/rpc`)
  const r = await run(['status', '--data-dir', d])
  assert.is(r.code, 3, r.err)
  assert.match(r.err, `${join(d, 'daemon.json')}`)
  assert.match(r.err, `\`shoal daemon --data-dir ${d}\``)
  assert.is(r.err.split('\n').length, 1)
})

test('a wrong token: says which token was refused and where the right one is', async () => {
  const server = createRpcServer({ methods: [], context: {}, token: 'b'.repeat(64) })
  const { url } = await server.start()
  try {
    const d = await dataDir('other', url)
    const fromFile = await run(['status', '--data-dir', d])
    assert.is(fromFile.code, 1, fromFile.err)
    assert.match(fromFile.err, `refused the RPC token from ${join(d, 'rpc.token')}`)
    assert.match(fromFile.err, 'pass its --data-dir')
    const fromEnv = await run(['status', '--rpc', url], { SHOAL_RPC_TOKEN: 'c'.repeat(64), SHOAL_DATA_DIR: d })
    assert.match(fromEnv.err, 'refused the RPC token from $SHOAL_RPC_TOKEN')
    assert.match(fromEnv.err, `drop $SHOAL_RPC_TOKEN to use ${join(d, 'rpc.token')}`)
    const ws = await run(['kv', 'watch', '--rpc', url, '--token', 'd'.repeat(64)])
    assert.match(ws.err, 'refused the RPC token from --token')
  } finally {
    await server.stop()
  }
})

test('connect not-a-multiaddr: a usage error in words, no regular expression, before any daemon is asked', async () => {
  for (const bad of ['not-a-multiaddr', '/ip4/1.2.3/tcp/1']) {
    const r = await run(['connect', bad], { SHOAL_RPC: 'http://127.0.0.1:9/rpc', SHOAL_RPC_TOKEN: 'x'.repeat(64) })
    assert.is(r.code, 2, r.err)
    assert.match(r.err, `shoal connect: '${bad}' is not`)
    assert.match(r.err, 'e.g. /ip4/192.0.2.7/tcp/7700/p2p/12D3KooW')
    assert.not.match(r.err, /[\^$\\]|\[A-/, 'no pattern syntax')
  }
})

test.run()
