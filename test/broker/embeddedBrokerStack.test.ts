import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { hashPassword } from '../../adapters/broker/passwordHash.js'
import { startStack, type Stack } from '../../cli/stack.js'
import { configSchema } from '../../core/config/schema.js'
import { isIotlessError } from '../../core/errors.js'
import { formatIssues } from '../../core/config/formatIssues.js'
import { cliPath, fixtureFunction, repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

async function stack (t: Test, over: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, baseDir = repoRoot): Promise<{ stack: Stack; lines: Array<Record<string, unknown>> }> {
  const { log, lines } = memoryLog()
  const config = configSchema.parse({
    metrics: { enabled: false },
    prefetch: { enabled: false },
    adapter: { retryBaseMs: 10 },
    functions: { echo: { module: fixtureFunction('echo'), maxScale: 2, concurrency: 16 } },
    ...over,
    broker: { port: 0, ...(over.broker as Record<string, unknown> | undefined) }
  })
  const s = await startStack({ config, baseDir, log, env, registry: new Registry() })
  t.teardown(() => s.stop('test done'))
  return { stack: s, lines }
}

async function client (t: Test, url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...opts })
  t.teardown(() => c.endAsync(true))
  return c
}

t.test('publishes to a topic with an empty level no longer drop the adapter: 100 of 100 answered beside 5 bad ones a second', async (t) => {
  // Before the broker checked topics, this left the adapter reconnecting every second and most replies lost:
  // aedes dropped its persistent session's connection on every sensors//reading ("no such packet").
  const { stack: s, lines } = await stack(t, { routes: [{ topic: 'sensors/{node}/reading', function: 'echo', reply: 'alerts/{node}' }] })
  const sub = await client(t, s.brokerUrl)
  const answered = new Set<string>()
  sub.on('message', (topic) => answered.add(topic))
  await sub.subscribeAsync('alerts/#', { qos: 1 })
  const bad = await mqtt.connectAsync(s.brokerUrl, { protocolVersion: 4, reconnectPeriod: 100 })
  bad.on('error', () => {})
  t.teardown(() => bad.endAsync(true))
  let badSent = 0
  const timer = setInterval(() => { badSent++; bad.publish('sensors//reading', '{"x":1}', { qos: 1 }) }, 200)
  t.teardown(() => clearInterval(timer))
  const pub = await client(t, s.brokerUrl)
  // One reading first, so the burst below meets a warm instance (a cold pool's small queue is another matter).
  await pub.publishAsync('sensors/warm/reading', '{}', { qos: 1 })
  await waitFor('the warm-up reply', () => answered.has('alerts/warm'), 20_000)
  for (let i = 0; i < 100; i++) {
    await pub.publishAsync(`sensors/n${i}/reading`, JSON.stringify({ i }), { qos: 1 })
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await waitFor('100 replies', () => answered.size === 101, 20_000)
  clearInterval(timer)
  t.equal(answered.size, 101, 'every normal message answered (and the warm-up)')
  t.ok(badSent >= 5, `${badSent} bad publishes were sent meanwhile`)
  t.notOk(answered.has('alerts/'), 'the bad ones reached no function')
  t.notOk(lines.some((l) => l.msg === 'reconnecting to the MQTT broker'), 'the adapter never lost its connection')
  t.ok(lines.some((l) => typeof l.err === 'string' && l.err.includes('empty level')), 'the refusal is logged')
})

t.test('with a users file: a device gets its reply; the adapter gets in with a credential nobody configured', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'users'), `s1:${await hashPassword('s1-password')}\n`)
  const { stack: s } = await stack(t, {
    broker: { host: '127.0.0.1', usersFile: 'users' },
    routes: [{ topic: 'devices/{device}/reading', function: 'echo', reply: 'devices/{device}/alert' }]
  }, {}, dir)
  const dev = await client(t, s.brokerUrl, { clientId: 's1', username: 's1', password: 's1-password' })
  const got: string[] = []
  dev.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`))
  await dev.subscribeAsync('devices/s1/alert', { qos: 1 })
  await dev.publishAsync('devices/s1/reading', '{"t":21}', { qos: 1 })
  await waitFor('the reply', () => got.length === 1)
  t.match(got[0], /^devices\/s1\/alert /)
  const err = await mqtt.connectAsync(s.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'x' }).then(async (c) => { await c.endAsync(true) }, (e: { code?: number }) => e.code)
  t.equal(err, 5, 'anonymous refused once there are users')
})

t.test('broker.username with passwordEnv is honoured by the embedded broker', async (t) => {
  const { stack: s } = await stack(t, {
    broker: { username: 'edge-adapter', passwordEnv: 'ADAPTER_PW' },
    routes: [{ topic: 'sensors/{node}/reading', function: 'echo', reply: 'alerts/{node}' }]
  }, { ADAPTER_PW: 'a-long-adapter-secret' })
  const wrong = await mqtt.connectAsync(s.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, username: 'edge-adapter', password: 'guess' }).then(async (c) => { await c.endAsync(true) }, (e: { code?: number }) => e.code)
  t.equal(wrong, 4, "the adapter's username with another password is refused")
  const right = await client(t, s.brokerUrl, { clientId: 'ops', username: 'edge-adapter', password: 'a-long-adapter-secret' })
  t.ok(right.connected, 'with the configured password it is the adapter')
})

t.test('start-up errors: a users file naming the adapter, an adapter username without a password', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'users'), `iotless-adapter:${await hashPassword('whatever-pw')}\n`)
  const { log } = memoryLog()
  const base = { metrics: { enabled: false }, prefetch: { enabled: false } }
  const e1 = await startStack({ config: configSchema.parse({ ...base, broker: { port: 0, usersFile: 'users' } }), baseDir: dir, log, env: {}, registry: new Registry() }).then((s) => s.stop(), (e: unknown) => e)
  t.ok(isIotlessError(e1, 'BROKER_USERS_INVALID'))
  t.match((e1 as Error).message, /iotless-adapter is the adapter's username/)
  const e2 = await startStack({ config: configSchema.parse({ ...base, broker: { port: 0, username: 'a' } }), baseDir: dir, log, env: {}, registry: new Registry() }).then((s) => s.stop(), (e: unknown) => e)
  t.ok(isIotlessError(e2, 'CONFIG_INVALID'))
  t.match((e2 as Error).message, /broker\.username: .*broker\.passwordEnv or broker\.passwordFile/)
})

t.test('config: beyond loopback without users is refused in the one validation pass, naming the fields', async (t) => {
  const problems = (raw: unknown): string[] => {
    const r = configSchema.safeParse(raw)
    return r.success ? [] : formatIssues(r.error.issues, () => [])
  }
  t.match(problems({ broker: { host: '0.0.0.0' } }), [/^broker\.allowAnonymous: the embedded broker would listen on 0\.0\.0\.0 \(broker\.host\).*broker\.usersFile.*broker\.allowAnonymous: true/])
  t.match(problems({ broker: { host: '127.0.0.1', tls: { host: '0.0.0.0', certFile: 'c', keyFile: 'k' } } }), [/broker\.tls\.host/])
  t.same(problems({ broker: { host: '0.0.0.0', usersFile: 'users' } }), [])
  t.same(problems({ broker: { host: '0.0.0.0', allowAnonymous: true } }), [])
  t.same(problems({ broker: { host: '0.0.0.0', url: 'mqtt://127.0.0.1:1883' } }), [], 'no embedded broker, nothing to check')
  t.same(problems({ broker: { host: 'localhost' } }), [])
  t.match(problems({ broker: { acl: [{ publish: ['devices/{user}/#', 'a/#/b'], subscribe: ['x/{username}x'] }] } }), [
    /^broker\.acl\[0\]\.publish\[0\]: .*\{username\} and \{clientId\}/,
    /^broker\.acl\[0\]\.publish\[1\]: a topic filter/,
    /^broker\.acl\[0\]\.subscribe\[0\]: /
  ])
  t.match(problems({ broker: { acl: [{ users: ['a/b'] }] } }), [/^broker\.acl\[0\]\.users\[0\]: a username/])
})

t.test('iotless up with host 0.0.0.0 and no users exits 2 and says what to set', async (t) => {
  const cfg = join(t.testdir(), 'iotless.yaml')
  writeFileSync(cfg, 'broker:\n  host: 0.0.0.0\n  port: 0\nmetrics:\n  enabled: false\n')
  const r = spawnSync(process.execPath, [cliPath, 'up', '-c', cfg], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 })
  t.equal(r.status, 2)
  t.match(r.stderr, 'CONFIG_INVALID')
  t.match(r.stderr, 'broker.allowAnonymous: the embedded broker would listen on 0.0.0.0')
})
