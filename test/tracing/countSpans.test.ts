import t from 'tap'
import { countProtobufSpans } from '../../bench/tracing/countSpans.js'
import { CompactTracer, type CompactTransport } from '../../core/tracing/compactTracer.js'
import type { ToCompactWorker } from '../../core/tracing/compactRecord.js'
import { decodeTraceRequest } from '../helpers/otlpProtobuf.js'
import { memoryLog } from '../helpers/silentLog.js'

function batchOf (messages: number): Uint8Array {
  const posted: ToCompactWorker[] = []
  const transport: CompactTransport = { post: (m) => { posted.push(m) }, onMessage: () => {}, ref: () => {}, terminate: async () => {} }
  const tracer = new CompactTracer({ endpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio: 1, serviceName: 's', maxQueueSize: 100_000, exportTimeoutMs: 500, scheduledDelayMs: 60_000, protocol: 'http/protobuf' }, memoryLog('warn').log, undefined, transport, { maxBatchSize: 100_000 })
  for (let i = 0; i < messages; i++) {
    const m = tracer.begin({ topic: `dev/${i}/é`, payload: Buffer.alloc(i), qos: 1 })
    m.stage('route match').end()
    m.stage('dispatch', { 'iotless.attempt': 1, big: 'x'.repeat(i % 3 === 0 ? 20_000 : 1) }).end(i % 2 === 0 ? 'E' : undefined)
    m.end('ack')
  }
  void tracer.forceFlush(0)
  const b = posted[0]
  if (b?.type !== 'proto') throw new Error('no batch')
  return new Uint8Array(b.buffer, b.start, b.end - b.start)
}

t.test('countProtobufSpans: the spans the full decoder finds, without decoding them', async (t) => {
  for (const n of [1, 7, 50]) {
    const body = batchOf(n)
    const decoded = decodeTraceRequest(body).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).length
    t.equal(countProtobufSpans(body), decoded, `${n} messages: ${decoded} spans`)
    t.equal(decoded, 3 * n)
  }
})

t.test('countProtobufSpans: a truncated or malformed request throws', async (t) => {
  const body = batchOf(3)
  t.throws(() => countProtobufSpans(body.subarray(0, body.length - 5)), /protobuf/)
  t.throws(() => countProtobufSpans(Uint8Array.from([0x0a, 0xff])), /protobuf/, 'a length that never ends')
  t.throws(() => countProtobufSpans(Uint8Array.from([0x0b])), /wire type 3/)
  t.equal(countProtobufSpans(new Uint8Array(0)), 0, 'an empty request has none')
})
