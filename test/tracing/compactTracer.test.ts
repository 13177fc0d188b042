// The compact engine (tracing.engine: compact) without a worker or a socket: a stand-in transport takes the
// batches. Its OTLP protobuf and JSON are compared with what OpenTelemetry's own serialisers
// (@opentelemetry/otlp-transformer) make of the same spans; its sampling with the SDK's TraceIdRatioBasedSampler
// on the same trace ids; and its queue is bounded, counted and logged once as the SDK engine's.
import t from 'tap'
import { ROOT_CONTEXT } from '@opentelemetry/api'
import { TraceIdRatioBasedSampler, SamplingDecision } from '@opentelemetry/sdk-trace-base'
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { seededRandom } from '../../core/seededRandom.js'
import { CompactTracer, parseParent, SpanSlab, type CompactTransport } from '../../core/tracing/compactTracer.js'
import { hex8, traceparentOf } from '../../core/tracing/idPool.js'
import type { FromCompactWorker, RecordValue, ToCompactWorker } from '../../core/tracing/compactRecord.js'
import { otlpJsonRequest } from '../../core/tracing/otlpJson.js'
import { fromSpanRecords } from '../../core/tracing/spanRecord.js'
import { decodeTraceRequest, type DecodedRequest, type DecodedSpan } from '../helpers/otlpProtobuf.js'
import { memoryLog } from '../helpers/silentLog.js'

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function harness (over: { sampleRatio?: number; maxQueueSize?: number; protocol?: 'http/protobuf' | 'http/json'; seed?: number; maxBatchSize?: number; maxOpenSpans?: number } = {}) {
  const posted: ToCompactWorker[] = []
  let answer: ((m: FromCompactWorker) => void) | undefined
  const transport: CompactTransport = {
    post: (m) => { posted.push(m) },
    onMessage: (f) => { answer ??= f },
    ref: () => {},
    terminate: async () => {}
  }
  const counts = { exported: 0, dropped: 0, failed: 0 }
  const { log, lines } = memoryLog('warn')
  const rnd = seededRandom(over.seed ?? 7)
  let clock = 1_796_000_000_000.25
  const tracer = new CompactTracer(
    { endpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio: over.sampleRatio ?? 1, serviceName: 'edge-<1>', maxQueueSize: over.maxQueueSize ?? 2048, exportTimeoutMs: 500, scheduledDelayMs: 60_000, protocol: over.protocol ?? 'http/protobuf' },
    log,
    { exported: (n) => { counts.exported += n }, dropped: (n) => { counts.dropped += n }, failed: (n) => { counts.failed += n } },
    transport,
    { fill: (w) => { for (let i = 0; i < w.length; i++) w[i] = Math.floor(rnd() * 2 ** 32) }, now: () => (clock += 1.5), maxBatchSize: over.maxBatchSize ?? 512, maxOpenSpans: over.maxOpenSpans }
  )
  return { tracer, posted, counts, lines, answer: (m: FromCompactWorker) => answer?.(m), flush: () => tracer.forceFlush(0) }
}

/** What the pipeline does for a retried, answered message and for one dead-lettered and left. */
function script (tracer: CompactTracer): { propagated: string[] } {
  const propagated: string[] = []
  const m = tracer.begin({ topic: 'dev/<script>"é', payload: Buffer.from('{"t":1}'), qos: 1 })
  const match = m.stage('route match')
  match.set('iotless.routes', 'routes[0]')
  match.end()
  m.set('cloudevents.event_id', 'ev-1')
  const a1 = m.stage('dispatch', { 'iotless.route': 'routes[0]', 'iotless.target': 'local', 'faas.invoked_name': 'f', 'iotless.attempt': 1 })
  propagated.push(a1.traceparent ?? '')
  a1.set('iotless.retryable', true)
  a1.set('iotless.placement.predicted_ms', 1.25)
  a1.set('iotless.neg', -3)
  a1.end('TARGET_HTTP_STATUS')
  a1.set('after.end', 'ignored')
  const a2 = m.stage('dispatch', { 'iotless.attempt': 2, 'iotless.long': 'x'.repeat(20_000) })
  propagated.push(a2.traceparent ?? '')
  a2.end()
  m.stage('reply publish', { 'messaging.destination.name': 'dev/replies' }).end()
  m.end('ack')
  const n = tracer.begin({ topic: 'dev/2', payload: Buffer.alloc(3), qos: 0, traceparent: PARENT })
  propagated.push(n.traceparent)
  n.stage('dead letter', { 'error.type': 'PAYLOAD_NOT_JSON', 'iotless.reason': 'not JSON: ✓' }).end('PAYLOAD_NOT_JSON')
  n.end('leave')
  return { propagated }
}

