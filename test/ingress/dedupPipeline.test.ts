// The dedup window, MQTT 5 message expiry and stable ids in the per-message pipeline: a counting target, a
// fake publisher, the memory dedup store (and one that fails on demand), a ManualClock. No broker, no sleeps.
import t from 'tap'
import { Registry } from 'prom-client'
import type { IClientPublishOptions } from 'mqtt'
import { ManualClock } from '../../core/clock.js'
import { configSchema } from '../../core/config/schema.js'
import { createMetrics } from '../../core/metrics.js'
import { DedupWindow } from '../../adapters/ingress/dedupWindow.js'
import { MessagePipeline, type InboundMessage, type OutboundPublisher } from '../../adapters/ingress/messagePipeline.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'
import { MemoryDedupStore } from '../../effects/memoryStores.js'
import type { DedupStore } from '../../effects/effectStore.js'
import { memoryLog } from '../helpers/silentLog.js'
import { pipelineOptions } from '../helpers/pipelineOptions.js'

interface Harness {
  pipeline: MessagePipeline
  sent: OutgoingEvent[]
  /** With `batch`: the events of each batch dispatched, one list per attempt. */
  batches: OutgoingEvent[][]
  published: Array<{ topic: string; payload: Buffer; opts: IClientPublishOptions }>
  metrics: ReturnType<typeof createMetrics>
  clock: ManualClock
  lines: Array<Record<string, unknown>>
  stop: AbortController
}

function harness (opts: { store?: DedupStore | undefined; results?: DispatchResult[]; dedup?: boolean; reply?: boolean; batch?: boolean } = {}): Harness {
  const config = configSchema.parse({
    routes: [{ topic: 'r/{dev}', function: 'f', ...(opts.reply === true ? { reply: 'out/{dev}' } : {}), ...(opts.batch === true ? { batch: { maxMessages: 2, maxWaitMs: 10 } } : {}) }]
  })
  const sent: OutgoingEvent[] = []
  const results = opts.results ?? []
  const batches: OutgoingEvent[][] = []
  const target: Target = {
    kind: 'test',
    async dispatch (_fn, event) {
      sent.push(event)
      return results[sent.length - 1] ?? { status: 'ok', reply: { data: Buffer.from('{"ok":1}'), contentType: 'application/json', attributes: { specversion: '1.0', id: 'fn-random', source: 'fn', type: 'reply' } } }
    },
    ...(opts.batch === true
      ? {
          async dispatchBatch (_fn: string, events: OutgoingEvent[]): Promise<DispatchResult> {
            batches.push(events)
            return results[batches.length - 1] ?? { status: 'ok' }
          }
        }
      : {}),
    async close () {}
  }
  const published: Harness['published'] = []
  const publisher: OutboundPublisher = {
    protocolVersion: 5,
    async publish (topic, payload, o) { published.push({ topic, payload, opts: o }) }
  }
  const clock = new ManualClock()
  const metrics = createMetrics(new Registry(), { defaultMetrics: false })
  const { log, lines } = memoryLog('debug')
  const stop = new AbortController()
  const dedup = opts.dedup === false
    ? undefined
    : new DedupWindow({ store: opts.store ?? new MemoryDedupStore({ maxAgeMs: 60_000, maxEntries: 1000 }), clock, log, stopping: stop.signal, retryMs: 1000, onStoreError: () => { metrics.dedupStoreErrors.inc() } })
  const pipeline = new MessagePipeline(pipelineOptions({
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target]]),
    publisher,
    stop: stop.signal,
    clock,
    log,
    metrics,
    dedup
  }))
  return { pipeline, sent, batches, published, metrics, clock, lines, stop }
}

function msg (over: Partial<InboundMessage> = {}): InboundMessage {
  return { topic: 'r/d1', payload: Buffer.from('{"v":1}'), qos: 1, messageId: 7, properties: undefined, dup: false, ...over }
}

async function counter (h: Harness, name: 'dedupSkipped' | 'messagesExpired' | 'dedupStoreErrors' | 'deadLetters'): Promise<number> {
  const m = await h.metrics[name].get()
  return m.values.reduce((a, v) => a + v.value, 0)
}

t.test('a redelivery (DUP) of a message that succeeded is acknowledged without dispatch, and counted', async (t) => {
  const h = harness()
  t.equal(await h.pipeline.handle(msg()), 'ack')
  t.equal(h.sent.length, 1)
  t.equal(await h.pipeline.handle(msg({ dup: true })), 'ack', 'the redelivery is acknowledged')
  t.equal(h.sent.length, 1, 'and not dispatched again')
  t.equal(await counter(h, 'dedupSkipped'), 1, 'iotless_dedup_skipped_total counts it')
})

