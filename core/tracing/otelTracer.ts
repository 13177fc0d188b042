import { createRequire } from 'node:module'
import { IotlessError } from '../errors.js'
import type { Logger } from '../log.js'
import type { InboundForTrace, MessageSpan, MessageTracer, SpanAttributes, StageSpan } from './messageTracer.js'

/** What OpenTelemetry export needs (the `tracing` config section, OTEL_* applied by core/config). */
export interface OtelSettings {
  endpoint: string
  sampleRatio: number
  serviceName: string
  /** Spans waiting for export; past it, new ones are dropped and counted. */
  maxQueueSize: number
  exportTimeoutMs: number
  /** The adapter's export: from a worker thread (default) or from the message-handling thread. */
  exportThread?: 'worker' | 'main' | undefined
  scheduledDelayMs: number
  /** The compact engine's OTLP encoding (the SDK's exporter sends JSON). */
  protocol?: 'http/protobuf' | 'http/json' | undefined
}

export interface OtelCounters {
  exported(n: number): void
  dropped(n: number): void
  failed(n: number): void
}

export interface OtelTracing {
  readonly tracer: MessageTracer
  /** Spans dropped because the export queue was full. */
  readonly droppedSpans: number
  /** Exports everything queued, then stops. */
  shutdown(): Promise<void>
}

/**
 * The adapter's spans through the real OpenTelemetry SDK, exported over OTLP/HTTP (JSON) to `endpoint`.
 * The SDK is imported here, dynamically, only when tracing is on: with it off nothing of it is loaded.
 * Export never holds a message up: the adapter's finished spans go, as compact records, to an export worker
 * thread (workerSpanProcessor.ts) that serialises and posts them; a function's instance process uses the
 * SDK's BatchSpanProcessor. Both queues are bounded: past `maxQueueSize` unexported spans new ones are
 * dropped, counted, and logged once.
 */
/** The OpenTelemetry packages tracing loads (optional peer dependencies of iotless). */
export const OTEL_PACKAGES = ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/resources', '@opentelemetry/sdk-trace-base', '@opentelemetry/semantic-conventions'] as const

/**
 * Stops start-up with TRACING_SDK_MISSING and the install line when the SDK is not installed; resolves it
 * without loading it (the compact engine's adapter does not load it; the functions' processes do).
 */
export function requireOtelSdk (): void {
  try {
    createRequire(import.meta.url).resolve('@opentelemetry/sdk-trace-base')
  } catch (err) {
    throw new IotlessError('TRACING_SDK_MISSING', `tracing.enabled needs the OpenTelemetry SDK, which is not installed; run \`npm install ${OTEL_PACKAGES.join(' ')}\``, { cause: err })
  }
}

/**
 * The SDK, loaded now, with a provider exporting through a bounded, counted queue: from a worker thread
 * (default: a hot path's process, the adapter, a proxy) or from this thread (a function's process).
 */
async function otelSdk (s: OtelSettings, log: Logger, counters: OtelCounters | undefined, scope: string, exportIn: 'worker' | 'thread' = 'worker') {
  try {
    await import('@opentelemetry/sdk-trace-base')
  } catch (err) {
    // Optional peer dependencies: an install that never traces installs none of them.
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new IotlessError('TRACING_SDK_MISSING', `tracing.enabled needs the OpenTelemetry SDK, which is not installed; run \`npm install ${OTEL_PACKAGES.join(' ')}\``, { cause: err })
    }
    throw err
  }
  const api = await import('@opentelemetry/api')
  const { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-base')
  const { resourceFromAttributes } = await import('@opentelemetry/resources')
  const { ATTR_SERVICE_NAME } = await import('@opentelemetry/semantic-conventions')
  const { W3CTraceContextPropagator } = await import('@opentelemetry/core')
  type Span = import('@opentelemetry/api').Span

  let processor: import('@opentelemetry/sdk-trace-base').SpanProcessor
  let droppedSpans: () => number
  if (exportIn === 'worker') {
    // The adapter: serialisation and POST in a worker thread, off the thread that handles messages.
    const { WorkerSpanProcessor } = await import('./workerSpanProcessor.js')
    const p = new WorkerSpanProcessor({ endpoint: s.endpoint, exportTimeoutMs: s.exportTimeoutMs, serviceName: s.serviceName, scope, maxQueueSize: s.maxQueueSize, maxBatchSize: Math.min(512, s.maxQueueSize), scheduledDelayMs: s.scheduledDelayMs, log, counters })
    processor = p
    droppedSpans = () => p.dropped
  } else {
    const b = await boundedBatchProcessor(s, log, counters)
    processor = b.processor
    droppedSpans = b.dropped
  }
  // Ratio 1 and 0 need no draw per span.
  const root = s.sampleRatio >= 1 ? new AlwaysOnSampler() : s.sampleRatio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(s.sampleRatio)
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: s.serviceName }),
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: [processor]
  })
  const propagator = new W3CTraceContextPropagator()
  const getter = { keys: (c: Record<string, string>) => Object.keys(c), get: (c: Record<string, string>, k: string) => c[k] }
  // The W3C traceparent of a span, as W3CTraceContextPropagator.inject writes it (version 00), without a context and a carrier per call.
  const traceparentOf = (span: Span): string | undefined => {
    const c = span.spanContext()
    if (!api.isSpanContextValid(c)) return undefined
    return `00-${c.traceId}-${c.spanId}-0${(c.traceFlags & 1).toString(16)}`
  }
  const contextOf = (traceparent: string | undefined): import('@opentelemetry/api').Context =>
    traceparent === undefined ? api.ROOT_CONTEXT : propagator.extract(api.ROOT_CONTEXT, { traceparent }, getter)
  return { api, provider, tracer: provider.getTracer(scope), traceparentOf, contextOf, droppedSpans }
}

