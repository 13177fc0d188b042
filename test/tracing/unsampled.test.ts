// An unsampled message makes one non-recording span and no more: its stages hand on the message's own
// context (flags 00); a sampled parent is still followed at any ratio. Both engines (the SDK and the compact
// one) and their export workers, no endpoint.
import t from 'tap'
import { startCompactTracing } from '../../core/tracing/compactTracer.js'
import { startOtelTracing } from '../../core/tracing/otelTracer.js'
import { memoryLog } from '../helpers/silentLog.js'

const settings = (sampleRatio: number) => ({ endpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio, serviceName: 'test', maxQueueSize: 16, exportTimeoutMs: 500, scheduledDelayMs: 60_000 })
const msg = { topic: 't/1', payload: Buffer.from('{}'), qos: 1 }

for (const [engine, start] of [['sdk', startOtelTracing], ['compact', startCompactTracing]] as const) {
  t.test(`${engine}, ratio 0: the stages propagate the message's unsampled context`, async (t) => {
    const otel = await start(settings(0), memoryLog('error').log)
    t.teardown(() => otel.shutdown())
    const m = otel.tracer.begin(msg)
    t.match(m.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'a valid traceparent, not sampled')
    const d = m.stage('dispatch', { 'iotless.attempt': 1 })
    t.equal(d.traceparent, m.traceparent, 'the attempt hands on the message\'s context')
    d.set('x', 1)
    d.end('ERR')
    m.end('ack')
  })

  t.test(`${engine}, ratio 0 with a sampled parent: recorded, children of their own`, async (t) => {
    const otel = await start(settings(0), memoryLog('error').log)
    t.teardown(() => otel.shutdown())
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const m = otel.tracer.begin({ ...msg, traceparent: parent })
    t.match(m.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/, 'the device\'s trace, sampled')
    const d = m.stage('dispatch')
    t.match(d.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
    t.not(d.traceparent, m.traceparent, 'the attempt is a span of its own')
    d.end()
    m.end('ack')
  })
}