t.test('without the window, the same redelivery is dispatched again (what the window prevents)', async (t) => {
  const h = harness({ dedup: false })
  await h.pipeline.handle(msg())
  await h.pipeline.handle(msg({ dup: true }))
  t.equal(h.sent.length, 2)
})

t.test('a first delivery (DUP 0) identical to one already handled (a recycled packet id) is dispatched: never lost', async (t) => {
  const h = harness()
  await h.pipeline.handle(msg())
  t.equal(await h.pipeline.handle(msg()), 'ack')
  t.equal(h.sent.length, 2, 'both identical readings reach the function')
  t.equal(await counter(h, 'dedupSkipped'), 0)
})

t.test('a device-given CloudEvent id (MQTT 5 binary mode) is trusted on every delivery: a publisher\'s own resend is caught', async (t) => {
  const h = harness()
  const ce = { userProperties: { specversion: '1.0', id: 'reading-42', source: 'urn:dev:d1', type: 'reading' } }
  await h.pipeline.handle(msg({ messageId: 1, properties: ce }))
  await h.pipeline.handle(msg({ messageId: 2, properties: ce, dup: false }))
  t.equal(h.sent.length, 1, 'the resend, with a new packet id and DUP 0, is not dispatched')
  await h.pipeline.handle(msg({ messageId: 3, properties: { userProperties: { ...ce.userProperties, id: 'reading-43' } } }))
  t.equal(h.sent.length, 2, 'another id is')
})

t.test('a dead-lettered message is recorded too: its redelivery sends no second dead letter', async (t) => {
  const h = harness({ results: [{ status: 'rejected', retryable: false, code: 'TARGET_HTTP_STATUS', message: 'HTTP 400', httpStatus: 400 }] })
  const dlq = await h.pipeline.handle(msg())
  t.equal(dlq, 'ack', 'dead-lettered and acknowledged')
  // A dead-lettered message is recorded too: its redelivery does not send a second dead letter.
  await h.pipeline.handle(msg({ dup: true }))
  t.equal(h.sent.length, 1)
  t.equal(h.published.filter((p) => p.topic === 'dlq').length, 1, 'one dead letter')
})

t.test('the store fails while recording: no acknowledgement until it is back, logged once, counted', async (t) => {
  const inner = new MemoryDedupStore({ maxAgeMs: 60_000, maxEntries: 1000 })
  let down = true
  const flaky: DedupStore = {
    seen: (ids, now) => inner.seen(ids, now),
    record: async (ids, now) => { if (down) throw new Error('connection refused'); await inner.record(ids, now) },
    size: (now) => inner.size(now),
    close: () => inner.close()
  }
  const h = harness({ store: flaky })
  let outcome: string | undefined
  const p = h.pipeline.handle(msg()).then((o) => { outcome = o })
  for (let i = 0; i < 5; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(1000) }
  t.equal(outcome, undefined, 'not acknowledged while the store is down')
  t.ok(await counter(h, 'dedupStoreErrors') >= 2, 'each failed try counted')
  t.equal(h.lines.filter((l) => l.code === 'STORE_UNAVAILABLE' && l.level === 50).length, 1, 'logged once')
  down = false
  for (let i = 0; i < 3 && outcome === undefined; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(1000) }
  await p
  t.equal(outcome, 'ack', 'acknowledged once it is recorded')
  t.equal(await inner.size(h.clock.now()), 1, 'and it is in the store')
})

t.test('stopping while the store is down leaves the message to the broker', async (t) => {
  const flaky: DedupStore = {
    seen: async () => { throw new Error('down') },
    record: async () => { throw new Error('down') },
    size: async () => 0,
    close: async () => {}
  }
  const h = harness({ store: flaky })
  const p = h.pipeline.handle(msg({ dup: true }))
  await new Promise((resolve) => setImmediate(resolve))
  h.stop.abort()
  t.equal(await p, 'leave')
  t.equal(h.sent.length, 0, 'not dispatched blindly')
})

t.test('every attempt carries iotlessattempt with the same id; a dead letter\'s id derives from the event\'s', async (t) => {
  const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
  const runs: string[] = []
  for (let run = 0; run < 2; run++) {
    const h = harness({ results: [busy, busy, busy], dedup: false })
    const p = h.pipeline.handle(msg())
    for (let i = 0; i < 10; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(5000) }
    await p
    t.same(h.sent.map((e) => e.attributes.iotlessattempt), ['1', '2', '3'])
    t.equal(new Set(h.sent.map((e) => e.attributes.id)).size, 1, 'one id across attempts')
    const dl = JSON.parse((h.published.find((x) => x.topic === 'dlq')?.payload ?? Buffer.from('{}')).toString()) as { id: string; iotlessoriginalid: string }
    t.not(dl.id, dl.iotlessoriginalid)
    runs.push(dl.id)
  }
  t.equal(runs[0], runs[1], 'the same message dead-lettered twice gives the same dead-letter id')
})

