import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../../adapters/broker/embeddedBroker.js'
import { hashPassword } from '../../adapters/broker/passwordHash.js'
import { isIotlessError } from '../../core/errors.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

const ADAPTER = { username: 'iotless-adapter', password: 'adapter-secret-0123456789' }

async function secureBroker (t: Test, over: Partial<EmbeddedBrokerOptions> = {}): Promise<{ broker: EmbeddedBroker; lines: Array<Record<string, unknown>> }> {
  const { log, lines } = memoryLog()
  const users = new Map([['s1', await hashPassword('s1-password')], ['s2', await hashPassword('s2-password')]])
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    log,
    auth: { users, adapter: ADAPTER },
    acl: {
      rules: [{ users: ['*'], publish: ['devices/{username}/#'], subscribe: ['devices/{username}/#'] }],
      adapterOnly: ['devices/+/alert', 'iotless/dead-letter'],
      adapterClientId: 'iotless-adapter',
      bindClientIdToUser: true
    },
    ...over
  })
  t.teardown(() => broker.close())
  return { broker, lines }
}

async function connect (t: Test, url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  t.teardown(() => c.endAsync(true))
  return c
}

async function refusedCode (url: string, opts: IClientOptions): Promise<number | string | undefined> {
  try {
    const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    await c.endAsync(true)
    return undefined
  } catch (err) {
    return (err as { code?: number | string }).code
  }
}

function closed (c: MqttClient): Promise<void> {
  return new Promise((resolve) => { if (!c.connected) resolve(); else c.once('close', () => resolve()) })
}

const adapterOpts: IClientOptions = { clientId: 'iotless-adapter', username: ADAPTER.username, password: ADAPTER.password, clean: false }
const s1: IClientOptions = { clientId: 's1', username: 's1', password: 's1-password' }

t.test('with users: anonymous, unknown users and wrong passwords are refused; devices and the adapter get in', async (t) => {
  const { broker } = await secureBroker(t)
  t.equal(await refusedCode(broker.url, {}), 5, 'anonymous: not authorized')
  t.equal(await refusedCode(broker.url, { clientId: 's1', username: 's1', password: 'wrong' }), 4, 'wrong password')
  t.equal(await refusedCode(broker.url, { clientId: 'nobody', username: 'nobody', password: 's1-password' }), 4, 'unknown user')
  t.equal(await refusedCode(broker.url, { ...adapterOpts, password: 'guess' }), 4, "the adapter's username with a wrong password")
  t.equal(await refusedCode(broker.url, s1), undefined, 'a device with its password')
  t.equal(await refusedCode(broker.url, adapterOpts), undefined, 'the adapter')
})

t.test("nobody takes the adapter's client id, nor another device's", async (t) => {
  const { broker } = await secureBroker(t)
  const adapter = await connect(t, broker.url, adapterOpts)
  t.equal(await refusedCode(broker.url, { ...s1, clientId: 'iotless-adapter' }), 2, "a device with the adapter's client id: identifier rejected")
  t.equal(await refusedCode(broker.url, { ...s1, clientId: 's2' }), 2, "a device with another device's client id")
  t.equal(await refusedCode(broker.url, { ...s1, clientId: 's1:second' }), undefined, 'its own username and a suffix')
  t.ok(adapter.connected, 'the adapter kept its session and connection')
})

