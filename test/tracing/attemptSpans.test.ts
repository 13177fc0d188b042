// A span per dispatch attempt (retry number, tier, placement's decision), and the incoming context of a
// structured CloudEvent as the receive span's parent: the per-message pipeline with a target that fails on
// demand, the in-process RecentTraces tracer and a ManualClock. No broker, no sockets, no sleeps.
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { configSchema } from '../../core/config/schema.js'
import { AttemptSpans } from '../../core/tracing/attemptSpans.js'
import { RecentTraces } from '../../core/tracing/recentTraces.js'
import { MessagePipeline, type InboundMessage, type OutboundPublisher } from '../../adapters/ingress/messagePipeline.js'
import { incomingTraceparent } from '../../adapters/ingress/incomingTraceparent.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'
import { memoryLog } from '../helpers/silentLog.js'
import { pipelineOptions } from '../helpers/pipelineOptions.js'

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function harness (results: DispatchResult[], kind = 'test') {
  const config = configSchema.parse({ routes: [{ topic: 'r/{dev}', function: 'f' }] })
  const sent: OutgoingEvent[] = []
  const attemptSpans = new AttemptSpans()
  const target: Target = {
    kind,
    async dispatch (_fn, event) {
      sent.push(event)
      // What a multi-tier route's PlacementTarget reports for each tier it tries (cli/stack.ts wires it).
      if (kind === 'placement') {
        attemptSpans.placed({ eventId: event.attributes.id, tier: 'edge', reason: 'best', predictedMs: 1.5, measuredMs: 2, ok: false })
        attemptSpans.placed({ eventId: event.attributes.id, tier: 'cloud', reason: 'failover', predictedMs: 4, measuredMs: 3.25, ok: true })
      }
      return results[sent.length - 1] ?? { status: 'ok' }
    },
    async close () {}
  }
  const publisher: OutboundPublisher = { protocolVersion: 5, async publish () {} }
  const clock = new ManualClock(1000)
  let n = 0
  const traces = new RecentTraces({ capacity: 5, clock, newId: (b) => (++n).toString(16).padStart(b * 2, '0') })
  const pipeline = new MessagePipeline(pipelineOptions({
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target]]),
    retryBaseMs: 100,
    deadLetterTopic: '',
    publisher,
    clock,
    log: memoryLog('error').log,
    tracer: traces,
    attemptSpans
  }))
  return { pipeline, sent, traces, clock, attemptSpans }
}

const msg = (over: Partial<InboundMessage> = {}): InboundMessage => ({ topic: 'r/d1', payload: Buffer.from('{"t":1}'), qos: 1, messageId: 7, properties: {}, ...over })

async function settle (h: ReturnType<typeof harness>, p: Promise<unknown>): Promise<void> {
  let done = false
  void p.then(() => { done = true })
  for (let k = 0; k < 50 && !done; k++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(1000) }
  await p
}

t.test('a retried message: one dispatch span per attempt, each numbered, the failed one with its code', async (t) => {
  const h = harness([{ status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: '503', httpStatus: 503 }, { status: 'ok' }])
  await settle(h, h.pipeline.handle(msg()))
  const [trace] = h.traces.recent()
  const attempts = trace?.spans.filter((s) => s.name === 'dispatch') ?? []
  t.equal(attempts.length, 2, 'two attempts, two spans')
  t.match(attempts[0], { error: 'TARGET_HTTP_STATUS', attributes: { 'iotless.attempt': 1, 'iotless.tier': 'local', 'iotless.retryable': true, 'iotless.route': 'routes[0]' } })
  t.match(attempts[1], { error: undefined, attributes: { 'iotless.attempt': 2, 'iotless.tier': 'local' } })
  t.ok((attempts[1]?.startMs ?? 0) >= (attempts[0]?.endMs ?? Infinity) + 100, 'the second attempt started after the backoff')
  const root = trace?.spans[0]
  for (const a of attempts) t.equal(a.parentSpanId, root?.spanId, 'each attempt is a child of the message')
  t.equal(h.sent.map((e) => e.attributes.iotlessattempt).join(','), '1,2')
  t.equal(h.attemptSpans.size, 0, 'no attempt left open')
})

t.test('a multi-tier route: the attempt span names the tier placement chose and its decision', async (t) => {
  const h = harness([], 'placement')
  await settle(h, h.pipeline.handle(msg()))
  const d = h.traces.recent()[0]?.spans.find((s) => s.name === 'dispatch')
  t.match(d?.attributes, { 'iotless.attempt': 1, 'iotless.tier': 'cloud', 'iotless.placement.reason': 'failover', 'iotless.placement.predicted_ms': 4, 'iotless.placement.measured_ms': 3.25, 'iotless.placement.tiers_tried': 2, 'iotless.placement.failed_tiers': 1 })
  t.equal(h.attemptSpans.size, 0)
})

