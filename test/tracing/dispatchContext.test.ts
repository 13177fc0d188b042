// The W3C context every dispatch carries, sampled or not, through the pipeline (the compact tracer with a
// stand-in transport, a recording target), the header list the HTTP sender sends, and how the function's SDK
// reads the context back. No sockets (on the wire: test/targets/traceHeaders.test.ts), no sleeps.
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { configSchema } from '../../core/config/schema.js'
import { binaryHeaderList, toBinaryHeaders, type CloudEventAttributes } from '../../core/cloudEventHttp.js'
import { CompactTracer } from '../../core/tracing/compactTracer.js'
import { eventFromRequest } from '../../functions/sdk/eventFromRequest.js'
import { MessagePipeline, withAttempt, type InboundMessage } from '../../adapters/ingress/messagePipeline.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { OutgoingEvent, Target } from '../../adapters/target.js'
import { memoryLog } from '../helpers/silentLog.js'
import { pipelineOptions } from '../helpers/pipelineOptions.js'

const UNSAMPLED = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/

function tracer (sampleRatio: number): CompactTracer {
  const settings = { endpoint: 'http://127.0.0.1:1/v1/traces', sampleRatio, serviceName: 't', maxQueueSize: 64, exportTimeoutMs: 1000, scheduledDelayMs: 60_000 }
  return new CompactTracer(settings, memoryLog('fatal').log, undefined, { post () {}, onMessage () {}, ref () {}, async terminate () {} })
}

function pipeline (sampleRatio: number, batch: boolean): { pipeline: MessagePipeline; sent: OutgoingEvent[]; batches: OutgoingEvent[][] } {
  const config = configSchema.parse({ routes: [{ topic: 'r/{dev}', function: 'f', ...(batch ? { batch: { maxMessages: 2, maxWaitMs: 10 } } : {}) }] })
  const sent: OutgoingEvent[] = []
  const batches: OutgoingEvent[][] = []
  const target: Target = {
    kind: 'test',
    async dispatch (_fn, event) { sent.push(event); return { status: 'ok' } },
    ...(batch ? { async dispatchBatch (_fn: string, events: OutgoingEvent[]) { batches.push(events); return { status: 'ok' as const } } } : {}),
    async close () {}
  }
  const p = new MessagePipeline(pipelineOptions({
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target]]),
    publisher: { protocolVersion: 5, async publish () {} },
    clock: new ManualClock(),
    tracer: tracer(sampleRatio)
  }))
  return { pipeline: p, sent, batches }
}

function msg (n: number): InboundMessage {
  return { topic: 'r/d1', payload: Buffer.from(`{"v":${n}}`), qos: 1, messageId: n, properties: undefined, dup: false }
}

t.test('a sampled-out dispatch still carries a traceparent (flags 00), one per message', async (t) => {
  const h = pipeline(0, false)
  await h.pipeline.handle(msg(1))
  await h.pipeline.handle(msg(2))
  t.equal(h.sent.length, 2)
  const [a, b] = h.sent.map((e) => e.attributes)
  t.match(a?.traceparent, UNSAMPLED)
  t.match(b?.traceparent, UNSAMPLED)
  t.not(a?.traceparent, b?.traceparent, 'each message its own trace')
  t.equal(a?.iotlessattempt, '1')
})