t.test('a device cannot read #, nor publish under another prefix, nor fake alerts and dead letters', async (t) => {
  const { broker, lines } = await secureBroker(t)
  const adapter = await connect(t, broker.url, adapterOpts)
  const seen: string[] = []
  adapter.on('message', (topic) => seen.push(topic))
  await adapter.subscribeAsync('#', { qos: 1 })

  const spy = await connect(t, broker.url, s1)
  const spied: string[] = []
  spy.on('message', (topic) => spied.push(topic))
  // mqtt.js rejects a SUBACK holding a refusal; the codes are on the error's packet.
  const suback = await spy.subscribeAsync(['#', 'devices/s2/#', 'devices/+/alert', 'devices/s1/#'], { qos: 1 }).then(() => undefined, (err: { packet?: { granted?: number[] } }) => err.packet?.granted)
  t.same(suback, [128, 128, 128, 1], 'SUBACK refuses #, another prefix and every alert; its own prefix granted')

  const s2 = await connect(t, broker.url, { clientId: 's2', username: 's2', password: 's2-password' })
  await s2.publishAsync('devices/s2/reading', 'from s2', { qos: 1 })
  await adapter.publishAsync('devices/s2/alert', 'alert for s2', { qos: 1 })
  await adapter.publishAsync('devices/s1/alert', 'alert for s1', { qos: 1 })
  await waitFor('the adapter sees s2 and both alerts', () => seen.length >= 3)
  await waitFor('s1 gets its own alert', () => spied.includes('devices/s1/alert'))
  t.same(spied, ['devices/s1/alert'], 's1 read nothing of s2')

  for (const topic of ['devices/s2/reading', 'devices/s1/alert', 'iotless/dead-letter', '$SYS/fake']) {
    const c = await connect(t, broker.url, { ...s1, clientId: `s1:${topic.length}${Math.random()}` })
    c.publish(topic, 'fake', { qos: 1 })
    await closed(c)
    t.pass(`publishing to ${topic} closes the device's connection (MQTT 3.1.1 has no negative PUBACK [MQTT-3.3.5-2])`)
  }
  await s2.publishAsync('devices/s2/reading', 'after', { qos: 1 })
  await waitFor('the adapter still receives', () => seen.filter((x) => x === 'devices/s2/reading').length === 2)
  t.notOk(seen.some((x) => x === 'iotless/dead-letter' || x === '$SYS/fake'), 'no fake dead letter reached a subscriber')
  t.equal(seen.filter((x) => x === 'devices/s1/alert').length, 1, 'only the real alert')
  t.ok(lines.some((l) => l.msg === 'mqtt publish refused' && l.username === 's1'), 'refusals are logged with the username')
  t.notOk(JSON.stringify(lines).includes('s1-password'), 'no password in the log')
})

t.test('a device publishes under its prefix and the adapter receives it', async (t) => {
  const { broker } = await secureBroker(t)
  const adapter = await connect(t, broker.url, adapterOpts)
  const got: string[] = []
  adapter.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
  await adapter.subscribeAsync('devices/+/reading', { qos: 1 })
  const dev = await connect(t, broker.url, s1)
  await dev.publishAsync('devices/s1/reading', '21.5', { qos: 1 })
  await waitFor('delivery', () => got.length === 1)
  t.same(got, ['devices/s1/reading=21.5'])
})

t.test('beyond loopback without users the broker refuses to start, naming the settings', async (t) => {
  const { log } = memoryLog()
  for (const opts of [{ host: '0.0.0.0' }, { host: '127.0.0.1', tls: { host: '::', port: 0, cert: Buffer.alloc(0), key: Buffer.alloc(0) } }]) {
    const err = await startEmbeddedBroker({ port: 0, log, ...opts }).then((b) => b.close(), (e: unknown) => e)
    t.ok(isIotlessError(err, 'BROKER_AUTH_REQUIRED'), `refused: ${JSON.stringify(opts).slice(0, 40)}`)
    t.match((err as Error).message, /broker\.usersFile/)
    t.match((err as Error).message, /broker\.allowAnonymous: true/)
  }
  const open = await startEmbeddedBroker({ host: '0.0.0.0', port: 0, log, auth: { users: new Map(), allowAnonymous: true } })
  t.ok(open.port > 0, 'allowAnonymous: true starts it on purpose')
  await open.close()
})

t.test('on loopback without users, anonymous clients connect; allowAnonymous: false refuses them', async (t) => {
  const { log } = memoryLog()
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log, auth: { users: new Map(), adapter: ADAPTER }, acl: { adapterOnly: [], adapterClientId: 'iotless-adapter', bindClientIdToUser: true } })
  t.teardown(() => b.close())
  t.equal(await refusedCode(b.url, {}), undefined)
  t.equal(await refusedCode(b.url, { clientId: 'iotless-adapter' }), 2, "still nobody else with the adapter's client id")
  const closedB = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log, auth: { users: new Map(), allowAnonymous: false } })
  t.teardown(() => closedB.close())
  t.equal(await refusedCode(closedB.url, {}), 5)
})