/** The spans of a decoded request, without their order, ready to compare. */
function spansOf (r: DecodedRequest): DecodedSpan[] {
  const out: DecodedSpan[] = []
  for (const rs of r.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const status = s.status?.code === undefined || s.status.code === 0 ? undefined : s.status.message === undefined || s.status.message === '' ? { code: s.status.code } : { code: s.status.code, message: s.status.message }
        const attributes = [...s.attributes].map((a) => ({ key: a.key, value: typeof a.value.intValue === 'string' ? { intValue: Number(a.value.intValue) } : a.value })).sort((a, b) => a.key.localeCompare(b.key))
        out.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId === '' ? undefined : s.parentSpanId, name: s.name, kind: s.kind, startTimeUnixNano: String(s.startTimeUnixNano), endTimeUnixNano: String(s.endTimeUnixNano), attributes, status })
      }
    }
  }
  return out.sort((a, b) => a.spanId.localeCompare(b.spanId))
}

/** The same spans, as the SDK's ReadableSpans, rebuilt from the decoded ones (what the SDK engine would export). */
function asReadable (spans: DecodedSpan[]) {
  const records: unknown[] = []
  const hr = (ns: string): [number, number] => [Number(BigInt(ns) / 1_000_000_000n), Number(BigInt(ns) % 1_000_000_000n)]
  for (const s of spans) {
    const attrs: Record<string, RecordValue> = {}
    for (const a of s.attributes) attrs[a.key] = a.value.stringValue ?? a.value.boolValue ?? a.value.intValue ?? a.value.doubleValue as number
    const st = hr(s.startTimeUnixNano)
    const en = hr(s.endTimeUnixNano)
    records.push(s.name, s.kind - 1, s.traceId, s.spanId, 1, s.parentSpanId ?? '', false, st[0], st[1], en[0], en[1], s.status?.code ?? 0, s.status?.message ?? '', attrs)
  }
  return fromSpanRecords(records, resourceFromAttributes({ 'service.name': 'edge-<1>' }), { name: 'iotless-adapter' })
}

