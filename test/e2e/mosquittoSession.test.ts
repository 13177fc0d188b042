import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { cliPath, fixtureFunction, repoRoot } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'
import { stackConfig, startTestStack } from './stackSuite.js'
import { MOSQUITTO_URL } from '../helpers/mosquitto.js'

const prefix = `mq-${process.pid}-${Date.now().toString(36)}`

t.test('MQTT 5 is negotiated with Mosquitto, and a response topic gets the reply with its correlation data', async (t) => {
  const base = stackConfig(`${prefix}/v5`, MOSQUITTO_URL)
  // The device's inbox is allowed as a response topic of the echo route (routes[1]); no other would be.
  const config = { ...base, routes: base.routes.map((r, i) => i === 1 ? { ...r, responseTopics: [`${prefix}/v5/inbox/+`] } : r) }
  const { stack } = await startTestStack(t, config)
  t.equal(stack.adapter.protocolVersion, 5, 'Mosquitto 2 accepts MQTT 5')
  const sub = await collector(MOSQUITTO_URL, `${prefix}/v5/inbox/#`, 5)
  t.teardown(sub.close)
  const pub = await publisher(MOSQUITTO_URL, 5)
  t.teardown(() => pub.endAsync(true))
  await pub.publishAsync(`${prefix}/v5/echo/rr`, JSON.stringify({ id: 'rr' }), {
    qos: 1,
    properties: { responseTopic: `${prefix}/v5/inbox/me`, correlationData: Buffer.from('corr-42'), contentType: 'application/json' }
  })
  await waitFor('reply on the response topic', () => sub.received.length >= 1)
  const m = sub.received[0]
  t.equal(m?.topic, `${prefix}/v5/inbox/me`, 'published to the MQTT 5 response topic, not the route template')
  t.equal(Buffer.from(m?.properties?.correlationData ?? []).toString(), 'corr-42', 'correlation data carried back')
  t.equal(m?.properties?.contentType, 'application/json', 'content type of the reply set')
})

t.test('a message that matches no route is counted and does not crash the adapter', async (t) => {
  // A persistent session keeps its subscriptions across restarts: start with a route, stop, start again
  // without it, and the broker still delivers the old topic. That is how unrouted messages happen.
  const clientId = `iotless-test-unrouted-${process.pid}`
  const first = stackConfig(`${prefix}/u`, MOSQUITTO_URL, {})
  const withId = { ...first, broker: { ...first.broker, clientId } }
  const a = await startTestStack(t, withId)
  await a.stack.stop('first run done')
  const second = { ...withId, routes: [withId.routes[0] as (typeof withId.routes)[number]] } // echo route dropped
  const b = await startTestStack(t, second)
  const pub = await publisher(MOSQUITTO_URL)
  t.teardown(() => pub.endAsync(true))
  await pub.publishAsync(`${prefix}/u/echo/orphan`, 'hello', { qos: 1 })
  await waitFor('the unrouted counter', async () => /iotless_messages_unrouted_total 1/.test(await b.registry.metrics()))
  t.pass('counted in iotless_messages_unrouted_total')
  const sub = await collector(MOSQUITTO_URL, `${prefix}/u/alerts/#`)
  t.teardown(sub.close)
  await pub.publishAsync(`${prefix}/u/sensors/4/reading`, '{"temp": 30}', { qos: 1 })
  await waitFor('the adapter still serving', () => sub.received.length === 1)
})

t.test('SIGTERM: in-flight QoS 1 messages finish and are acknowledged; the rest wait in the broker; none is lost', async (t) => {
  const dir = t.testdir()
  const clientId = `iotless-test-sigterm-${process.pid}`
  const cfgFile = join(dir, 'iotless.yaml')
  writeFileSync(cfgFile, stringify({
    broker: { url: MOSQUITTO_URL, clientId, sessionExpirySeconds: 120 },
    metrics: { enabled: false },
    adapter: { shutdownGraceMs: 20_000, maxInFlight: 4 },
    log: { level: 'info' },
    routes: [{ topic: `${prefix}/s/work/{n}`, function: 'echo', reply: `${prefix}/s/done/{n}`, qos: 1 }],
    functions: { echo: { module: fixtureFunction('echo'), concurrency: 2, maxScale: 2 } }
  }))
  const run = (): { exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void; out: () => string } => {
    const child = spawn(process.execPath, [cliPath, 'up', '-c', cfgFile], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    t.teardown(() => { child.kill('SIGKILL') })
    return { exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))), kill: (s) => child.kill(s), out: () => out }
  }
  const sub = await collector(MOSQUITTO_URL, `${prefix}/s/done/#`)
  t.teardown(sub.close)
  const first = run()
  await waitFor('the adapter to subscribe', () => first.out().includes('iotless is up'), 15_000)
  const pub = await publisher(MOSQUITTO_URL)
  t.teardown(() => pub.endAsync(true))
  const N = 20
  for (let i = 0; i < N; i++) await pub.publishAsync(`${prefix}/s/work/${i}`, JSON.stringify({ id: i, sleepMs: 250 }), { qos: 1 })
  await waitFor('the first reply', () => sub.received.length >= 1, 15_000)
  first.kill('SIGTERM')
  const code = await first.exit
  t.equal(code, 0, `iotless up exits 0 after SIGTERM\n${first.out().slice(-2000)}`)
  const beforeRestart = new Set(sub.received.map((m) => m.topic))
  t.ok(beforeRestart.size >= 2, `messages in flight at SIGTERM were finished (${beforeRestart.size} answered before exit)`)
  t.ok(beforeRestart.size < N, 'the stop happened mid-stream (else the test proves nothing)')

  const second = run()
  await waitFor('the second run to subscribe', () => second.out().includes('iotless is up'), 15_000)
  await waitFor('every message answered after the restart', () => new Set(sub.received.map((m) => m.topic)).size === N, 30_000)
  const all = sub.received.map((m) => m.topic)
  const duplicates = all.length - new Set(all).size
  const againAfterRestart = sub.received.slice(beforeRestart.size).filter((m) => beforeRestart.has(m.topic)).length
  if (againAfterRestart > 0) t.comment(`again: ${sub.received.slice(beforeRestart.size).filter((m) => beforeRestart.has(m.topic)).map((m) => m.topic).join(' ')}\nfirst run log:\n${first.out()}`)
  t.equal(againAfterRestart, 0, 'nothing answered before the stop was delivered again: those messages were acknowledged')
  t.comment(`answered before SIGTERM exit: ${beforeRestart.size}/${N}; duplicates overall: ${duplicates}`)
  second.kill('SIGTERM')
  t.equal(await second.exit, 0)
})