function openssl (dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

t.test('the TLS listener serves mqtts with a certificate made for this test; a client CA makes client certificates required', async (t) => {
  const dir = t.testdir()
  // A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made at test time.
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=iotless test CA'])
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext'], { cwd: dir, stdio: 'ignore' })
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=s1'])
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1'])
  const f = (name: string): Buffer => readFileSync(join(dir, name))

  const { broker } = await secureBroker(t, { tls: { host: '127.0.0.1', port: 0, cert: f('server.pem'), key: f('server.key') } })
  t.ok(broker.tlsPort !== undefined && broker.tlsPort > 0)
  const url = `mqtts://127.0.0.1:${broker.tlsPort ?? 0}`
  const dev = await connect(t, url, { ...s1, ca: f('ca.pem') })
  await dev.subscribeAsync('devices/s1/#', { qos: 1 })
  const got: string[] = []
  dev.on('message', (topic) => got.push(topic))
  await dev.publishAsync('devices/s1/reading', 'over tls', { qos: 1 })
  await waitFor('round trip over TLS', () => got.length === 1)
  t.pass('publish and subscribe over mqtts')
  t.not(await refusedCode(url, { ...s1, clientId: 's1:untrusting' }), undefined, 'a client that does not trust the CA refuses the broker')
  t.equal(await refusedCode(url, { ...s1, clientId: 's1:wrongpw', password: 'nope', ca: f('ca.pem') }), 4, 'users apply on TLS too')

  const mtls = await secureBroker(t, { tls: { host: '127.0.0.1', port: 0, cert: f('server.pem'), key: f('server.key'), clientCa: f('ca.pem') } })
  const mUrl = `mqtts://127.0.0.1:${mtls.broker.tlsPort ?? 0}`
  t.not(await refusedCode(mUrl, { ...s1, ca: f('ca.pem') }), undefined, 'no client certificate: refused')
  t.equal(await refusedCode(mUrl, { ...s1, ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') }), undefined, 'with one the CA signed: in')
})

t.test('a packet over maxPacketBytes closes that connection before it is buffered; others keep going', async (t) => {
  const { broker, lines } = await secureBroker(t, { maxPacketBytes: 64 * 1024 })
  const adapter = await connect(t, broker.url, adapterOpts)
  const got: string[] = []
  adapter.on('message', (topic) => got.push(topic))
  await adapter.subscribeAsync('devices/+/reading', { qos: 1 })

  // A raw client that claims a 200 MB PUBLISH and streams zeros at it, as fast as the socket takes them.
  const sock = new Socket()
  await new Promise<void>((resolve) => sock.connect(broker.port, '127.0.0.1', resolve))
  sock.on('error', () => {})
  sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 's1', username: 's1', password: Buffer.from('s1-password'), clean: true, keepalive: 30 }))
  await new Promise((resolve) => setTimeout(resolve, 300)) // the password check (scrypt) and the CONNACK
  const claimed = 200 * 1024 * 1024
  const header = mqttPacket.generate({ cmd: 'publish', topic: 'devices/s1/reading', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false })
  const head = Buffer.concat([Buffer.from([0x30]), encodeLength(2 + 'devices/s1/reading'.length + claimed), header.subarray(2)])
  const rssBefore = process.memoryUsage().rss
  const chunk = Buffer.alloc(1024 * 1024)
  let sent = 0
  let isClosed = false
  sock.once('close', () => { isClosed = true })
  sock.write(head)
  while (!isClosed && sent < claimed) {
    sent += chunk.length
    if (!sock.write(chunk)) await new Promise((resolve) => { sock.once('drain', resolve); sock.once('close', resolve) })
  }
  t.ok(isClosed, 'the broker closed the connection')
  t.ok(sent < 32 * 1024 * 1024, `after ${Math.round(sent / 1024 / 1024)} MiB of the 200 MiB claimed (what the kernel buffers took before it saw the close)`)
  const grewMiB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024
  t.ok(grewMiB < 64, `broker RSS grew ${grewMiB.toFixed(1)} MiB, not by the packet`)
  t.ok(lines.some((l) => l.msg?.toString().includes('maxPacketBytes') === true && l.packetBytes !== undefined), 'logged with the declared size')

  const dev = await connect(t, broker.url, s1)
  await dev.publishAsync('devices/s1/reading', Buffer.alloc(60 * 1024), { qos: 1 })
  await waitFor('a packet under the cap still goes through', () => got.length === 1)
  t.ok(adapter.connected, 'the adapter kept its connection')

  // The cap is for devices: a reply as big as its function made it still goes out.
  const replies: number[] = []
  dev.on('message', (_topic, payload) => replies.push(payload.length))
  await dev.subscribeAsync('devices/s1/alert', { qos: 1 })
  await adapter.publishAsync('devices/s1/alert', Buffer.alloc(1024 * 1024), { qos: 1 })
  await waitFor('the big reply', () => replies.length === 1)
  t.same(replies, [1024 * 1024], "the adapter's 1 MiB publish passed a 64 KiB device cap")
  t.ok(adapter.connected)
})

t.test('a PUBLISH topic that is not UTF-8 closes that connection; nobody receives a U+FFFD topic', async (t) => {
  const { log } = memoryLog()
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log })
  t.teardown(() => b.close())
  const sub = await connect(t, b.url, {})
  const got: string[] = []
  sub.on('message', (topic) => got.push(topic))
  await sub.subscribeAsync('#', { qos: 0 })
  const sock = new Socket()
  await new Promise<void>((resolve) => sock.connect(b.port, '127.0.0.1', resolve))
  sock.on('error', () => {})
  const isClosed = new Promise<void>((resolve) => sock.once('close', () => resolve()))
  const pkt = mqttPacket.generate({ cmd: 'publish', topic: 'devices/é', payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
  pkt[pkt.indexOf(Buffer.from('é'))] = 0xa9 // a lone continuation byte
  sock.write(Buffer.concat([mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'raw', clean: true, keepalive: 30 }), pkt]))
  await isClosed
  await sub.publishAsync('devices/ok', 'y', { qos: 1 })
  await waitFor('the next message', () => got.includes('devices/ok'))
  t.same(got, ['devices/ok'], 'the ill-formed topic reached nobody')
})