t.test('protobuf: the same request OpenTelemetry\'s serialiser makes of the same spans', async (t) => {
  const h = harness()
  const { propagated } = script(h.tracer)
  await h.flush()
  t.equal(h.posted.length, 1, 'one batch')
  const m = h.posted[0]
  if (m?.type !== 'proto') { t.fail('a protobuf batch'); return }
  const ours = decodeTraceRequest(new Uint8Array(m.buffer, m.start, m.end - m.start))
  t.equal(m.n, 7, 'five spans of the first message, two of the second')
  t.match(ours.resourceSpans[0], { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'edge-<1>' } }] }, scopeSpans: [{ scope: { name: 'iotless-adapter' } }] })
  const spans = spansOf(ours)
  t.equal(spans.length, 7)
  // Theirs: the SDK's protobuf of the same spans, decoded by the same reader.
  const theirs = spansOf(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(asReadable(spans)) as Uint8Array))
  t.same(ours.resourceSpans[0]?.scopeSpans[0]?.spans.length, theirs.length)
  t.same(spans, theirs, 'field for field')
  const byName = (n: string) => spans.filter((s) => s.name === n)
  const root = byName('dev/<script>"é receive')[0]
  t.ok(root, 'the receive span, its name as UTF-8')
  t.equal(root?.kind, 5, 'consumer')
  t.equal(root?.parentSpanId, undefined, 'a new trace')
  t.same(Object.fromEntries(root?.attributes.map((a) => [a.key, a.value]) ?? []), {
    'cloudevents.event_id': { stringValue: 'ev-1' },
    'iotless.outcome': { stringValue: 'ack' },
    'messaging.destination.name': { stringValue: 'dev/<script>"é' },
    'messaging.message.body.size': { intValue: 7 },
    'messaging.mqtt.qos': { intValue: 1 },
    'messaging.operation.type': { stringValue: 'receive' },
    'messaging.system': { stringValue: 'mqtt' }
  })
  const [a1, a2] = byName('dispatch').sort((x, y) => Number(x.startTimeUnixNano) - Number(y.startTimeUnixNano))
  t.match(a1, { kind: 3, parentSpanId: root?.spanId, traceId: root?.traceId, status: { code: 2, message: 'TARGET_HTTP_STATUS' } })
  t.same(a1?.attributes.find((a) => a.key === 'iotless.neg')?.value, { intValue: -3 }, 'a negative int64')
  t.same(a1?.attributes.find((a) => a.key === 'iotless.placement.predicted_ms')?.value, { doubleValue: 1.25 })
  t.same(a1?.attributes.find((a) => a.key === 'iotless.retryable')?.value, { boolValue: true })
  t.notOk(a1?.attributes.some((a) => a.key === 'after.end'), 'nothing set after the end')
  t.equal(a2?.attributes.find((a) => a.key === 'iotless.long')?.value.stringValue?.length, 20_000, 'a span over 16 KiB (a 3-byte length)')
  t.equal(propagated[0], `00-${a1?.traceId}-${a1?.spanId}-01`, 'the traceparent handed on is the attempt span\'s')
  t.equal(propagated[1], `00-${a2?.traceId}-${a2?.spanId}-01`)
  t.match(byName('route match')[0], { kind: 1, parentSpanId: root?.spanId })
  t.match(byName('reply publish')[0], { kind: 4, parentSpanId: root?.spanId })
  const left = byName('dev/2 receive')[0]
  t.match(left, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', status: { code: 2, message: 'left to the broker to deliver again' } })
  t.equal(propagated[2], `00-4bf92f3577b34da6a3ce929d0e0e4736-${left?.spanId}-01`)
  t.match(byName('dead letter')[0], { kind: 4, parentSpanId: left?.spanId, status: { code: 2, message: 'PAYLOAD_NOT_JSON' } })
  t.same(byName('dead letter')[0]?.attributes.find((a) => a.key === 'iotless.reason')?.value, { stringValue: 'not JSON: ✓' })
  const start = Number(BigInt(a1?.startTimeUnixNano ?? '0') / 1000n) / 1000
  t.ok(Math.abs(start - 1_796_000_000_000) < 1000, `times in ns since the epoch (${a1?.startTimeUnixNano})`)
  t.ok(BigInt(a1?.endTimeUnixNano ?? '0') > BigInt(a1?.startTimeUnixNano ?? '0'), 'end after start')
})

t.test('json: the same spans as the protobuf batch, and what OpenTelemetry\'s JSON serialiser makes of them', async (t) => {
  const p = harness({ seed: 11 })
  script(p.tracer)
  await p.flush()
  const j = harness({ seed: 11, protocol: 'http/json' })
  script(j.tracer)
  await j.flush()
  const pm = p.posted[0]
  const jm = j.posted[0]
  if (pm?.type !== 'proto' || jm?.type !== 'records') { t.fail('one batch each'); return }
  const fromProto = spansOf(decodeTraceRequest(new Uint8Array(pm.buffer, pm.start, pm.end - pm.start)))
  const body = otlpJsonRequest(jm.records, jm.length, 'edge-<1>', 'iotless-adapter')
  const fromJson = spansOf(JSON.parse(body) as DecodedRequest)
  // JSON times are decimal ns of the same ms; protobuf's are exact to 256 ns: compared to the µs.
  const toUs = (ns: string): number => Math.round(Number(BigInt(ns)) / 1000)
  const us = (s: DecodedSpan) => ({ ...s, startTimeUnixNano: toUs(s.startTimeUnixNano), endTimeUnixNano: toUs(s.endTimeUnixNano) })
  t.same(fromJson.map(us), fromProto.map(us), 'the same spans either way')
  const sdk = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(asReadable(fromJson)) as Uint8Array).toString('utf8')) as DecodedRequest
  t.same(spansOf(sdk).map(us), fromJson.map(us), 'as the SDK\'s JSON serialiser writes them')
})