t.test('a structured CloudEvent\'s traceparent is the parent of the receive span', async (t) => {
  const ce = JSON.stringify({ specversion: '1.0', id: 'e1', source: 'dev', type: 't', traceparent: PARENT, data: { t: 1 } })
  const h = harness([])
  await settle(h, h.pipeline.handle(msg({ payload: Buffer.from(ce), properties: { contentType: 'application/cloudevents+json' } })))
  const tr = h.traces.recent()[0]
  t.equal(tr?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', 'the device\'s trace')
  t.equal(tr?.spans[0]?.parentSpanId, '00f067aa0ba902b7', 'its span is the parent')
})

t.test('incomingTraceparent: user property first, then a structured event; nothing else is parsed', async (t) => {
  const ce = Buffer.from(JSON.stringify({ specversion: '1.0', id: 'e1', source: 'dev', type: 't', traceparent: PARENT }))
  t.equal(incomingTraceparent(msg({ properties: { userProperties: { traceparent: ['a', 'b'] } }, payload: ce })), 'a', 'the MQTT 5 User Property wins')
  t.equal(incomingTraceparent(msg({ payload: ce, properties: undefined })), PARENT, 'MQTT 3.1.1: a JSON CloudEvent without content type')
  t.equal(incomingTraceparent(msg({ payload: ce, properties: { contentType: 'application/cloudevents+json; charset=utf-8' } })), PARENT)
  t.equal(incomingTraceparent(msg({ payload: ce, properties: { contentType: 'application/json' } })), undefined, 'plain JSON that happens to have the field: not an event')
  t.equal(incomingTraceparent(msg({ payload: Buffer.from(`{"traceparent":"${PARENT}"}`), properties: undefined })), undefined, 'no specversion, no content type: not an event')
  t.equal(incomingTraceparent(msg({ payload: Buffer.from('{"specversion":"1.0","traceparent":'), properties: undefined })), undefined, 'broken JSON')
  t.equal(incomingTraceparent(msg({ payload: Buffer.from('{"specversion":"1.0","traceparent":5}'), properties: undefined })), undefined, 'not a string')
})

t.test('a single-target route keeps no open attempt entry (only a placement reports tiers)', async (t) => {
  const h = harness([])
  let openDuring = -1
  const sent = h.sent
  // Observed from inside the dispatch: the attempt is running.
  const orig = sent.push.bind(sent)
  sent.push = (...e: OutgoingEvent[]) => { openDuring = h.attemptSpans.size; return orig(...e) }
  await settle(h, h.pipeline.handle(msg()))
  t.equal(openDuring, 0, 'no entry while it ran')
  t.equal(h.traces.recent()[0]?.spans.filter((s) => s.name === 'dispatch').length, 1, 'the attempt span is still recorded')
  const p = harness([], 'placement')
  let placedDuring = -1
  const porig = p.sent.push.bind(p.sent)
  p.sent.push = (...e: OutgoingEvent[]) => { placedDuring = p.attemptSpans.size; return porig(...e) }
  await settle(p, p.pipeline.handle(msg()))
  t.equal(placedDuring, 1, 'a placement\'s attempt is open while it runs')
})

t.test('a message sampled out: its context goes on (flags 00), no attempt span is made or ended', async (t) => {
  const config = configSchema.parse({ routes: [{ topic: 'r/{dev}', function: 'f' }] })
  const sent: OutgoingEvent[] = []
  const target: Target = { kind: 'test', async dispatch (_fn, event) { sent.push(event); return { status: 'ok' } }, async close () {} }
  const stages: string[] = []
  const tracer = {
    begin: () => ({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
      recording: false,
      set () {},
      stage (name: string) {
        stages.push(name)
        // The attempt's span is neither annotated nor ended (no wrapper around the dispatch for it).
        const attempt = name === 'dispatch'
        return { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', recording: false, set () { if (attempt) t.fail('set on an attempt that is not recorded') }, end () { if (attempt) t.fail('end of an attempt that is not recorded') } }
      },
      end () {}
    })
  }
  const clock = new ManualClock(1000)
  const pipeline = new MessagePipeline(pipelineOptions({ routes: new RouteTable(config.routes), targets: new Map([['local', target]]), retryBaseMs: 100, deadLetterTopic: '', publisher: { protocolVersion: 5, async publish () {} }, clock, log: memoryLog('error').log, tracer, attemptSpans: new AttemptSpans() }))
  t.equal(await pipeline.handle(msg()), 'ack')
  t.equal(sent[0]?.attributes.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', 'the unsampled context goes to the function')
  t.same(stages, ['route match', 'dispatch'])
})
