import type { Test } from 'tap'
import { Registry } from 'prom-client'
import type { Config } from '../../core/config/schema.js'
import { configSchema } from '../../core/config/schema.js'
import { startStack, type Stack } from '../../cli/stack.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { fixtureFunction, repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { temperatureOf, ulbLines } from '../helpers/ulbReadings.js'
import { waitFor } from '../helpers/waitFor.js'

export interface SuiteOptions {
  /** '' for the embedded broker, or the external broker's URL. */
  brokerUrl: string
}

export function stackConfig (prefix: string, brokerUrl: string, over: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    broker: { url: brokerUrl, port: 0, clientId: `iotless-test-${prefix.replace(/\//g, '-')}`, sessionExpirySeconds: 60 },
    metrics: { port: 0 },
    adapter: { maxPayloadBytes: 1024, shutdownGraceMs: 10_000, retryBaseMs: 10 },
    log: { level: 'debug' },
    routes: [
      { topic: `${prefix}/sensors/{node}/reading`, function: 'temperature-alert', reply: `${prefix}/alerts/{node}` },
      { topic: `${prefix}/echo/#`, function: 'echo', reply: `${prefix}/echo-replies` }
    ],
    functions: {
      'temperature-alert': { module: 'temperature-alert', config: { thresholdC: 22 } },
      echo: { module: fixtureFunction('echo'), maxScale: 2 }
    },
    ...over
  })
}

export async function startTestStack (t: Test, config: Config): Promise<{ stack: Stack; registry: Registry; lines: Array<Record<string, unknown>> }> {
  const registry = new Registry()
  const { log, lines } = memoryLog()
  const stack = await startStack({ config, baseDir: repoRoot, log, env: process.env, registry })
  t.teardown(() => stack.stop('test done'))
  return { stack, registry, lines }
}