t.test('a reply that is a CloudEvent gets an id derived from its input\'s; every reply names its input', async (t) => {
  const ids: string[] = []
  for (let run = 0; run < 2; run++) {
    const h = harness({ reply: true, dedup: false })
    await h.pipeline.handle(msg())
    const up = h.published[0]?.opts.properties?.userProperties as Record<string, string>
    t.equal(up.iotlessinputid, h.sent[0]?.attributes.id)
    t.not(up.id, 'fn-random', 'the function\'s own random id is replaced')
    ids.push(up.id ?? '')
  }
  t.equal(ids[0], ids[1], 'a re-run\'s reply has the same id')
})

t.test('MQTT 5 message expiry: a message that expires between retries is not invoked again, dead-lettered MESSAGE_EXPIRED, counted', async (t) => {
  const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
  const h = harness({ results: [busy, busy, busy], dedup: false })
  const p = h.pipeline.handle(msg({ properties: { messageExpiryInterval: 1 } }))
  for (let i = 0; i < 10; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(2000) }
  t.equal(await p, 'ack')
  t.equal(h.sent.length, 1, 'the first attempt only: the retry after 1 s found it expired')
  const dl = JSON.parse((h.published.find((x) => x.topic === 'dlq')?.payload ?? Buffer.from('{}')).toString()) as Record<string, string>
  t.equal(dl.iotlesserrorcode, 'MESSAGE_EXPIRED')
  t.match(dl.iotlesserrorreason, /Message Expiry Interval \(1 s/)
  t.equal(await counter(h, 'messagesExpired'), 1, 'iotless_messages_expired_total counts it')
  t.equal(await counter(h, 'deadLetters'), 1)
})

t.test('MQTT 5 message expiry on a batched route: checked before each retry of the batch; the expired one leaves it, the rest are retried', async (t) => {
  const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
  const h = harness({ results: [busy], dedup: false, batch: true })
  const short = h.pipeline.handle(msg({ messageId: 1, payload: Buffer.from('{"v":"short"}'), properties: { messageExpiryInterval: 1 } }))
  const long = h.pipeline.handle(msg({ messageId: 2, payload: Buffer.from('{"v":"long"}'), properties: { messageExpiryInterval: 60 } }))
  for (let i = 0; i < 10; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(2000) }
  t.same(await Promise.all([short, long]), ['ack', 'ack'])
  t.equal(h.batches.length, 2, 'refused once, then retried')
  t.equal(h.batches[0]?.length, 2, 'the first attempt carried both')
  t.same(h.batches[1]?.map((e) => e.data?.toString()), ['{"v":"long"}'], 'the retry carried only the one still within its interval')
  const dls = h.published.filter((x) => x.topic === 'dlq').map((x) => JSON.parse(x.payload.toString()) as Record<string, string>)
  t.equal(dls.length, 1)
  t.equal(dls[0]?.iotlesserrorcode, 'MESSAGE_EXPIRED')
  t.equal(await counter(h, 'messagesExpired'), 1)
})

t.test('MQTT 5 message expiry on a batched route: a batch whose every message expired before a retry is not sent again', async (t) => {
  const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
  const h = harness({ results: [busy, busy, busy], dedup: false, batch: true })
  const a = h.pipeline.handle(msg({ messageId: 1, payload: Buffer.from('{"v":"a"}'), properties: { messageExpiryInterval: 1 } }))
  const b = h.pipeline.handle(msg({ messageId: 2, payload: Buffer.from('{"v":"b"}'), properties: { messageExpiryInterval: 1 } }))
  for (let i = 0; i < 10; i++) { await new Promise((resolve) => setImmediate(resolve)); h.clock.advance(2000) }
  t.same(await Promise.all([a, b]), ['ack', 'ack'])
  t.equal(h.batches.length, 1, 'the first attempt only')
  t.same(h.published.filter((x) => x.topic === 'dlq').map((x) => (JSON.parse(x.payload.toString()) as Record<string, string>).iotlesserrorcode), ['MESSAGE_EXPIRED', 'MESSAGE_EXPIRED'])
  t.equal(await counter(h, 'messagesExpired'), 2)
  t.equal(await counter(h, 'deadLetters'), 2)
})

t.test('MQTT 5 message expiry: a message still within its interval is invoked', async (t) => {
  const h = harness({ dedup: false })
  t.equal(await h.pipeline.handle(msg({ properties: { messageExpiryInterval: 60 } })), 'ack')
  t.equal(h.sent.length, 1)
})
