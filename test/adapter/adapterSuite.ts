import type { Test } from 'tap'
import { Registry } from 'prom-client'
import { configSchema, type Config } from '../../core/config/schema.js'
import { createMetrics } from '../../core/metrics.js'
import { MqttAdapter } from '../../adapters/ingress/mqttAdapter.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

/** A target in the test process: records what reaches it and answers as the test says. */
export class ScriptedTarget implements Target {
  readonly kind = 'test'
  readonly seen: OutgoingEvent[] = []
  readonly batches: OutgoingEvent[][] = []
  constructor (readonly answer: (event: OutgoingEvent, n: number) => Promise<DispatchResult> | DispatchResult, readonly batching = true) {}
  async dispatch (_fn: string, event: OutgoingEvent): Promise<DispatchResult> {
    this.seen.push(event)
    return await this.answer(event, this.seen.length)
  }

  async close (): Promise<void> {}
}

/** Adds dispatchBatch: every event of the batch is recorded; the answer for the batch is the first event's. */
export class BatchingTarget extends ScriptedTarget {
  async dispatchBatch (_fn: string, events: OutgoingEvent[]): Promise<DispatchResult> {
    this.batches.push(events)
    this.seen.push(...events)
    return await this.answer(events[0] as OutgoingEvent, this.seen.length)
  }
}

export interface AdapterUnderTest {
  adapter: MqttAdapter
  registry: Registry
  lines: Array<Record<string, unknown>>
}

export function adapterConfig (clientId: string, routes: unknown[], adapter: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    broker: { clientId, sessionExpirySeconds: 60 },
    adapter: { retryBaseMs: 5, maxPayloadBytes: 2048, shutdownGraceMs: 5000, ...adapter },
    routes,
    targets: {}
  })
}

export async function startAdapter (t: Test, url: string, config: Config, target: Target, opts: { protocol?: 'auto' | '5' | '3.1.1'; stopOnTeardown?: boolean; targets?: Record<string, Target> } = {}): Promise<AdapterUnderTest> {
  const registry = new Registry()
  const { log, lines } = memoryLog()
  const adapter = new MqttAdapter({
    url,
    clientId: config.broker.clientId,
    protocol: opts.protocol ?? 'auto',
    keepaliveSeconds: 30,
    connectTimeoutMs: 5000,
    sessionExpirySeconds: config.broker.sessionExpirySeconds,
    maxInFlight: config.adapter.maxInFlight,
    maxUnacked: config.adapter.maxUnacked,
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target], ...Object.entries(opts.targets ?? {})]),
    maxPayloadBytes: config.adapter.maxPayloadBytes,
    maxAttempts: config.adapter.maxAttempts,
    retryBaseMs: config.adapter.retryBaseMs,
    deadLetterTopic: config.adapter.deadLetterTopic,
    log,
    metrics: createMetrics(registry, { defaultMetrics: false })
  })
  await adapter.start()
  if (opts.stopOnTeardown !== false) t.teardown(() => adapter.stop(2000))
  return { adapter, registry, lines }
}

const ok: DispatchResult = { status: 'ok' }

