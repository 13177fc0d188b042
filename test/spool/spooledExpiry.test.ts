// A message delivered from the spool keeps the time it reached the adapter: MQTT 5 expiry counts from then,
// not from when the spool hands it over (after an outage, or a restart). Pipeline, fake target, ManualClock.
import t from 'tap'
import { Registry } from 'prom-client'
import { ManualClock } from '../../core/clock.js'
import { configSchema } from '../../core/config/schema.js'
import { createMetrics } from '../../core/metrics.js'
import { MessagePipeline, type InboundMessage, type OutboundPublisher } from '../../adapters/ingress/messagePipeline.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { OutgoingEvent, Target } from '../../adapters/target.js'
import { decodeRecord, encodeRecord } from '../../adapters/spool/spoolRecord.js'
import { pipelineOptions } from '../helpers/pipelineOptions.js'

function harness (): { pipeline: MessagePipeline; sent: OutgoingEvent[]; published: Array<{ topic: string; payload: Buffer }>; clock: ManualClock } {
  const config = configSchema.parse({ routes: [{ topic: 'r/{dev}', function: 'f' }] })
  const sent: OutgoingEvent[] = []
  const target: Target = { kind: 'test', async dispatch (_fn, event) { sent.push(event); return { status: 'ok' } }, async close () {} }
  const published: Array<{ topic: string; payload: Buffer }> = []
  const publisher: OutboundPublisher = { protocolVersion: 5, async publish (topic, payload) { published.push({ topic, payload }) } }
  const clock = new ManualClock()
  clock.advance(1_700_000_000_000)
  const pipeline = new MessagePipeline(pipelineOptions({
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target]]),
    publisher,
    clock,
    metrics: createMetrics(new Registry(), { defaultMetrics: false })
  }))
  return { pipeline, sent, published, clock }
}

const spooled = (receivedAt: number, expirySeconds: number): InboundMessage => {
  const m: InboundMessage = { topic: 'r/d1', payload: Buffer.from('{"v":1}'), qos: 1, messageId: 7, properties: { messageExpiryInterval: expirySeconds } }
  // Through the record format, as the spool gives it back.
  return decodeRecord(encodeRecord(1, receivedAt, m), 0)?.record.msg as InboundMessage
}

t.test('a spooled message whose expiry ran out while it waited is not invoked: dead-lettered MESSAGE_EXPIRED', async (t) => {
  const h = harness()
  const outcome = await h.pipeline.handle(spooled(h.clock.now() - 10_000, 5))
  t.equal(outcome, 'ack')
  t.equal(h.sent.length, 0, 'not invoked')
  t.equal(h.published.length, 1)
  const dl = JSON.parse((h.published[0]?.payload ?? Buffer.alloc(0)).toString()) as Record<string, unknown>
  t.equal(dl.iotlesserrorcode, 'MESSAGE_EXPIRED')
})

t.test('one still within its expiry is invoked', async (t) => {
  const h = harness()
  t.equal(await h.pipeline.handle(spooled(h.clock.now() - 1_000, 5)), 'ack')
  t.equal(h.sent.length, 1)
  t.equal(h.published.length, 0)
})