/** The SDK's BatchSpanProcessor and OTLP/HTTP exporter in this thread (a function's instance process), bounded and counted. */
async function boundedBatchProcessor (s: OtelSettings, log: Logger, counters: OtelCounters | undefined) {
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
  const { ExportResultCode } = await import('@opentelemetry/core')
  type ReadableSpan = import('@opentelemetry/sdk-trace-base').ReadableSpan
  type SpanExporter = import('@opentelemetry/sdk-trace-base').SpanExporter
  const inner = new OTLPTraceExporter({ url: s.endpoint, timeoutMillis: s.exportTimeoutMs })
  let pending = 0
  let dropped = 0
  let warnedDrop = false
  let warnedFail = false
  // Counts what leaves and what fails; a failed export is logged once, not per batch.
  const exporter: SpanExporter = {
    export (spans, done) {
      inner.export(spans, (result) => {
        pending -= spans.length
        if (result.code === ExportResultCode.SUCCESS) counters?.exported(spans.length)
        else {
          counters?.failed(spans.length)
          if (!warnedFail) {
            warnedFail = true
            log.warn({ code: 'TRACING_EXPORT_FAILED', endpoint: s.endpoint, err: result.error?.message }, 'tracing: spans could not be exported (logged once; iotless_trace_spans_failed_total counts them)')
          }
        }
        done(result)
      })
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush()
  }
  const batch = new BatchSpanProcessor(exporter, { maxQueueSize: s.maxQueueSize, maxExportBatchSize: Math.min(512, s.maxQueueSize), scheduledDelayMillis: s.scheduledDelayMs, exportTimeoutMillis: s.exportTimeoutMs })
  const processor = {
    onStart: (span: import('@opentelemetry/api').Span, ctx: import('@opentelemetry/api').Context) => { batch.onStart(span as never, ctx) },
    onEnd (span: ReadableSpan) {
      if (pending >= s.maxQueueSize) {
        dropped++
        counters?.dropped(1)
        if (!warnedDrop) {
          warnedDrop = true
          log.warn({ code: 'TRACING_QUEUE_FULL', endpoint: s.endpoint, maxQueueSize: s.maxQueueSize }, 'tracing: export queue full, spans are dropped (logged once; iotless_trace_spans_dropped_total counts them)')
        }
        return
      }
      pending++
      batch.onEnd(span)
    },
    shutdown: () => batch.shutdown(),
    forceFlush: () => batch.forceFlush()
  }
  return { processor, dropped: () => dropped }
}

export async function startOtelTracing (s: OtelSettings, log: Logger, counters?: OtelCounters): Promise<OtelTracing> {
  const { api, provider, tracer, traceparentOf, contextOf, droppedSpans } = await otelSdk(s, log, counters, 'iotless-adapter', s.exportThread === 'main' ? 'thread' : 'worker')

  const messageTracer: MessageTracer = {
    begin (msg: InboundForTrace): MessageSpan {
      const parentCtx = contextOf(msg.traceparent)
      const root = tracer.startSpan(`${msg.topic} receive`, {
        kind: api.SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'mqtt', 'messaging.operation.type': 'receive', 'messaging.destination.name': msg.topic, 'messaging.mqtt.qos': msg.qos, 'messaging.message.body.size': msg.payload.length }
      }, parentCtx)
      if (!root.isRecording()) {
        // Not sampled: with parent-based sampling its stages would not be recorded either. The message's
        // context goes on as it is (flags 00, so downstream does not record), and no further span is made.
        const tp = traceparentOf(root)
        const none: StageSpan = { traceparent: tp, recording: false, set () {}, end () {} }
        return { traceparent: tp ?? '', recording: false, set () {}, stage: () => none, end () {} }
      }
      const rootCtx = api.trace.setSpan(parentCtx, root)
      return {
        get traceparent () { return traceparentOf(root) ?? '' },
        set: (key, value) => { root.setAttribute(key, value) },
        stage (name: string, attributes?: SpanAttributes): StageSpan {
          const kind = name === 'dispatch' ? api.SpanKind.CLIENT : name === 'reply publish' || name === 'dead letter' ? api.SpanKind.PRODUCER : api.SpanKind.INTERNAL
          const span = tracer.startSpan(name, { kind, attributes }, rootCtx)
          let done = false
          return {
            get traceparent () { return traceparentOf(span) },
            set: (key, value) => { span.setAttribute(key, value) },
            end: (error?: string) => {
              if (done) return
              done = true
              if (error !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error })
              span.end()
            }
          }
        },
        end: (outcome: string) => {
          root.setAttribute('iotless.outcome', outcome)
          if (outcome === 'leave') root.setStatus({ code: api.SpanStatusCode.ERROR, message: 'left to the broker to deliver again' })
          root.end()
        }
      }
    }
  }
  return {
    tracer: messageTracer,
    get droppedSpans () { return droppedSpans() },
    shutdown: () => provider.shutdown()
  }
}

