// The two engines side by side: the same calls of the pipeline's tracer hooks (a retried, answered message;
// one from a device with a sampled traceparent, dead-lettered and left; one with an unsampled traceparent)
// through the SDK engine and the compact one (protobuf and JSON), each exporting to a local OTLP/HTTP
// receiver: the same spans, kinds, attributes, statuses and parent links.
import t from 'tap'
import type { MessageTracer } from '../../core/tracing/messageTracer.js'
import { startCompactTracing } from '../../core/tracing/compactTracer.js'
import { startOtelTracing, type OtelSettings } from '../../core/tracing/otelTracer.js'
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlpReceiver.js'
import { memoryLog } from '../helpers/silentLog.js'

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function script (tracer: MessageTracer): void {
  const m = tracer.begin({ topic: 'dev/<b>1', payload: Buffer.from('{"t":1}'), qos: 1 })
  const match = m.stage('route match')
  match.set('iotless.routes', 'routes[0]')
  match.end()
  m.set('cloudevents.event_id', 'ev-1')
  const a1 = m.stage('dispatch', { 'iotless.route': 'routes[0]', 'iotless.target': 'local', 'faas.invoked_name': 'f', 'iotless.attempt': 1, 'iotless.tier': 'local' })
  a1.set('iotless.retryable', true)
  a1.set('iotless.placement.predicted_ms', 1.25)
  a1.end('TARGET_HTTP_STATUS')
  const a2 = m.stage('dispatch', { 'iotless.route': 'routes[0]', 'iotless.attempt': 2 })
  a2.end()
  m.stage('reply publish', { 'messaging.destination.name': 'dev/replies', 'iotless.route': 'routes[0]' }).end()
  m.end('ack')
  const n = tracer.begin({ topic: 'dev/2', payload: Buffer.alloc(3), qos: 0, traceparent: PARENT })
  const dead = n.stage('dead letter', { 'iotless.route': 'routes[0]', 'error.type': 'PAYLOAD_NOT_JSON', 'iotless.reason': 'not JSON' })
  dead.set('messaging.destination.name', 'dlq/dev/2')
  dead.end('PAYLOAD_NOT_JSON')
  n.end('leave')
  const u = tracer.begin({ topic: 'dev/3', payload: Buffer.alloc(1), qos: 1, traceparent: PARENT.replace(/01$/, '00') })
  u.stage('route match').end()
  u.end('ack')
}

/** Spans with their ids replaced by what they point at (the parent's name), in a stable order. */
function shape (spans: ReceivedSpan[]) {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  return spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    parent: s.parentSpanId === '' ? '' : byId.get(s.parentSpanId)?.name ?? `remote ${s.parentSpanId}`,
    trace: s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736' ? 'the device\'s' : 'new',
    attributes: Object.fromEntries(Object.entries(s.attributes).sort(([a], [b]) => a.localeCompare(b))),
    statusCode: s.statusCode,
    service: s.service
  })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

async function run (engine: 'sdk' | 'compact', protocol: 'http/protobuf' | 'http/json' = 'http/protobuf'): Promise<ReceivedSpan[]> {
  const otlp = await startOtlpReceiver()
  const s: OtelSettings = { endpoint: otlp.url, sampleRatio: 1, serviceName: 'parity', maxQueueSize: 2048, exportTimeoutMs: 5000, scheduledDelayMs: 60_000, protocol }
  const tracing = engine === 'sdk' ? await startOtelTracing(s, memoryLog('warn').log) : await startCompactTracing(s, memoryLog('warn').log)
  script(tracing.tracer)
  await tracing.shutdown()
  await otlp.close()
  return otlp.spans
}

t.test('the compact engine exports what the SDK engine exports', async (t) => {
  const sdk = await run('sdk')
  t.equal(sdk.length, 7, `the SDK engine: ${sdk.map((s) => s.name).join(', ')}`)
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    const compact = await run('compact', protocol)
    t.same(shape(compact), shape(sdk), `compact, ${protocol}: the same spans`)
    t.equal(new Set(compact.map((s) => s.traceId)).size, 2, 'two traces: the unsampled message made none')
  }
})
