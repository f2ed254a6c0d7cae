/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 for tests: A and TXT records from a table, NXDOMAIN for
 * names it does not know, an empty answer (NODATA) for a known name without that type. Wire format: RFC 1035
 * section 4 (header, one question, answers with a compression pointer to the question name).
 */
import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'

export interface Zone { [name: string]: { A?: string[], TXT?: string[] } }
export interface TestDnsServer { address: string, queries: Array<{ name: string, type: string }>, close: () => Promise<void> }

const TYPES: Record<number, 'A' | 'TXT' | 'AAAA' | 'CNAME'> = { 1: 'A', 16: 'TXT', 28: 'AAAA', 5: 'CNAME' }

export async function startDnsServer (zone: Zone): Promise<TestDnsServer> {
  const socket = createSocket('udp4')
  const queries: TestDnsServer['queries'] = []
  socket.on('message', (msg, rinfo) => {
    try {
      let off = 12
      const labels: string[] = []
      while (msg[off] !== 0) { const len = msg[off] ?? 0; labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii')); off += len + 1 }
      off += 1
      const qtype = msg.readUInt16BE(off)
      const questionEnd = off + 4
      const name = labels.join('.').toLowerCase()
      const type = TYPES[qtype] ?? String(qtype)
      queries.push({ name, type })
      const entry = zone[name]
      const rdatas: Buffer[] = []
      if (entry !== undefined && type === 'A') for (const ip of entry.A ?? []) rdatas.push(Buffer.from(ip.split('.').map(Number)))
      if (entry !== undefined && type === 'TXT') {
        for (const text of entry.TXT ?? []) {
          const chunks = text.match(/[\s\S]{1,255}/g) ?? ['']
          rdatas.push(Buffer.concat(chunks.map(c => Buffer.concat([Buffer.from([c.length]), Buffer.from(c, 'ascii')]))))
        }
      }
      const header = Buffer.alloc(12)
      header.writeUInt16BE(msg.readUInt16BE(0), 0)
      header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (entry === undefined ? 3 : 0), 2) // QR, AA, RD echoed, rcode
      header.writeUInt16BE(1, 4)
      header.writeUInt16BE(rdatas.length, 6)
      const answers = rdatas.map(rdata => {
        const rr = Buffer.alloc(12)
        rr.writeUInt16BE(0xc00c, 0) // pointer to the question's name
        rr.writeUInt16BE(qtype, 2)
        rr.writeUInt16BE(1, 4) // IN
        rr.writeUInt32BE(5, 6) // TTL 5 s
        rr.writeUInt16BE(rdata.length, 10)
        return Buffer.concat([rr, rdata])
      })
      socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]), rinfo.port, rinfo.address)
    } catch { /* a malformed query gets no answer */ }
  })
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address() as AddressInfo
  return { address: `127.0.0.1:${port}`, queries, close: async () => await new Promise<void>(resolve => socket.close(() => resolve())) }
}
