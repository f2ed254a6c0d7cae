/**
 * The JSON-RPC baseline's server, run as a child process like a daemon: bare node:http on 127.0.0.1 that
 * answers kv.put / kv.get requests with a canned result of the same shape (no auth, no validation, no
 * storage). Sends {port} over IPC once listening; exits when the parent disconnects.
 */
import { createServer } from 'node:http'

const version = { wall: Date.now(), logical: 0, node: '12D3KooW' + 'x'.repeat(44) }
const value = { n: 0, t: Date.now(), pad: 'x'.repeat(220) }

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => { chunks.push(c) })
  req.on('end', () => {
    let id: unknown = null
    let method = ''
    let key = ''
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown, method?: string, params?: { key?: string } }
      id = body.id ?? null
      method = body.method ?? ''
      key = body.params?.key ?? ''
    } catch { /* answered below like any request */ }
    const result = method === 'kv.get' ? { key, value, version } : { key, version, acked: 1, required: 1 }
    const out = JSON.stringify({ jsonrpc: '2.0', id, result })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
    res.end(out)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  process.send?.({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 })
})
process.on('disconnect', () => { server.close(); process.exit(0) })
