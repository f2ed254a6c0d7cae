/**
 * OpenTelemetry tracing (docs/operations.md, "Tracing"). One tracer provider per node, never registered
 * globally (tests run many nodes in one process), exporting over OTLP/HTTP (JSON) through a batch processor
 * with a bounded queue. Context is passed explicitly as W3C `traceparent` strings, not through
 * AsyncLocalStorage: a span's parent is whatever traceparent the caller hands in (an RPC header, an event's
 * `trace`, a job record's `trace`). With tracing off, spans cost nothing and a given parent passes through
 * unchanged, so context still travels to nodes that do trace.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api'
import type { Attributes, Span, Tracer } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import type { TracingConfig } from '@shoal/core'
import { VERSION } from './version.js'

/** Spans held for export at most; beyond it new spans are dropped, so a dead collector cannot grow memory. */
const MAX_QUEUE_SPANS = 2048
/** Spans per OTLP request. */
const MAX_EXPORT_BATCH = 512
/** How long finished spans wait to be batched: small enough that a trace shows up while one looks for it. */
const EXPORT_DELAY_MS = 500
/** One export request's deadline; the collector being slow must not hold stop() for long. */
const EXPORT_TIMEOUT_MS = 5000
/** Not yet in the stable semantic conventions. */
const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface SpanOptions {
  /** W3C traceparent of the parent span; none = a new trace. */
  parent?: string
  attributes?: Attributes
  kind?: 'server' | 'internal'
  /** When the span began (ms since the epoch), for spans created once their work is known to matter. */
  startTime?: number
}

export interface TraceSpan {
  /** This span's W3C traceparent, to hand to children (or the parent's, passed through, with tracing off). */
  readonly traceparent: string | undefined
  /** 32 hex digits, for log lines; undefined when there is no trace. */
  readonly traceId: string | undefined
  setAttributes: (attributes: Attributes) => void
  /** Marks the span failed with this error. */
  fail: (err: unknown) => void
  end: () => void
}

export interface Tracing {
  readonly enabled: boolean
  start: (name: string, opts?: SpanOptions) => TraceSpan
  /** Runs `work` in a span that ends when it settles (failed if it throws). */
  run: <T>(name: string, opts: SpanOptions, work: (span: TraceSpan) => Promise<T>) => Promise<T>
  /** Exports what is queued. */
  flush: () => Promise<void>
  /** Exports what is queued and stops; idempotent. */
  shutdown: () => Promise<void>
}

export interface TracingInit {
  config: TracingConfig
  /** service.instance.id: the node's peer id. */
  peerId: string
}

/** The trace id of a traceparent, for log lines; undefined if absent or malformed. */
export function traceIdOf (traceparent: string | undefined): string | undefined {
  return traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent)?.[1]
}

/** A tracer for this node: exporting when `config.endpoint` is set, else the no-op one. */
export function createTracing (init: TracingInit): Tracing {
  const { endpoint } = init.config
  if (endpoint === undefined) return noopTracing
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: init.config.serviceName ?? 'shoal',
      [ATTR_SERVICE_INSTANCE_ID]: init.peerId,
      'service.version': VERSION
    }),
    // A remote parent's decision is followed, so one trace is recorded on every node or on none.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(init.config.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint, timeoutMillis: EXPORT_TIMEOUT_MS }), {
      maxQueueSize: MAX_QUEUE_SPANS,
      maxExportBatchSize: MAX_EXPORT_BATCH,
      scheduledDelayMillis: EXPORT_DELAY_MS,
      exportTimeoutMillis: EXPORT_TIMEOUT_MS
    })]
  })
  return otelTracing(provider.getTracer('shoal', VERSION), provider)
}

function otelTracing (tracer: Tracer, provider: BasicTracerProvider): Tracing {
  let stopped: Promise<void> | undefined
  const start = (name: string, opts: SpanOptions = {}): TraceSpan => {
    const parent = parseTraceparent(opts.parent)
    const ctx = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent)
    const span = tracer.startSpan(name, {
      kind: opts.kind === 'server' ? SpanKind.SERVER : SpanKind.INTERNAL,
      ...(opts.attributes !== undefined ? { attributes: opts.attributes } : {}),
      ...(opts.startTime !== undefined ? { startTime: opts.startTime } : {})
    }, ctx)
    return wrap(span)
  }
  return {
    enabled: true,
    start,
    run: async (name, opts, work) => await runIn(start(name, opts), work),
    flush: async () => { if (stopped === undefined) await provider.forceFlush() },
    shutdown: async () => { stopped ??= provider.shutdown().catch(() => {}); await stopped }
  }
}

function wrap (span: Span): TraceSpan {
  const sc = span.spanContext()
  const flags = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'
  return {
    traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`,
    traceId: sc.traceId,
    setAttributes: a => { span.setAttributes(a) },
    fail: err => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) })
    },
    end: () => { span.end() }
  }
}

async function runIn<T> (span: TraceSpan, work: (span: TraceSpan) => Promise<T>): Promise<T> {
  try {
    return await work(span)
  } catch (err) {
    span.fail(err)
    throw err
  } finally {
    span.end()
  }
}

function parseTraceparent (value: string | undefined): { traceId: string, spanId: string, traceFlags: number, isRemote: boolean } | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value)
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true }
}

/** Tracing off: no spans, and a parent passes through so the context still reaches the next node. */
export const noopTracing: Tracing = {
  enabled: false,
  start: (_name, opts = {}) => {
    const traceparent = parseTraceparent(opts.parent) === undefined ? undefined : opts.parent
    return { traceparent, traceId: traceIdOf(traceparent), setAttributes: () => {}, fail: () => {}, end: () => {} }
  },
  run: async (name, opts, work) => await work(noopTracing.start(name, opts)),
  flush: async () => {},
  shutdown: async () => {}
}

/** The RPC server's `traceCall` hook: an `rpc <method>` server span per call, child of the request's traceparent. */
export function traceRpc (tracing: Tracing): (call: { method: string, parent?: string }) => { trace?: string, end: (code: number) => void } {
  return ({ method, parent }) => {
    const span = tracing.start(`rpc ${method}`, { parent, kind: 'server', attributes: { 'rpc.system': 'jsonrpc', 'rpc.method': method } })
    return {
      trace: span.traceparent,
      end: code => {
        if (code !== 0) {
          span.setAttributes({ 'rpc.jsonrpc.error_code': code })
          span.fail(`JSON-RPC error ${code}`)
        }
        span.end()
      }
    }
  }
}