/** The end-to-end checks every broker must pass: the same suite runs on aedes and on Mosquitto. */
export function stackSuite (t: Test, opts: SuiteOptions): void {
  const prefix = `e2e-${process.pid}-${Date.now().toString(36)}`

  t.test('real sensor readings in, alerts out, with the right content', async (t) => {
    const { stack, registry } = await startTestStack(t, stackConfig(`${prefix}/a`, opts.brokerUrl))
    const sub = await collector(stack.brokerUrl, `${prefix}/a/alerts/#`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    // Ten consecutive real packets; the function's threshold is 22 °C in this test.
    const lines = ulbLines().slice(0, 400)
    const hot = lines.filter((l) => temperatureOf(l) >= 22).slice(0, 5)
    const cold = lines.filter((l) => temperatureOf(l) < 22).slice(0, 5)
    t.equal(hot.length, 5, 'the trace has hot readings')
    t.equal(cold.length, 5, 'the trace has cool readings')
    for (const line of [...hot, ...cold]) {
      const node = line.split(/\s+/)[1] as string
      await pub.publishAsync(`${prefix}/a/sensors/${node}/reading`, line + '\r\n', { qos: 1 })
    }
    await waitFor('five alerts', () => sub.received.length >= 5)
    await waitFor('all ten invocations', async () => /iotless_invocations_total\{function="temperature-alert",outcome="ok"\} 10/.test(await registry.metrics()))
    t.equal(sub.received.length, 5, 'exactly the hot readings raised alerts')
    const alerts = sub.received.map((m) => ({ topic: m.topic, body: JSON.parse(m.payload.toString()) as { node: number; temperatureC: number; alert: string } }))
    for (const line of hot) {
      const f = line.split(/\s+/)
      const a = alerts.find((x) => x.body.temperatureC === temperatureOf(line) && x.body.node === Number(f[1]))
      t.ok(a, `alert for node ${f[1] ?? ''} at ${temperatureOf(line)} °C`)
      t.equal(a?.topic, `${prefix}/a/alerts/${f[1] ?? ''}`, 'reply topic filled from the {node} segment')
      t.equal(a?.body.alert, 'temperature')
    }
    const text = await registry.metrics()
    t.match(text, new RegExp(`iotless_messages_received_total\\{route="routes\\[0\\]"\\} 10`))
    const coldStarts = Number(/iotless_cold_starts_total\{function="temperature-alert"\} (\d+)/.exec(text)?.[1])
    t.ok(coldStarts >= 1 && coldStarts <= 4, `ten concurrent readings started between 1 and maxScale=4 instances (got ${coldStarts})`)
    t.match(text, /iotless_replies_published_total\{route="routes\[0\]"\} 5/)
  })

  t.test('bytes stay bytes, JSON is parsed; too large, throwing and crashing are handled', async (t) => {
    const { stack, registry, lines } = await startTestStack(t, stackConfig(`${prefix}/b`, opts.brokerUrl))
    const sub = await collector(stack.brokerUrl, `${prefix}/b/echo-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    const raw = Buffer.from([0x00, 0xff, 0x10, 0x42, 0x20])
    await pub.publishAsync(`${prefix}/b/echo/raw`, raw, { qos: 1 })
    await waitFor('raw echo', () => sub.received.length >= 1)
    const r1 = JSON.parse(sub.received[0]?.payload.toString() ?? '{}') as { bytes?: string; datacontenttype?: string; subject?: string }
    t.equal(r1.bytes, raw.toString('base64'), 'non-JSON payload reached the function as the same bytes')
    t.equal(r1.datacontenttype, 'application/octet-stream')
    t.equal(r1.subject, `${prefix}/b/echo/raw`, 'subject is the topic')

    await pub.publishAsync(`${prefix}/b/echo/json`, JSON.stringify({ id: 'j1' }), { qos: 1 })
    await waitFor('json echo', () => sub.received.length >= 2)
    const r2 = JSON.parse(sub.received[1]?.payload.toString() ?? '{}') as { json?: { id?: string }; datacontenttype?: string }
    t.same(r2.json, { id: 'j1' })
    t.equal(r2.datacontenttype, 'application/json')

    await pub.publishAsync(`${prefix}/b/echo/big`, Buffer.alloc(2000, 0x41), { qos: 1 })
    await pub.publishAsync(`${prefix}/b/echo/boom`, JSON.stringify({ throw: 'probe exploded' }), { qos: 1 })
    await pub.publishAsync(`${prefix}/b/echo/after`, JSON.stringify({ id: 'after' }), { qos: 1 })
    await waitFor('the message after the bad ones', () => sub.received.some((m) => m.payload.toString().includes('"after"')))
    const text = await registry.metrics()
    t.match(text, /iotless_messages_rejected_total\{reason="payload_too_large"\} 1/, 'oversized message counted')
    t.ok(lines.some((l) => l.code === 'PAYLOAD_TOO_LARGE' && l.topic === `${prefix}/b/echo/big`), 'oversized message logged with its topic')
    t.match(text, /iotless_invocations_total\{function="echo",outcome="error"\} 1/, 'thrown error counted')
    const errLine = lines.find((l) => l.code === 'FUNCTION_HANDLER_ERROR')
    t.equal(errLine?.function, 'echo', 'the log line names the function')
    t.equal(errLine?.topic, `${prefix}/b/echo/boom`, 'and the topic')
    t.match(String(errLine?.err), /probe exploded/)
    t.equal(sub.received.length, 3, 'no reply for the oversized or the failed message')
  })

  t.test('a message that crashes its instance is poison: dead-lettered FUNCTION_CRASHED after its first crash', async (t) => {
    // Issue 11: it cost 2 x maxAttempts process spawns (10 by default) before it was given up.
    // Prefetch off: at a minute boundary it may hold a warm instance for the warm-up's arrival, and after the crash
    // it rightly starts one to restore that floor, a spawn not made for the poison message (seen in CI when a
    // minute boundary fell inside this test; with prefetch.minuteMs 300 it happens on every run).
    const config = stackConfig(`${prefix}/p`, opts.brokerUrl, { adapter: { maxPayloadBytes: 1024, shutdownGraceMs: 10_000, retryBaseMs: 10, deadLetterTopic: `${prefix}/p/dlq` }, prefetch: { enabled: false } })
    const { stack } = await startTestStack(t, config)
    const dlq = await collector(stack.brokerUrl, `${prefix}/p/dlq`)
    t.teardown(dlq.close)
    const sub = await collector(stack.brokerUrl, `${prefix}/p/echo-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${prefix}/p/echo/warm`, JSON.stringify({ id: 'warm' }), { qos: 1 })
    await waitFor('warm reply', () => sub.received.length === 1)
    const pool = stack.target.pools.get('echo')
    // Counted from here: a slow cold start of the warm-up may have made the scaler start a second instance.
    const spawnedBefore = pool?.spawnCount
    await pub.publishAsync(`${prefix}/p/echo/poison`, JSON.stringify({ exit: 9 }), { qos: 1 })
    await waitFor('the dead letter', () => dlq.received.length === 1, 15_000)
    t.match(JSON.parse(dlq.received[0]?.payload.toString() ?? '{}'), { iotlesserrorcode: 'FUNCTION_CRASHED', iotlessattempts: 1, iotlesstopic: `${prefix}/p/echo/poison` })
    t.equal(pool?.spawnCount, spawnedBefore, 'no process spawned for it beyond the one it crashed')
    await pub.publishAsync(`${prefix}/p/echo/after`, JSON.stringify({ id: 'after' }), { qos: 1 })
    await waitFor('the next message answered', () => sub.received.length === 2, 15_000)
  })

  t.test('graceful stop: in-flight messages finish and their replies go out', async (t) => {
    const { stack } = await startTestStack(t, stackConfig(`${prefix}/c`, opts.brokerUrl))
    const sub = await collector(stack.brokerUrl, `${prefix}/c/echo-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    for (let i = 0; i < 4; i++) await pub.publishAsync(`${prefix}/c/echo/${i}`, JSON.stringify({ id: i, sleepMs: 400 }), { qos: 1 })
    await waitFor('work in flight', () => stack.adapter.inFlight > 0)
    await stack.stop('test SIGTERM')
    await waitFor('replies to arrive', () => sub.received.length >= 4, 5000)
    const ids = sub.received.map((m) => (JSON.parse(m.payload.toString()) as { id: number }).id).sort()
    t.same(ids, [0, 1, 2, 3], 'every message accepted before the stop was handled and answered')
  })
}
