// SinkTarget as Knative Eventing's SinkBinding / ContainerSource would run it: options from the injected
// environment (parseSinkEnv), a real HTTP(S) sink on port 0, the event read with the cloudevents SDK.
import t from 'tap'
import { CloudEvent, HTTP } from 'cloudevents'
import { parseSinkEnv } from '../../adapters/targets/sinkEnv.js'
import { SinkTarget } from '../../adapters/targets/sinkTarget.js'
import type { OutgoingEvent } from '../../adapters/target.js'
import { httpReceiver, tlsFixture } from '../helpers/httpReceiver.js'

function event (): OutgoingEvent {
  return {
    attributes: { specversion: '1.0', id: 'm-7', source: 'mqtt://broker/adapter-1', type: 'io.iotless.reading', subject: 'site/1/temp', datacontenttype: 'text/plain', region: 'from-device' },
    data: Buffer.from('21.5')
  }
}

t.test('every function goes to K_SINK, with K_CE_OVERRIDES applied and the function name as an extension', async (t) => {
  const rx = await httpReceiver((_req, res) => { res.writeHead(202).end() })
  const target = new SinkTarget({ ...parseSinkEnv({ K_SINK: `${rx.url}/ns/default/broker`, K_CE_OVERRIDES: '{"extensions":{"region":"eu-west","tenant":"acme"}}' }) })
  t.teardown(async () => { await target.close(); await rx.close() })
  const original = event()
  t.same(await target.dispatch('temperature', original), { status: 'ok' })
  t.same(await target.dispatch('humidity', original), { status: 'ok' })
  t.same(rx.received.map((r) => r.url), ['/ns/default/broker', '/ns/default/broker'], 'one URL whatever the function')
  const [a, b] = rx.received.map((r) => HTTP.toEvent({ headers: r.headers, body: r.body.toString() }) as CloudEvent<unknown>)
  t.equal(a?.id, 'm-7')
  t.equal(a?.subject, 'site/1/temp')
  t.equal(a?.data, '21.5')
  t.equal(a?.region, 'eu-west', 'an override replaces the same extension from the event')
  t.equal(a?.tenant, 'acme')
  t.equal(a?.iotlessfunction, 'temperature')
  t.equal(b?.iotlessfunction, 'humidity')
  t.equal(original.attributes.region, 'from-device', "the caller's event is not changed")
  t.notOk('iotlessfunction' in original.attributes)
})

t.test('functionExtension: renamed, or off; a bad name is refused', async (t) => {
  const rx = await httpReceiver()
  t.teardown(() => rx.close())
  const renamed = new SinkTarget({ url: rx.url, functionExtension: 'route' })
  const off = new SinkTarget({ url: rx.url, functionExtension: false })
  await renamed.dispatch('f1', event())
  await off.dispatch('f2', event())
  await Promise.all([renamed.close(), off.close()])
  t.equal(rx.received[0]?.headers['ce-route'], 'f1')
  t.notOk('ce-iotlessfunction' in (rx.received[0]?.headers ?? {}))
  t.notOk('ce-iotlessfunction' in (rx.received[1]?.headers ?? {}))
  t.equal(rx.received[1]?.headers['ce-region'], 'from-device')
  t.throws(() => new SinkTarget({ url: rx.url, functionExtension: 'Bad-Name' }), { code: 'CONFIG_INVALID' })
  t.throws(() => new SinkTarget({ url: 'mqtt://x' }), { code: 'TARGET_URL_INVALID' })
})

t.test('K_CA_CERTS is trusted for an https sink; without it, or for another cert, TLS fails', async (t) => {
  const sink = await httpReceiver((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":1}') }, { key: tlsFixture('server.key'), cert: tlsFixture('server.crt') })
  const other = await httpReceiver(undefined, { key: tlsFixture('untrusted.key'), cert: tlsFixture('untrusted.crt') })
  const trusted = new SinkTarget(parseSinkEnv({ K_SINK: sink.url, K_CA_CERTS: tlsFixture('ca.crt'), K_CE_OVERRIDES: '' }))
  const plain = new SinkTarget(parseSinkEnv({ K_SINK: sink.url }))
  const wrong = new SinkTarget(parseSinkEnv({ K_SINK: other.url, K_CA_CERTS: tlsFixture('ca.crt') }))
  t.teardown(async () => { await Promise.all([trusted.close(), plain.close(), wrong.close(), sink.close(), other.close()]) })
  t.same(await trusted.dispatch('f', event()), { status: 'ok', reply: { data: Buffer.from('{"ok":1}'), contentType: 'application/json' } })
  t.match(await plain.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TLS', retryable: true })
  t.match(await wrong.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TLS', retryable: true })
  t.equal(sink.received.length, 1)
})

t.test('K_SINK_TIMEOUT bounds the whole request; errors are retryable as in Knative', async (t) => {
  const rx = await httpReceiver(() => { /* never answers */ })
  const target = new SinkTarget(parseSinkEnv({ K_SINK: rx.url, K_SINK_TIMEOUT: '1' }))
  t.teardown(async () => { await target.close(); await rx.close() })
  t.match(await target.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TIMEOUT', retryable: true, message: /1000 ms/ })
  rx.setHandler((_req, res) => { res.writeHead(400).end('bad event') })
  t.match(await target.dispatch('f', event()), { status: 'rejected', code: 'TARGET_HTTP_STATUS', httpStatus: 400, retryable: false })
  rx.setHandler((_req, res) => { res.writeHead(429, { 'retry-after': '3' }).end() })
  t.match(await target.dispatch('f', event()), { status: 'rejected', code: 'TARGET_HTTP_STATUS', httpStatus: 429, retryable: true, retryAfterMs: 3000 })
})
