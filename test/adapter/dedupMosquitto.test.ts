// Issue 14 against the real Mosquitto on 127.0.0.1:1883 (MQTT 5): a PUBACK lost after the message was
// recorded brings it back with DUP set, and the dedup window acknowledges it without dispatch; MQTT 5
// message expiry; a dedup store that cannot be opened or reached stops `iotless adapter` naming the field.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { configSchema } from '../../core/config/schema.js'
import { createMetrics } from '../../core/metrics.js'
import { MqttAdapter } from '../../adapters/ingress/mqttAdapter.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import type { DedupStore } from '../../effects/effectStore.js'
import { MemoryDedupStore } from '../../effects/memoryStores.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { cliPath } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'
import { ScriptedTarget } from './adapterSuite.js'

const url = process.env.IOTLESS_TEST_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883'
const base = `once-mq-${process.pid}`

async function start (t: Test, name: string, routes: unknown[], target: ScriptedTarget, dedup?: DedupStore): Promise<{ adapter: MqttAdapter; metrics: ReturnType<typeof createMetrics> }> {
  const config = configSchema.parse({ adapter: { retryBaseMs: 5, deadLetterTopic: `${base}/${name}-dlq` }, routes })
  const metrics = createMetrics(new Registry(), { defaultMetrics: false })
  const adapter = new MqttAdapter({
    url,
    clientId: `${base}-${name}`,
    protocol: '5',
    keepaliveSeconds: 30,
    connectTimeoutMs: 5000,
    sessionExpirySeconds: 60,
    maxInFlight: config.adapter.maxInFlight,
    routes: new RouteTable(config.routes),
    targets: new Map([['local', target]]),
    maxPayloadBytes: 2048,
    maxAttempts: 3,
    retryBaseMs: 5,
    deadLetterTopic: config.adapter.deadLetterTopic,
    dedup,
    log: memoryLog('warn').log,
    metrics
  })
  await adapter.start()
  t.teardown(() => adapter.stop(2000))
  return { adapter, metrics }
}

t.test('a PUBACK lost after the id was recorded: Mosquitto redelivers with DUP, acknowledged without a second dispatch', async (t) => {
  const inner = new MemoryDedupStore({ maxAgeMs: 60_000, maxEntries: 100 })
  const held: { adapter?: MqttAdapter } = {}
  let cut = 0
  // The first record resolves only after the ingress connection is cut: its PUBACK cannot reach Mosquitto.
  const store: DedupStore = {
    seen: (ids, now) => inner.seen(ids, now),
    record: async (ids, now) => {
      await inner.record(ids, now)
      if (cut++ === 0) held.adapter?.client?.stream.destroy()
    },
    size: (now) => inner.size(now),
    close: () => inner.close()
  }
  const target = new ScriptedTarget(() => ({ status: 'ok' }))
  const started = await start(t, 'lost', [{ topic: `${base}/lost/#`, function: 'f', qos: 1 }], target, store)
  held.adapter = started.adapter
  const adapter = started.adapter
  const pub = await publisher(url, 5)
  t.teardown(() => pub.endAsync(true))
  await pub.publishAsync(`${base}/lost/a`, '{"n":1}', { qos: 1 })
  await waitFor('the redelivery is skipped', async () => ((await started.metrics.dedupSkipped.get()).values[0]?.value ?? 0) === 1, 15_000, 20)
  t.equal(target.seen.length, 1, 'dispatched once')
  // And acknowledged this time: once its PUBACK has left, nothing comes back after another reconnect.
  await waitFor('the PUBACK sent', () => adapter.unacked === 0, 5000, 5)
  await new Promise((resolve) => setTimeout(resolve, 200))
  adapter.client?.stream.destroy()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(target.seen.length, 1, 'still once')
  t.equal((await started.metrics.dedupSkipped.get()).values[0]?.value, 1, 'and not redelivered again')
})

t.test('MQTT 5 message expiry: a message that expires waiting behind a slow one is not invoked, dead-lettered MESSAGE_EXPIRED', async (t) => {
  const target = new ScriptedTarget(async (_e, n) => {
    if (n === 1) await new Promise((resolve) => setTimeout(resolve, 1500))
    return { status: 'ok' }
  })
  const { metrics } = await start(t, 'exp', [{ topic: `${base}/exp/#`, function: 'f', qos: 1, maxInFlight: 1 }], target)
  const dlq = await collector(url, `${base}/exp-dlq`, 5)
  t.teardown(dlq.close)
  const pub = await publisher(url, 5)
  t.teardown(() => pub.endAsync(true))
  await pub.publishAsync(`${base}/exp/slow`, 'a', { qos: 1 })
  await pub.publishAsync(`${base}/exp/short`, 'b', { qos: 1, properties: { messageExpiryInterval: 1 } })
  await pub.publishAsync(`${base}/exp/long`, 'c', { qos: 1, properties: { messageExpiryInterval: 60 } })
  await waitFor('the dead letter', () => dlq.received.length === 1, 10_000)
  await waitFor('the long-lived one', () => target.seen.length === 2, 10_000)
  t.same(target.seen.map((e) => e.attributes.subject), [`${base}/exp/slow`, `${base}/exp/long`], 'the expired message never reached the target')
  const dl = JSON.parse(dlq.received[0]?.payload.toString() ?? '{}') as Record<string, string>
  t.equal(dl.iotlesserrorcode, 'MESSAGE_EXPIRED')
  t.equal(dl.subject, `${base}/exp/short`)
  t.equal((await metrics.messagesExpired.get()).values[0]?.value, 1, 'iotless_messages_expired_total')
})

t.test('a dedup store that cannot be opened or reached stops `iotless adapter`, naming adapter.dedup.url', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-dedup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const run = (dedupUrl: string): Promise<{ code: number | null; stderr: string }> => {
    const file = join(dir, 'iotless.yaml')
    writeFileSync(file, JSON.stringify({ broker: { url }, metrics: { enabled: false }, prefetch: { enabled: false }, adapter: { dedup: { url: dedupUrl } }, routes: [] }))
    return new Promise((resolve) => {
      const c = spawn(process.execPath, [cliPath, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      c.once('exit', (code) => resolve({ code, stderr }))
    })
  }
  const redis = await run('redis://127.0.0.1:1')
  t.equal(redis.code, 1)
  t.match(redis.stderr, /STORE_UNAVAILABLE: adapter\.dedup\.url: cannot reach Redis/)
  writeFileSync(join(dir, 'plain'), '')
  const sqlite = await run(`sqlite:${join(dir, 'plain', 'dedup.db')}`)
  t.equal(sqlite.code, 1)
  t.match(sqlite.stderr, /STORE_UNAVAILABLE: adapter\.dedup\.url: cannot open the SQLite store/)
  const bad = await run('mysql://x')
  t.equal(bad.code, 2)
  t.match(bad.stderr, /adapter\.dedup\.url: "mysql:\/\/x" is not a store URL/)
})