/** The span of one handler call; `end` once, with an error text when it failed. */
export interface HandlerSpan {
  set(key: string, value: string | number | boolean): void
  end(error?: string): void
}

/** Wraps a function's handler in a span, the child of the event's traceparent (the adapter's dispatch attempt). */
export interface HandlerTracer {
  around<T>(fnName: string, event: { id: string; type: string; traceparent?: unknown }, run: () => Promise<T>): Promise<T>
  /** The same span, started now and ended by the caller (a handler whose synchronous throw must stay synchronous). */
  start(fnName: string, event: { id: string; type: string; traceparent?: unknown }, attributes?: SpanAttributes): HandlerSpan
  shutdown(): Promise<void>
}

/** A function's side (a pool instance process, `iotless fn serve`): one SERVER span per handled event, exported like the adapter's. */
export async function startHandlerTracing (s: OtelSettings, log: Logger, trigger = 'pubsub'): Promise<HandlerTracer> {
  const { api, provider, tracer, contextOf } = await otelSdk(s, log, undefined, 'iotless-function', 'thread')
  const start = (fnName: string, event: { id: string; type: string; traceparent?: unknown }, attributes?: SpanAttributes): HandlerSpan => {
    const tp = typeof event.traceparent === 'string' ? event.traceparent : undefined
    const span = tracer.startSpan(`${fnName} handle`, {
      kind: api.SpanKind.SERVER,
      attributes: { 'faas.trigger': trigger, 'faas.invoked_name': fnName, 'cloudevents.event_id': event.id, 'cloudevents.event_type': event.type, ...attributes }
    }, contextOf(tp))
    let done = false
    return {
      set: (k, v) => { span.setAttribute(k, v) },
      end: (error) => {
        if (done) return
        done = true
        if (error !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error })
        span.end()
      }
    }
  }
  return {
    start,
    async around (fnName, event, run) {
      const span = start(fnName, event)
      try {
        const r = await run()
        span.end()
        return r
      } catch (err) {
        span.end((err as Error).message)
        throw err
      }
    },
    shutdown: () => provider.shutdown()
  }
}

/**
 * A proxy's side (the queue-proxy sidecar): one SERVER span per proxied request, named `queue` as Knative's
 * queue-proxy names its otelhttp server span, exported like the adapter's. The span's traceparent goes out
 * with the request, so the user container's span is its child.
 */
export async function startRequestTracing (s: OtelSettings, log: Logger, counters?: OtelCounters): Promise<import('./requestTracer.js').RequestTracer> {
  const { api, provider, tracer, traceparentOf, contextOf } = await otelSdk(s, log, counters, 'iotless-proxy')
  return {
    begin (req) {
      const q = req.target.indexOf('?')
      const span = tracer.startSpan('queue', {
        kind: api.SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': q < 0 ? req.target : req.target.slice(0, q),
          'url.scheme': req.scheme,
          'network.protocol.name': 'http',
          'network.protocol.version': req.protocolVersion,
          'kn.route.tag': req.routeTag
        }
      }, contextOf(req.traceparent))
      let done = false
      return {
        traceparent: traceparentOf(span) ?? '',
        end (status: number) {
          if (done) return
          done = true
          if (status > 0) span.setAttribute('http.response.status_code', status)
          // OpenTelemetry's HTTP semantic conventions: a server span is an error for 5xx (and for no response).
          if (status === 0 || status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR, message: status === 0 ? 'no response' : String(status) })
          span.end()
        }
      }
    },
    shutdown: () => provider.shutdown()
  }
}