t.test('sampling: OpenTelemetry\'s TraceIdRatioBased rule on the same trace ids; a parent\'s decision is followed', async (t) => {
  for (const ratio of [0.01, 0.3, 0.5]) {
    const h = harness({ sampleRatio: ratio, seed: 3 })
    const sampler = new TraceIdRatioBasedSampler(ratio)
    let agree = 0
    let sampled = 0
    const n = 3000
    for (let i = 0; i < n; i++) {
      const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
      const p = parseParent(m.traceparent)
      const ours = m.traceparent.endsWith('-01')
      const theirs = sampler.shouldSample(ROOT_CONTEXT, p?.traceId ?? '').decision === SamplingDecision.RECORD_AND_SAMPLED
      if (ours === theirs) agree++
      if (ours) sampled++
      m.end('ack')
    }
    t.equal(agree, n, `ratio ${ratio}: the same decision for every trace id`)
    t.ok(Math.abs(sampled / n - ratio) < 0.05, `ratio ${ratio}: ${sampled} of ${n} sampled`)
  }
  const h = harness({ sampleRatio: 0 })
  const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1, traceparent: PARENT })
  t.match(m.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/, 'ratio 0, a sampled parent: recorded')
  const off = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1, traceparent: PARENT.replace(/01$/, '00') })
  t.match(off.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/, 'an unsampled parent: not recorded, its trace handed on')
  t.not(off.traceparent.slice(36, 52), '00f067aa0ba902b7', 'with a span id of its own')
  const d = off.stage('dispatch', { 'iotless.attempt': 1 })
  t.equal(d.traceparent, off.traceparent, 'its stages hand on the message\'s context')
  d.end()
  off.end('ack')
  m.end('ack')
  await h.flush()
  t.equal(h.posted.filter((x) => x.type !== 'shutdown').reduce((a, x) => a + (x.type === 'proto' ? x.n : 0), 0), 1, 'only the sampled parent\'s span')
  t.equal(parseParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'), undefined, 'version 00 with more parts')
  t.equal(parseParent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined, 'an all-zero trace id')
  t.match(parseParent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'), { sampled: true }, 'a later version may carry more')
})

t.test('the queue: spans past maxQueueSize are dropped, counted and logged once; a failed export counted and logged once', async (t) => {
  const h = harness({ maxQueueSize: 4, maxBatchSize: 2 })
  for (let i = 0; i < 3; i++) {
    const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
    m.stage('route match').end()
    m.end('ack')
  }
  t.equal(h.counts.dropped, 2, '6 spans, 4 waiting, 2 dropped')
  t.equal(h.tracer.droppedSpans, 2)
  t.equal(h.posted.length, 2, 'two batches of two')
  t.equal(h.lines.filter((l) => l.code === 'TRACING_QUEUE_FULL').length, 1, 'logged once')
  h.answer({ type: 'done', n: 2, ok: false, error: 'refused' })
  h.answer({ type: 'done', n: 2, ok: true })
  t.same(h.counts, { exported: 2, failed: 2, dropped: 2 })
  const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
  m.end('ack')
  t.equal(h.counts.dropped, 2, 'room again once the exports answered')
  await h.flush()
  h.answer({ type: 'done', n: 1, ok: false, error: 'refused' })
  t.equal(h.lines.filter((l) => l.code === 'TRACING_EXPORT_FAILED').length, 1, 'a failed export logged once')
})

t.test('frozen attributes (a route\'s dispatch attributes): kept by reference, encoded once, a key set over them wins', async (t) => {
  const shared = Object.freeze({ 'iotless.route': 'routes[1]', 'iotless.tier': 'edge', 'faas.invoked_name': 'fn-é' })
  const runs: Array<Array<Record<string, unknown>>> = []
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    const h = harness({ protocol })
    for (let i = 0; i < 3; i++) {
      const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(1), qos: 1 })
      const d = m.stage('dispatch', shared)
      d.set('iotless.attempt', i + 1)
      if (i === 2) d.set('iotless.tier', 'cloud')
      d.end()
      m.end('ack')
    }
    await h.flush()
    const b = h.posted[0]
    const req = b?.type === 'proto' ? decodeTraceRequest(new Uint8Array(b.buffer, b.start, b.end - b.start)) : b?.type === 'records' ? JSON.parse(otlpJsonRequest(b.records, b.length, 'edge-<1>', 'iotless-adapter')) as DecodedRequest : undefined
    if (req === undefined) { t.fail('one batch'); return }
    const spans = spansOf(req)
    if (b?.type === 'proto') {
      const theirs = spansOf(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(asReadable(spans)) as Uint8Array))
      t.same(spans, theirs, 'protobuf: what the SDK\'s serialiser writes of the same spans')
    }
    const dispatches = spans.filter((s) => s.name === 'dispatch').sort((x, y) => Number(BigInt(x.startTimeUnixNano) - BigInt(y.startTimeUnixNano)))
    runs.push(dispatches.map((s) => Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue ?? a.value.intValue]))))
    for (const s of dispatches) t.equal(s.attributes.filter((a) => a.key === 'iotless.tier').length, 1, `${protocol}: one iotless.tier per span`)
  }
  t.same(runs[0], [
    { 'faas.invoked_name': 'fn-é', 'iotless.attempt': 1, 'iotless.route': 'routes[1]', 'iotless.tier': 'edge' },
    { 'faas.invoked_name': 'fn-é', 'iotless.attempt': 2, 'iotless.route': 'routes[1]', 'iotless.tier': 'edge' },
    { 'faas.invoked_name': 'fn-é', 'iotless.attempt': 3, 'iotless.route': 'routes[1]', 'iotless.tier': 'cloud' }
  ], 'protobuf: the shared attributes on every span, the one set over them wins')
  t.same(runs[1], runs[0], 'json: the same')
  t.equal(shared['iotless.tier'], 'edge', 'the caller\'s object is left as it was')
})

