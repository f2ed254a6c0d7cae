/**
 * The JSON-RPC baseline's server, run as a child process like a daemon: bare node:http on 127.0.0.1 doing the
 * same storage work as the daemon with none of its layers (no auth, no validation, no events, no replication):
 * `kv.put` is a classic-level put with `sync: true` (an acknowledged Shoal put is fsync'd), `kv.get` a
 * classic-level get, `node.ping` answers the time. Results have the daemon's shapes. The database lives in the
 * directory given as argv[2]. Sends {port} over IPC once listening; exits when the parent disconnects.
 */
import { createServer } from 'node:http'
import { Level } from 'level'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: kv-http-peer <database dir>')
const db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
await db.open()
const self = '12D3KooW' + 'x'.repeat(44)

async function answer (method: string, params: { key?: string, value?: unknown }): Promise<unknown> {
  const key = params.key ?? ''
  switch (method) {
    case 'kv.put': {
      const version = { wall: Date.now(), logical: 0, node: self }
      await db.put(key, { value: params.value, version }, { sync: true })
      return { key, version, acked: 1, required: 1 }
    }
    case 'kv.get': {
      const record = await db.get(key) as { value: unknown, version: unknown } | undefined
      return { key, value: record?.value, version: record?.version }
    }
    default:
      return { time: Date.now() }
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => { chunks.push(c) })
  req.on('end', () => {
    let id: unknown = null
    let method = ''
    let params: { key?: string, value?: unknown } = {}
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown, method?: string, params?: typeof params }
      id = body.id ?? null
      method = body.method ?? ''
      params = body.params ?? {}
    } catch { /* answered below like any request */ }
    answer(method, params).then(result => ({ jsonrpc: '2.0', id, result }), (err: Error) => ({ jsonrpc: '2.0', id, error: { code: -32603, message: err.message } })).then(reply => {
      const out = JSON.stringify(reply)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
      res.end(out)
    })
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  process.send?.({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 })
})
process.on('disconnect', () => { server.close(); void db.close().finally(() => process.exit(0)) })
