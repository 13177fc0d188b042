import t, { type Test } from 'tap'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type TLSSocket } from 'node:tls'
import { Aedes } from 'aedes'
import { resolve } from 'node:path'
import { configSchema } from '../../core/config/schema.js'
import { readBrokerSecurity } from '../../cli/brokerSecurity.js'
import { isIotlessError } from '../../core/errors.js'
import { MqttAdapter } from '../../adapters/ingress/mqttAdapter.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import { repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { ScriptedTarget } from './adapterSuite.js'

const tlsDir = resolve(repoRoot, 'test/fixtures/tls')
const PASSWORD = 's3cr3t-Pa55word-for-the-test'

/** aedes behind TLS that wants a client certificate from the test CA and the username/password above. */
async function tlsBroker (t: Test): Promise<{ url: string; clientCerts: string[] }> {
  const clientCerts: string[] = []
  const aedes = await Aedes.createBroker({
    authenticate (_client, username, password, callback) {
      callback(null, username === 'device-gw' && password?.toString() === PASSWORD)
    }
  })
  const server = createServer({
    cert: readFileSync(resolve(tlsDir, 'server.crt')),
    key: readFileSync(resolve(tlsDir, 'server.key')),
    ca: readFileSync(resolve(tlsDir, 'ca.crt')),
    requestCert: true,
    rejectUnauthorized: true
  }, (socket: TLSSocket) => {
    clientCerts.push(String(socket.getPeerCertificate().subject.CN ?? ''))
    aedes.handle(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `mqtts://127.0.0.1:${(server.address() as { port: number }).port}`, clientCerts }
}

function brokerConfig (over: Record<string, unknown>) {
  return configSchema.parse({ broker: { url: 'mqtts://x', ...over } }).broker
}

async function connect (t: Test, url: string, security: ReturnType<typeof readBrokerSecurity>): Promise<{ adapter: MqttAdapter; lines: Array<Record<string, unknown>>; error?: unknown }> {
  const { log, lines } = memoryLog('trace')
  const adapter = new MqttAdapter({
    url,
    clientId: `tls-${process.pid}-${Math.random().toString(16).slice(2)}`,
    protocol: '3.1.1',
    keepaliveSeconds: 30,
    connectTimeoutMs: 3000,
    sessionExpirySeconds: 60,
    maxInFlight: 16,
    routes: new RouteTable([]),
    targets: new Map([['local', new ScriptedTarget(() => ({ status: 'ok' }))]]),
    maxPayloadBytes: 1024,
    maxAttempts: 1,
    retryBaseMs: 1,
    deadLetterTopic: '',
    security,
    log
  })
  try {
    await adapter.start()
    t.teardown(() => adapter.stop(100))
    return { adapter, lines }
  } catch (error) {
    return { adapter, lines, error }
  }
}

t.test('mqtts with the CA, a client certificate, and the password from a file', async (t) => {
  const broker = await tlsBroker(t)
  const security = readBrokerSecurity(brokerConfig({ username: 'device-gw', passwordFile: 'password.txt', caFile: 'ca.crt', certFile: 'client.crt', keyFile: 'client.key' }), tlsDir, {})
  t.equal(security.password, PASSWORD, 'the password file is read, trailing newline trimmed')
  const { error, lines } = await connect(t, broker.url, security)
  t.equal(error, undefined, 'connected')
  t.same(broker.clientCerts, ['iotless-test-client', 'iotless-test-client'], 'the broker saw the client certificate, on both connections (ingress and replies)')
  t.notOk(JSON.stringify(lines).includes(PASSWORD), 'the password is in no log line')
})

t.test('the password from an environment variable; a wrong one is refused, and the error does not show it', async (t) => {
  const broker = await tlsBroker(t)
  const good = readBrokerSecurity(brokerConfig({ username: 'device-gw', passwordEnv: 'MQTT_PW', caFile: 'ca.crt', certFile: 'client.crt', keyFile: 'client.key' }), tlsDir, { MQTT_PW: PASSWORD })
  t.equal((await connect(t, broker.url, good)).error, undefined, 'connected')
  const wrongPw = 'wrong-password-value-123'
  const bad = readBrokerSecurity(brokerConfig({ username: 'device-gw', passwordEnv: 'MQTT_PW', caFile: 'ca.crt', certFile: 'client.crt', keyFile: 'client.key' }), tlsDir, { MQTT_PW: wrongPw })
  const r = await connect(t, broker.url, bad)
  t.ok(isIotlessError(r.error, 'BROKER_CONNECT_FAILED'), 'refused with BROKER_CONNECT_FAILED')
  t.notOk(String((r.error as Error).message).includes(wrongPw), 'the message does not include the password')
  t.notOk(JSON.stringify(r.lines).includes(wrongPw), 'nor does any log line')
})

t.test('a broker certificate from another CA is refused', async (t) => {
  const broker = await tlsBroker(t)
  const security = readBrokerSecurity(brokerConfig({ caFile: 'untrusted.crt', certFile: 'client.crt', keyFile: 'client.key' }), tlsDir, {})
  const r = await connect(t, broker.url, security)
  t.ok(isIotlessError(r.error, 'BROKER_CONNECT_FAILED'), 'not connected')
})

t.test('missing secrets and files are config errors naming the field, never the value', async (t) => {
  t.throws(() => readBrokerSecurity(brokerConfig({ passwordEnv: 'NOPE' }), tlsDir, {}), /broker\.passwordEnv: the environment variable NOPE is not set/)
  t.throws(() => readBrokerSecurity(brokerConfig({ caFile: 'missing.crt' }), tlsDir, {}), /broker\.caFile: cannot read .*missing\.crt: ENOENT/)
})