t.test('a sampled dispatch carries its attempt span\'s context (flags 01)', async (t) => {
  const h = pipeline(1, false)
  await h.pipeline.handle(msg(1))
  t.match(h.sent[0]?.attributes.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
})

t.test('each event of a batch carries its own message\'s context', async (t) => {
  const h = pipeline(0, true)
  await Promise.all([h.pipeline.handle(msg(1)), h.pipeline.handle(msg(2))])
  t.equal(h.batches.length, 1)
  const tps = (h.batches[0] ?? []).map((e) => e.attributes.traceparent)
  t.equal(tps.length, 2)
  for (const tp of tps) t.match(tp, UNSAMPLED)
  t.not(tps[0], tps[1])
})

t.test('withAttempt copies: the attempt set on the copy, the event untouched, a key keeps its place', async (t) => {
  const event: OutgoingEvent = { attributes: { specversion: '1.0', id: 'e1', source: 's', type: 'x', iotlessattempt: '1', traceparent: 'tp' }, data: Buffer.from('d') }
  const sent = withAttempt(event, 2)
  t.equal(sent.attributes.iotlessattempt, '2')
  t.equal(event.attributes.iotlessattempt, '1', 'the event is not changed')
  t.same(Object.keys(sent.attributes), Object.keys(event.attributes), 'the same keys in the same order')
  t.equal(sent.data, event.data)
})

t.test('binaryHeaderList: the headers of toBinaryHeaders, then the W3C ones when asked and printable', async (t) => {
  const attrs: CloudEventAttributes = { specversion: '1.0', id: 'e 1', source: 's', type: 'x', subject: 'é', datacontenttype: 'application/json', time: undefined, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', tracestate: 'a=1' }
  const list = binaryHeaderList(attrs)
  t.equal(list.length % 2, 0)
  const pairs = (l: string[]): Array<[string, string]> => Array.from({ length: l.length / 2 }, (_, k) => [l[2 * k] as string, l[2 * k + 1] as string])
  t.same(pairs(list), Object.entries(toBinaryHeaders(attrs)), 'same names, values and order')
  const traced = pairs(binaryHeaderList(attrs, 'both'))
  t.same(traced.slice(-2), [['traceparent', attrs.traceparent], ['tracestate', 'a=1']])
  t.same(pairs(binaryHeaderList({ ...attrs, tracestate: 'a=\u00e9' }, 'both')).filter(([n]) => n === 'tracestate'), [], 'a non-ASCII tracestate only as its encoded ce- header')
  // w3c: the context once, as the W3C headers; every other attribute as before.
  const w3c = pairs(binaryHeaderList(attrs, 'w3c'))
  t.same(w3c.filter(([n]) => n.startsWith('ce-trace')), [], 'no ce-traceparent, no ce-tracestate')
  t.same(w3c.slice(-2), [['traceparent', attrs.traceparent], ['tracestate', 'a=1']])
  t.same(w3c.slice(0, -2), pairs(list).filter(([n]) => !n.startsWith('ce-trace')), 'the other headers unchanged, in order')
  const odd = pairs(binaryHeaderList({ ...attrs, tracestate: 'a=\u00e9' }, 'w3c'))
  t.same(odd.filter(([n]) => n === 'tracestate' || n === 'ce-tracestate'), [['ce-tracestate', 'a=%C3%A9']], 'a value no W3C header can carry still travels, as its encoded ce- header')
})

t.test('the SDK reads the context from the W3C headers when the event has no tracing extension; the extension wins', async (t) => {
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const other = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01'
  const attrs: CloudEventAttributes = { specversion: '1.0', id: 'e1', source: 's', type: 'x', datacontenttype: 'application/json', traceparent: tp, tracestate: 'a=1' }
  const headersOf = (list: string[]): Record<string, string> => Object.fromEntries(Array.from({ length: list.length / 2 }, (_, k) => [list[2 * k] as string, list[2 * k + 1] as string]))
  const w3c = eventFromRequest(headersOf(binaryHeaderList(attrs, 'w3c')), Buffer.from('{}'))
  t.equal(w3c.traceparent, tp, 'traceparent from the W3C header')
  t.equal(w3c.tracestate, 'a=1', 'tracestate from the W3C header')
  const both = eventFromRequest({ ...headersOf(binaryHeaderList(attrs, 'both')), traceparent: other }, Buffer.from('{}'))
  t.equal(both.traceparent, tp, 'ce-traceparent, the event\'s own, over a hop\'s header')
  const none = eventFromRequest(headersOf(binaryHeaderList({ specversion: '1.0', id: 'e2', source: 's', type: 'x' })), Buffer.alloc(0))
  t.equal(none.traceparent, undefined, 'no context: none made up')
})