/** The delivery checks every broker must pass. `v5`: the broker speaks MQTT 5 (Mosquitto), not only 3.1.1 (aedes). */
export function adapterSuite (t: Test, url: string, v5: boolean): void {
  const base = `adapter-${process.pid}-${Date.now().toString(36)}`
  const id = (s: string): string => `${base}-${s}`

  t.test('a target that fails half the requests at random: every message delivered, duplicates counted', async (t) => {
    const topic = `${base}/flaky`
    const target = new ScriptedTarget(() => Math.random() < 0.5
      ? { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
      : ok)
    const delivered = new Map<string, number>()
    const wrapped = new ScriptedTarget(async (ev) => {
      const r = await target.dispatch('f', ev)
      if (r.status === 'ok') delivered.set(ev.data.toString(), (delivered.get(ev.data.toString()) ?? 0) + 1)
      return r
    })
    await startAdapter(t, url, adapterConfig(id('flaky'), [{ topic: `${topic}/#`, function: 'f', qos: 1, maxAttempts: 20 }]), wrapped)
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    const n = 300
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`${topic}/x`, `m${i}`, { qos: 1 })))
    await waitFor('every message delivered once the target accepts it', () => delivered.size === n, 20_000)
    const dups = [...delivered.values()].filter((c) => c > 1).length
    t.equal(delivered.size, n, `all ${n} delivered`)
    t.comment(`attempts: ${wrapped.seen.length} for ${n} messages; messages delivered more than once: ${dups}`)
    t.ok(wrapped.seen.length > n, 'failures were retried')
  })

  t.test('a poison message lands on the dead-letter topic after maxAttempts, with a readable reason', async (t) => {
    const topic = `${base}/poison`
    const dlq = await collector(url, `${topic}-dlq/#`)
    t.teardown(dlq.close)
    const target = new ScriptedTarget((ev) => {
      const body = ev.data.toString()
      if (body === 'always-503') return { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503 Service Unavailable', httpStatus: 503 }
      if (body === 'bad-request') return { status: 'rejected', retryable: false, code: 'TARGET_HTTP_STATUS', message: 'HTTP 400 Bad Request', httpStatus: 400 }
      return ok
    })
    const { registry } = await startAdapter(t, url, adapterConfig(id('poison'), [{ topic: `${topic}/{dev}`, function: 'f', qos: 1, maxAttempts: 3, deadLetter: `${topic}-dlq/{dev}` }]), target)
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${topic}/d1`, 'always-503', { qos: 1 })
    await pub.publishAsync(`${topic}/d2`, 'bad-request', { qos: 1 })
    await pub.publishAsync(`${topic}/d3`, 'fine', { qos: 1 })
    await waitFor('two dead letters', () => dlq.received.length === 2)
    const byTopic = new Map(dlq.received.map((r) => [r.topic, JSON.parse(r.payload.toString()) as Record<string, unknown>]))
    t.match(byTopic.get(`${topic}-dlq/d1`), { iotlesserrorcode: 'TARGET_HTTP_STATUS', iotlesserrorreason: 'HTTP 503 Service Unavailable', iotlessattempts: 3, knativeerrorcode: '503', data_base64: Buffer.from('always-503').toString('base64') }, 'retryable: dead-lettered after 3 attempts')
    t.match(byTopic.get(`${topic}-dlq/d2`), { iotlessattempts: 1, knativeerrorcode: '400' }, 'a 4xx that cannot pass: dead-lettered at once')
    t.equal(target.seen.filter((e) => e.data.toString() === 'always-503').length, 3)
    t.match(await registry.getSingleMetricAsString('iotless_dead_letters_total'), /code="TARGET_HTTP_STATUS"\} 2/)
  })

  t.test('oversized, malformed and wrongly-typed payloads: the documented code on the dead-letter topic, and the adapter goes on', async (t) => {
    const topic = `${base}/bad`
    const dlq = await collector(url, `${topic}-dlq`)
    t.teardown(dlq.close)
    const target = new ScriptedTarget(() => ok)
    await startAdapter(t, url, adapterConfig(id('bad'), [{ topic: `${topic}/#`, function: 'f', qos: 1, accept: 'json', deadLetter: `${topic}-dlq` }]), target)
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${topic}/a`, Buffer.alloc(4096, 0x31), { qos: 1 })
    await pub.publishAsync(`${topic}/b`, 'not json', { qos: 1 })
    await pub.publishAsync(`${topic}/c`, '{"specversion":"1.0","id":"x","source":"s","type":"t","Bad-Name":1}', { qos: 1 })
    await pub.publishAsync(`${topic}/d`, '{"temp":21}', { qos: 1 })
    await waitFor('three dead letters and one delivery', () => dlq.received.length === 3 && target.seen.length === 1)
    const codes = dlq.received.map((r) => (JSON.parse(r.payload.toString()) as { iotlesserrorcode: string }).iotlesserrorcode).sort()
    t.same(codes, ['CLOUDEVENT_INVALID', 'PAYLOAD_NOT_JSON', 'PAYLOAD_TOO_LARGE'])
    t.equal(target.seen[0]?.data.toString(), '{"temp":21}', 'the good message after them was delivered')
    const big = JSON.parse(dlq.received.find((r) => r.payload.includes('PAYLOAD_TOO_LARGE'))?.payload.toString() ?? '{}') as Record<string, unknown>
    t.match(big, { iotlesspayloadbytes: 4096, iotlesstopic: `${topic}/a` }, 'the oversized message is described: size and topic')
    t.notOk('data_base64' in big, 'and not copied into the dead letter')
  })

  t.test('a topic outside the route\'s topicPrefix is refused at run time (`#` also matches the parent level)', async (t) => {
    const topic = `${base}/tenant`
    const dlq = await collector(url, `${topic}-dlq`)
    t.teardown(dlq.close)
    const target = new ScriptedTarget(() => ok)
    // The filter lies inside the prefix, so the config is accepted; yet `${topic}/acme/#` also matches `${topic}/acme`.
    await startAdapter(t, url, adapterConfig(id('tenant'), [{ topic: `${topic}/acme/#`, topicPrefix: `${topic}/acme/`, function: 'f', qos: 1, deadLetter: `${topic}-dlq` }]), target)
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${topic}/acme`, 'outside', { qos: 1 })
    await pub.publishAsync(`${topic}/acme/dev1`, 'inside', { qos: 1 })
    await waitFor('one dead letter and one delivery', () => dlq.received.length === 1 && target.seen.length === 1)
    t.match(JSON.parse(dlq.received[0]?.payload.toString() ?? ''), { iotlesserrorcode: 'TOPIC_NOT_ALLOWED', iotlesstopic: `${topic}/acme` })
    t.equal(target.seen[0]?.data.toString(), 'inside', 'the topic under the prefix reached the function')
  })

  t.test('backpressure: a full route holds its messages back; adapter.maxInFlight stops reading from the broker; then everything drains', async (t) => {
    const topic = `${base}/slow`
    const release: Array<() => void> = []
    let maxSeen = 0
    const ref: { adapter?: MqttAdapter } = {}
    const target = new ScriptedTarget(() => new Promise<DispatchResult>((resolve) => {
      maxSeen = Math.max(maxSeen, ref.adapter?.routeInFlight(0) ?? 0)
      release.push(() => resolve(ok))
    }))
    const { adapter } = await startAdapter(t, url, adapterConfig(id('slow'), [{ topic: `${topic}/#`, function: 'f', qos: 0, maxInFlight: 4 }], { maxInFlight: 16 }), target)
    ref.adapter = adapter
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    const n = 60
    for (let i = 0; i < n; i++) await pub.publishAsync(`${topic}/x`, `m${i}`, { qos: 0 })
    await waitFor('the route is full and the adapter holds maxInFlight messages', () => release.length === 4 && adapter.inFlight === 16)
    t.ok(adapter.paused, 'reading from the broker waits at adapter.maxInFlight')
    t.equal(adapter.routeInFlight(0), 4, 'no more than the route\'s maxInFlight dispatched')
    t.equal(adapter.routeWaiting(0), 12, 'the others wait for a slot of the route')
    await waitFor('all delivered as slots free up', () => {
      while (release.length > 0) (release.shift() as () => void)()
      return target.seen.length === n
    }, 10_000)
    t.ok(maxSeen <= 4, `in flight never above maxInFlight (max ${maxSeen})`)
    t.equal(target.seen.length, n, 'QoS 0 too: none lost while paused')
  })

  for (const qos of [1, 0] as const) {
    t.test(`a burst of 200 readings (QoS ${qos} in) at the default limits, each answered by a QoS 1 reply: every one answered, no deadlock`, async (t) => {
      // Issue 11: at 65 at once the route filled, reading stopped, and the replies' PUBACKs sat unread behind it.
      const topic = `${base}/burst${qos}`
      const replies = await collector(url, `${topic}-out/#`)
      t.teardown(replies.close)
      const target = new ScriptedTarget(async (ev) => {
        await new Promise((resolve) => setTimeout(resolve, 2))
        return { status: 'ok', reply: { data: ev.data, contentType: 'text/plain' } }
      })
      const { adapter } = await startAdapter(t, url, adapterConfig(id(`burst${qos}`), [{ topic: `${topic}/{dev}`, function: 'f', qos: 1, reply: `${topic}-out/{dev}` }]), target)
      const pub = await publisher(url)
      t.teardown(() => pub.endAsync(true))
      const n = 200
      await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`${topic}/d${i % 7}`, `m${i}`, { qos })))
      await waitFor(`${n} replies`, () => new Set(replies.received.map((r) => r.payload.toString())).size === n, 20_000)
      t.equal(new Set(replies.received.map((r) => r.payload.toString())).size, n, 'every reading answered')
      await waitFor('nothing left in hand', () => adapter.inFlight === 0 && adapter.unacked === 0, 5000)
      t.pass('all acknowledged')
    })
  }

  t.test('a message hung on one route stalls no other route: 300 on another route are answered meanwhile', async (t) => {
    // Issue 11: acks go out in arrival order, so with a Receive Maximum of 64 the other route stopped at 63.
    const topic = `${base}/hol`
    const replies = await collector(url, `${topic}-out/#`)
    t.teardown(replies.close)
    let releaseHung: () => void = () => undefined
    const hung = new ScriptedTarget(() => new Promise<DispatchResult>((resolve) => { releaseHung = () => resolve(ok) }))
    const fast = new ScriptedTarget((ev) => ({ status: 'ok', reply: { data: ev.data, contentType: 'text/plain' } }))
    const cfg = adapterConfig(id('hol'), [
      { topic: `${topic}/slow`, function: 'slow', qos: 1 },
      { topic: `${topic}/fast`, function: 'fast', target: 'fast', qos: 1, reply: `${topic}-out/fast` }
    ])
    const { adapter } = await startAdapter(t, url, cfg, hung, { targets: { fast } })
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${topic}/slow`, 'hang', { qos: 1 })
    await waitFor('the slow route holds its message', () => hung.seen.length === 1)
    const n = 300
    for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => pub.publishAsync(`${topic}/fast`, `f${i + k}`, { qos: 1 })))
    await waitFor(`${n} replies on the fast route while the slow one hangs`, () => replies.received.length >= n, 20_000)
    t.equal(hung.seen.length, 1, 'the slow message is still in hand')
    t.ok(adapter.unacked >= n, `their acks wait their turn behind it (${adapter.unacked} unacknowledged), as MQTT-4.6.0-2 requires`)
    releaseHung()
    await waitFor('all acknowledged once it finishes', () => adapter.unacked === 0, 5000)
  })

  t.test('micro-batching: one invocation per batch, every message acknowledged with its batch', async (t) => {
    const topic = `${base}/batch`
    const target = new BatchingTarget(() => ok)
    const { registry } = await startAdapter(t, url, adapterConfig(id('batch'), [{ topic: `${topic}/#`, function: 'f', qos: 1, batch: { maxMessages: 10, maxWaitMs: 20 } }]), target)
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    const n = 45
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`${topic}/x`, `{"i":${i}}`, { qos: 1 })))
    await waitFor('every message in some batch', () => target.seen.length === n)
    t.ok(target.batches.length >= 5 && target.batches.length < n, `${target.batches.length} batches for ${n} messages`)
    t.ok(target.batches.every((b) => b.length <= 10), 'no batch above maxMessages')
    t.same(target.seen.map((e) => (JSON.parse(e.data.toString()) as { i: number }).i).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each message once')
    t.match(await registry.getSingleMetricAsString('iotless_batch_size'), new RegExp(`iotless_batch_size_count\\{route="routes\\[0\\]"\\} ${target.batches.length}`))
  })

  t.test('a redelivered message keeps its CloudEvent id (adapter restarted on the same session)', async (t) => {
    const topic = `${base}/redeliver`
    const clientId = id('redeliver')
    const cfg = adapterConfig(clientId, [{ topic: `${topic}/#`, function: 'f', qos: 1 }], { shutdownGraceMs: 0 })
    const first = new ScriptedTarget(() => new Promise<DispatchResult>(() => undefined)) // never answers
    const a = await startAdapter(t, url, cfg, first, { stopOnTeardown: false })
    const pub = await publisher(url)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${topic}/x`, 'hello', { qos: 1 })
    await waitFor('the first adapter got it', () => first.seen.length === 1)
    // Gone without acknowledging, as after kill -9.
    a.adapter.client?.end(true)
    a.adapter.publisherClient?.end(true)
    const second = new ScriptedTarget(() => ok)
    await startAdapter(t, url, cfg, second)
    await waitFor('the broker delivered it again', () => second.seen.length === 1, 10_000)
    t.equal(second.seen[0]?.attributes.id, first.seen[0]?.attributes.id, 'same id on redelivery')
    t.equal(second.seen[0]?.data.toString(), 'hello')
  })

  if (v5) {
    t.test('MQTT 5: a binary-mode CloudEvent passes through unwrapped; traceparent goes to the target and back on the reply', async (t) => {
      const topic = `${base}/ce`
      const replies = await collector(url, `${topic}-replies/#`, 5)
      t.teardown(replies.close)
      const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
      const target = new ScriptedTarget(() => ({ status: 'ok', reply: { data: Buffer.from('{"ok":true}'), contentType: 'application/json' } }))
      const { adapter } = await startAdapter(t, url, adapterConfig(id('ce'), [{ topic: `${topic}/{dev}`, function: 'f', qos: 1, reply: `${topic}-replies/{dev}` }]), target, { protocol: '5' })
      t.equal(adapter.protocolVersion, 5)
      const pub = await publisher(url, 5)
      t.teardown(() => pub.endAsync(true))
      await pub.publishAsync(`${topic}/d7`, 'raw bytes', { qos: 1, properties: { contentType: 'text/plain', userProperties: { specversion: '1.0', id: 'dev-7-0001', source: 'urn:dev:7', type: 'com.acme.hello', traceparent: tp } } })
      await pub.publishAsync(`${topic}/d8`, JSON.stringify({ specversion: '1.0', id: 'dev-8-0001', source: 'urn:dev:8', type: 'com.acme.s', data: { v: 1 } }), { qos: 1, properties: { contentType: 'application/cloudevents+json' } })
      await waitFor('both delivered and answered', () => target.seen.length === 2 && replies.received.length === 2)
      const byId = new Map(target.seen.map((e) => [e.attributes.id, e]))
      t.match(byId.get('dev-7-0001')?.attributes, { source: 'urn:dev:7', type: 'com.acme.hello', datacontenttype: 'text/plain', traceparent: tp }, 'binary mode kept as sent')
      t.equal(byId.get('dev-7-0001')?.data.toString(), 'raw bytes')
      t.match(byId.get('dev-8-0001')?.attributes, { source: 'urn:dev:8', type: 'com.acme.s' }, 'structured mode kept as sent')
      t.same(JSON.parse(byId.get('dev-8-0001')?.data.toString() ?? ''), { v: 1 })
      const r7 = replies.received.find((r) => r.topic === `${topic}-replies/d7`)
      t.same(r7?.properties?.userProperties, { traceparent: tp, iotlessinputid: 'dev-7-0001' }, 'traceparent back on the reply, and the input\'s id')
    })

    t.test('MQTT 5: a reply that is a CloudEvent goes out in binary mode (attributes as user properties)', async (t) => {
      const topic = `${base}/cereply`
      const replies = await collector(url, `${topic}-out`, 5)
      t.teardown(replies.close)
      const target = new ScriptedTarget(() => ({ status: 'ok', reply: { data: Buffer.from('{"alert":true}'), contentType: 'application/json', attributes: { specversion: '1.0', id: 'r-1', source: 'urn:fn', type: 'com.acme.alert', datacontenttype: 'application/json' } } }))
      await startAdapter(t, url, adapterConfig(id('cereply'), [{ topic: `${topic}/#`, function: 'f', qos: 1, reply: `${topic}-out` }]), target, { protocol: '5' })
      const pub = await publisher(url, 5)
      t.teardown(() => pub.endAsync(true))
      await pub.publishAsync(`${topic}/x`, '{"t":1}', { qos: 1 })
      await waitFor('the reply', () => replies.received.length === 1)
      const up = replies.received[0]?.properties?.userProperties as Record<string, string>
      t.match(up, { specversion: '1.0', source: 'urn:fn', type: 'com.acme.alert', iotlessinputid: /^[0-9a-f-]{36}$/ })
      t.match(up.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'its id derives from the input\'s (issue 14), not the function\'s')
      t.equal(replies.received[0]?.properties?.contentType, 'application/json')
    })

    t.test('MQTT 5: a response topic the route does not allow, an input topic, the dead-letter topic: refused unrun, with a code', async (t) => {
      const topic = `${base}/rtp`
      const dlq = await collector(url, `${topic}-dlq`, 5)
      t.teardown(dlq.close)
      const target = new ScriptedTarget(() => ({ status: 'ok', reply: { data: Buffer.from('x'), contentType: 'text/plain' } }))
      await startAdapter(t, url, adapterConfig(id('rtp'), [{ topic: `${topic}/in/#`, function: 'f', qos: 1, deadLetter: `${topic}-dlq`, responseTopics: [`${topic}/inbox/+`] }]), target, { protocol: '5' })
      const pub = await publisher(url, 5)
      t.teardown(() => pub.endAsync(true))
      for (const rt of [`${topic}/other-device/cmd`, `${topic}/in/x`, `${topic}-dlq`]) {
        await pub.publishAsync(`${topic}/in/a`, rt, { qos: 1, properties: { responseTopic: rt } })
      }
      await pub.publishAsync(`${topic}/in/a`, 'allowed', { qos: 1, properties: { responseTopic: `${topic}/inbox/a` } })
      await waitFor('three dead letters and one invocation', () => dlq.received.length === 3 && target.seen.length === 1)
      const letters = dlq.received.map((r) => JSON.parse(r.payload.toString()) as { iotlesserrorcode: string; iotlesserrorreason: string })
      t.same(letters.map((l) => l.iotlesserrorcode), ['RESPONSE_TOPIC_NOT_ALLOWED', 'RESPONSE_TOPIC_NOT_ALLOWED', 'RESPONSE_TOPIC_NOT_ALLOWED'])
      t.ok(letters.some((l) => /matches none of routes\[0\]\.responseTopics/.test(l.iotlesserrorreason)), 'another device\'s topic: not allowed')
      t.ok(letters.some((l) => /is an input of a route/.test(l.iotlesserrorreason)), 'its own input: refused')
      t.ok(letters.some((l) => /is the dead-letter topic/.test(l.iotlesserrorreason)), 'the dead-letter topic: refused')
      t.equal(target.seen[0]?.data.toString(), 'allowed', 'only the allowed one ran')
    })

    t.test('MQTT 5: the reply goes to the response topic with the correlation data', async (t) => {
      const topic = `${base}/rr`
      const replies = await collector(url, `${topic}-inbox`, 5)
      t.teardown(replies.close)
      const target = new ScriptedTarget((ev) => ({ status: 'ok', reply: { data: Buffer.from(`re:${ev.data.toString()}`), contentType: 'text/plain' } }))
      await startAdapter(t, url, adapterConfig(id('rr'), [{ topic: `${topic}/#`, function: 'f', qos: 1, responseTopics: [`${topic}-inbox`] }]), target, { protocol: '5' })
      const pub = await publisher(url, 5)
      t.teardown(() => pub.endAsync(true))
      await pub.publishAsync(`${topic}/q`, 'ping', { qos: 1, properties: { responseTopic: `${topic}-inbox`, correlationData: Buffer.from('c-1') } })
      await waitFor('the reply', () => replies.received.length === 1)
      t.equal(replies.received[0]?.payload.toString(), 're:ping')
      t.equal(replies.received[0]?.properties?.correlationData?.toString(), 'c-1')
    })
  }
}