t.test('a batch\'s buffer handed back by the worker is written again: one allocation, not one per batch', async (t) => {
  const h = harness({ maxBatchSize: 2 })
  const batch = (): Extract<ToCompactWorker, { type: 'proto' }> | undefined => {
    const m = h.tracer.begin({ topic: 'dev/ascii', payload: Buffer.alloc(2), qos: 1 })
    m.end('ack')
    const n = h.tracer.begin({ topic: 'dev/ünï', payload: Buffer.alloc(2), qos: 1 })
    n.end('ack')
    const last = h.posted[h.posted.length - 1]
    return last?.type === 'proto' ? last : undefined
  }
  const first = batch()
  const second = batch()
  if (first === undefined || second === undefined) { t.fail('two batches'); return }
  t.not(second.buffer, first.buffer, 'while the first is out, the second has a buffer of its own')
  const names = (b: Extract<ToCompactWorker, { type: 'proto' }>) => spansOf(decodeTraceRequest(new Uint8Array(b.buffer, b.start, b.end - b.start))).map((s) => s.name).sort()
  const firstNames = names(first)
  h.answer({ type: 'done', n: 2, ok: true, buffer: first.buffer })
  // The third batch was being written already (into the buffer made when the second left): the fourth is the first's.
  const third = batch()
  const fourth = batch()
  t.not(third?.buffer, first.buffer)
  t.equal(fourth?.buffer, first.buffer, 'the next batch started is written into the first one\'s buffer')
  if (fourth === undefined) return
  t.same(names(fourth), ['dev/ascii receive', 'dev/ünï receive'], 'and decodes as its own spans (an ASCII name and one that is not)')
  t.same(firstNames, names(fourth), 'the same names as the first batch')
  const small = new ArrayBuffer(16)
  h.answer({ type: 'done', n: 2, ok: true, buffer: small })
  h.answer({ type: 'done', n: 2, ok: false, error: 'refused' })
  const fifth = batch()
  const sixth = batch()
  t.ok(sixth !== undefined && ![first.buffer, small].includes(sixth.buffer) && fifth?.buffer !== sixth.buffer, 'one too small to hold a batch is not kept; a failed export hands none back: new buffers')
  t.equal(h.counts.exported, 4)
})

t.test('traceparentOf: the W3C header of words, each call a string of its own', async (t) => {
  const a = traceparentOf(0x4bf92f35, 0x77b34da6, 0xa3ce929d, 0x0e0e4736, 0x00f067aa, 0x0ba902b7, true)
  t.equal(a, PARENT)
  const b = traceparentOf(0xffffffff, 0, 1, 0x80000000, 0xdeadbeef, 0x10, false)
  t.equal(b, '00-ffffffff000000000000000180000000-deadbeef00000010-00')
  t.equal(a, PARENT, 'the first is not changed by the second')
  t.same(parseParent(b), { traceId: 'ffffffff000000000000000180000000', spanId: 'deadbeef00000010', sampled: false })
  t.equal(hex8(0x0a0b0c0d), '0a0b0c0d')
})

/** A protobuf batch's spans as written (their attributes in the order written, unlike spansOf). */
function rawSpans (b: ToCompactWorker | undefined): DecodedSpan[] {
  if (b?.type !== 'proto') return []
  return decodeTraceRequest(new Uint8Array(b.buffer, b.start, b.end - b.start)).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans))
}