function encodeLength (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

t.test('every accepted socket gets TCP_NODELAY', async (t) => {
  const { log } = memoryLog()
  const original = Socket.prototype.setNoDelay
  const calls: boolean[] = []
  Socket.prototype.setNoDelay = function (this: Socket, noDelay?: boolean) { calls.push(noDelay ?? true); return original.call(this, noDelay) }
  t.teardown(() => { Socket.prototype.setNoDelay = original })
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log })
  t.teardown(() => b.close())
  const c = await connect(t, b.url, {})
  t.ok(c.connected)
  t.ok(calls.includes(true), 'setNoDelay(true) on the accepted socket')
  const without = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log, noDelay: false })
  t.teardown(() => without.close())
  calls.length = 0
  await connect(t, without.url, {})
  t.notOk(calls.includes(true), 'the spy sees only what the broker does (noDelay: false sets none)')
})

t.test('failed logins in a row lock the address out before any password check; the adapter is exempt', async (t) => {
  const { broker, lines } = await secureBroker(t, { loginLimits: { concurrentChecks: 1, queuedChecks: 256, failuresBeforeLockout: 3, lockoutMaxMs: 60_000 } })
  for (let i = 0; i < 3; i++) t.equal(await refusedCode(broker.url, { ...s1, password: `guess-${i}` }), 4, `wrong password ${i + 1}: bad username or password`)
  t.equal(await refusedCode(broker.url, s1), 3, 'then even the right password is refused for now (server unavailable)')
  t.ok(lines.some((l) => l.lockoutMs === 1000 && l.username === 's1'), 'the lockout is logged with its length')
  t.equal(await refusedCode(broker.url, adapterOpts), undefined, 'the adapter, on the same address, still gets in')
  await waitFor('the lockout to end', async () => await refusedCode(broker.url, s1) === undefined, 10_000, 200)
  t.equal(await refusedCode(broker.url, { ...s1, password: 'guess-again' }), 4, 'a good login reset the count: one more failure is not a lockout')
})

t.test('password checks past the queue are refused at once, without a derivation', async (t) => {
  const { broker, lines } = await secureBroker(t, { loginLimits: { concurrentChecks: 1, queuedChecks: 0, failuresBeforeLockout: 1000, lockoutMaxMs: 60_000 } })
  const codes = await Promise.all(Array.from({ length: 8 }, async (_, i) => await refusedCode(broker.url, { ...s1, clientId: `s1:${i}`, password: `guess-${i}` })))
  t.ok(codes.includes(4), `one was checked (${codes.join(', ')})`)
  t.ok(codes.includes(3), 'those that found the one slot taken were refused as server unavailable')
  t.ok(codes.every((c) => c === 3 || c === 4), 'no other outcome')
  t.equal(lines.filter((l) => /too many password checks waiting/.test(String(l.msg))).length, 1, 'logged once')
  t.equal(await refusedCode(broker.url, s1), undefined, 'a device still gets in once the flood is over')
})
