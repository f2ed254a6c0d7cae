/**
 * The per-node tracer: off without an endpoint (no spans, a given parent passes through unchanged); on, it
 * exports OTLP/HTTP JSON with the node's resource attributes and the parent links it was given.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTracing, noopTracing, traceIdOf } from '../src/tracing.js'

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const t = suite('tracing')

t('off without an endpoint: the no-op tracer, which passes a valid parent through', async () => {
  const tracing = createTracing({ config: { sampleRatio: 1 }, peerId: 'p' })
  assert.is(tracing, noopTracing)
  assert.is(tracing.enabled, false)
  const span = tracing.start('x', { parent: PARENT })
  assert.is(span.traceparent, PARENT)
  assert.is(span.traceId, '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.is(tracing.start('x').traceparent, undefined)
  assert.is(tracing.start('x', { parent: 'garbage' }).traceparent, undefined)
  assert.is(await tracing.run('x', { parent: PARENT }, async s => s.traceparent), PARENT)
  await tracing.shutdown()
})

t('traceIdOf reads a traceparent and ignores anything else', () => {
  assert.is(traceIdOf(PARENT), '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.is(traceIdOf(undefined), undefined)
  assert.is(traceIdOf('01-zz'), undefined)
})

t('on: spans reach an OTLP/HTTP receiver as JSON, with resource attributes and parent links', async () => {
  const bodies: any[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { bodies.push(JSON.parse(Buffer.concat(chunks).toString())); res.writeHead(200).end('{}') })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`
    const tracing = createTracing({ config: { endpoint, sampleRatio: 1 }, peerId: 'peer-1' })
    assert.ok(tracing.enabled)
    const child = await tracing.run('outer', { parent: PARENT }, async outer => {
      assert.is(outer.traceId, '4bf92f3577b34da6a3ce929d0e0e4736')
      return tracing.start('inner', { parent: outer.traceparent })
    })
    child.fail(new Error('boom'))
    child.end()
    await tracing.shutdown()
    const rs = bodies.flatMap(b => b.resourceSpans)
    const attrs = Object.fromEntries(rs[0].resource.attributes.map((a: any) => [a.key, a.value.stringValue]))
    assert.is(attrs['service.name'], 'shoal')
    assert.is(attrs['service.instance.id'], 'peer-1')
    const spans = rs.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))
    const outer = spans.find((s: any) => s.name === 'outer')
    const inner = spans.find((s: any) => s.name === 'inner')
    assert.is(outer.parentSpanId, '00f067aa0ba902b7')
    assert.is(inner.parentSpanId, outer.spanId)
    assert.is(inner.traceId, outer.traceId)
    assert.is(inner.status.code, 2)
  } finally {
    server.close()
  }
})

t('sampleRatio 0: no new trace is recorded, but a sampled parent still is', async () => {
  const tracing = createTracing({ config: { endpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio: 0 }, peerId: 'p' })
  assert.ok(tracing.start('root').traceparent?.endsWith('-00'))
  assert.ok(tracing.start('child', { parent: PARENT }).traceparent?.endsWith('-01'))
  await tracing.shutdown()
})

t.run()