t.test('SpanSlab: a slot per open span, given back at its end and taken again, grown by doubling up to its max', async (t) => {
  const slab = new SpanSlab(2, 4)
  t.same([slab.take(), slab.take(), slab.take(), slab.take()], [0, 1, 2, 3], 'grown from 2 to 4')
  t.equal(slab.take(), -1, 'none past its max')
  t.equal(slab.open, 4)
  slab.close(1)
  slab.close(-1)
  t.equal(slab.open, 3, 'closing -1 (no slot) changes nothing')
  t.equal(slab.take(), 1, 'the slot given back is taken again')
  t.equal(slab.words.length, 4 * 8, '8 words a slot')
})

t.test('spans open in the slab: every one closed when ended; past maxOpenSpans a message is not recorded, counted as dropped, its context flagged not sampled', async (t) => {
  const h = harness({ maxOpenSpans: 3 })
  const m = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
  const d = m.stage('dispatch', Object.freeze({ 'iotless.route': 'r' }))
  const tp = d.traceparent
  t.equal(h.tracer.slab.open, 2, 'the message and its dispatch')
  const m2 = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
  t.equal(h.tracer.slab.open, 3)
  const m3 = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
  t.equal(m3.recording, false, 'the slab full: not recorded')
  t.match(m3.traceparent, /^00-[\da-f]{32}-[\da-f]{16}-00$/, 'its context handed on, not sampled')
  t.equal(m2.stage('route match').recording, false, 'a stage past the max is not recorded either')
  t.equal(h.counts.dropped, 2, 'both counted as dropped')
  d.set('iotless.attempt', 1)
  d.end()
  t.equal(d.traceparent, tp, 'a traceparent read before the end is kept')
  m.end('ack')
  m.end('ack')
  m2.end('ack')
  t.equal(h.tracer.slab.open, 0, 'all closed, each once')
  const late = m.stage('dispatch')
  t.equal(late.recording, false, 'a stage of an ended message records nothing')
  t.equal(late.traceparent, undefined, 'and hands on no context')
  const m4 = h.tracer.begin({ topic: 't', payload: Buffer.alloc(0), qos: 1 })
  const s4 = m4.stage('route match')
  s4.end()
  t.equal(s4.traceparent, undefined, 'a stage\'s traceparent first read after its end: none (its ids went with its slot)')
  m4.end('ack')
  t.equal(h.tracer.slab.open, 0)
  await h.flush()
  const spans = h.posted.flatMap((b) => rawSpans(b))
  t.equal(spans.length, 5, 'm (receive, dispatch), m2 (receive), m4 (receive, route match)')
  const dispatch = spans.find((s) => s.name === 'dispatch')
  const receive = spans.find((s) => s.spanId === dispatch?.parentSpanId)
  t.ok(receive !== undefined && receive.traceId === dispatch?.traceId, 'the dispatch span a child of its message\'s, in its trace')
  t.equal(tp, `00-${dispatch?.traceId ?? ''}-${dispatch?.spanId ?? ''}-01`, 'its traceparent names it')
  t.same(dispatch?.attributes.map((a) => a.key), ['iotless.route', 'iotless.attempt'], 'the shared attributes, then its own')
})

t.test('the receive span with only its event id set, or with more: the same attributes in the same order', async (t) => {
  const h = harness()
  const a = h.tracer.begin({ topic: 't', payload: Buffer.alloc(2), qos: 1 })
  a.set('cloudevents.event_id', 'e1')
  a.set('cloudevents.event_id', 'e2')
  a.end('ack')
  const b = h.tracer.begin({ topic: 't', payload: Buffer.alloc(2), qos: 1 })
  b.set('cloudevents.event_id', 'e3')
  b.set('x.more', 7)
  b.end('leave')
  const c = h.tracer.begin({ topic: 't', payload: Buffer.alloc(2), qos: 1 })
  c.end('unrouted')
  await h.flush()
  const spans = rawSpans(h.posted[0])
  const own = (s: DecodedSpan | undefined): Array<[string, unknown]> => (s?.attributes ?? []).slice(5).map((x) => [x.key, x.value.stringValue ?? Number(x.value.intValue)])
  t.same(own(spans[0]), [['cloudevents.event_id', 'e2'], ['iotless.outcome', 'ack']], 'the last event id set, then the outcome')
  t.same(own(spans[1]), [['cloudevents.event_id', 'e3'], ['x.more', 7], ['iotless.outcome', 'leave']])
  t.same(own(spans[2]), [['iotless.outcome', 'unrouted']])
})
