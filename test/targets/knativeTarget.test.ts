// KnativeTarget against real HTTP/HTTPS servers on port 0. The receiving side reads the event with the
// official cloudevents SDK, as a Knative Service written with it would.
import t from 'tap'
import { CloudEvent, HTTP } from 'cloudevents'
import { KnativeTarget } from '../../adapters/targets/knativeTarget.js'
import { decodeHeaderValue, type CloudEventAttributes } from '../../core/cloudEventHttp.js'
import type { OutgoingEvent } from '../../adapters/target.js'
import { closedPort, httpReceiver, tlsFixture } from '../helpers/httpReceiver.js'

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

function event (attrs: Partial<CloudEventAttributes> = {}, data: Buffer = Buffer.from('{"temp":21.5}')): OutgoingEvent {
  return {
    attributes: {
      specversion: '1.0',
      id: 'mqtt-1-42',
      source: 'mqtt://127.0.0.1:1883/iotless-test',
      type: 'io.iotless.reading',
      time: '2026-11-23T12:00:00.000Z',
      datacontenttype: 'application/json',
      ...attrs
    },
    data
  }
}

t.test('sends a binary-mode CloudEvent the cloudevents SDK reads; encoded values round-trip', async (t) => {
  const rx = await httpReceiver()
  // traceContext both: the cloudevents SDK reads the trace context only from the extension (ce-traceparent).
  const target = new KnativeTarget({ url: `${rx.url}/fn/{function}`, traceContext: 'both' })
  t.teardown(async () => { await target.close(); await rx.close() })
  const subject = 'capteurs/Salle Épée/温度 😀'
  const note = 'say "hi" at 100% now'
  const result = await target.dispatch('temperature', event({ subject, note, traceparent: TRACEPARENT, tracestate: 'vendor=a b' }))
  t.same(result, { status: 'ok' })
  t.equal(rx.received.length, 1)
  const req = rx.received[0]!
  t.equal(req.method, 'POST')
  t.equal(req.url, '/fn/temperature', '{function} replaced by the function name')
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('ce-')) t.match(String(value), /^[\x21-\x7e]*$/, `${name} is printable ASCII on the wire`)
  }
  t.equal(req.headers.traceparent, TRACEPARENT, 'traceparent attribute also sent as the W3C header')
  t.equal(req.headers.tracestate, 'vendor=a b', 'tracestate too, raw')
  const ev = HTTP.toEvent({ headers: req.headers, body: req.body.toString('utf8') }) as CloudEvent<unknown>
  t.notOk(Array.isArray(ev))
  t.equal(ev.specversion, '1.0')
  t.equal(ev.id, 'mqtt-1-42')
  t.equal(ev.source, 'mqtt://127.0.0.1:1883/iotless-test')
  t.equal(ev.type, 'io.iotless.reading')
  t.equal(ev.time, '2026-11-23T12:00:00.000Z')
  t.equal(ev.datacontenttype, 'application/json')
  t.same(ev.data, { temp: 21.5 })
  // The SDK (v10) does not percent-decode header values; the binding requires them encoded, so a
  // receiver decodes them, and what it gets back is exactly what was sent.
  t.equal(ev.subject, 'capteurs/Salle%20%C3%89p%C3%A9e/%E6%B8%A9%E5%BA%A6%20%F0%9F%98%80')
  t.equal(decodeHeaderValue(ev.subject as string), subject)
  t.equal(decodeHeaderValue(ev.note as string), note)
  t.equal(ev.note, 'say%20%22hi%22%20at%20100%25%20now')
  t.equal(ev.traceparent, TRACEPARENT)
})

t.test('binary data goes as the body, byte for byte', async (t) => {
  const rx = await httpReceiver()
  const target = new KnativeTarget({ url: rx.url })
  t.teardown(async () => { await target.close(); await rx.close() })
  const data = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13])
  t.same(await target.dispatch('any', event({ datacontenttype: 'application/octet-stream' }, data)), { status: 'ok' })
  t.same(rx.received[0]!.body, data)
  t.equal(rx.received[0]!.headers['content-type'], 'application/octet-stream')
  t.equal(rx.received[0]!.url, '/', 'no {function}: the URL as given')
})

t.test('responses: a 2xx body is the reply; 202, 204 and empty bodies are not', async (t) => {
  const rx = await httpReceiver()
  const target = new KnativeTarget({ url: `${rx.url}/{function}` })
  t.teardown(async () => { await target.close(); await rx.close() })

  rx.setHandler((_req, res) => { res.writeHead(200, { 'content-type': 'application/json', traceparent: TRACEPARENT }).end('{"alert":true}') })
  t.same(await target.dispatch('f', event()), {
    status: 'ok', reply: { data: Buffer.from('{"alert":true}'), contentType: 'application/json', traceparent: TRACEPARENT }
  })

  rx.setHandler((_req, res) => { res.writeHead(200).end('plain') })
  const noType = await target.dispatch('f', event())
  t.same(noType, { status: 'ok', reply: { data: Buffer.from('plain'), contentType: 'application/octet-stream' } }, 'no content-type: octet-stream')

  // A reply that is itself a binary-mode CloudEvent (what a Knative function built with the SDK answers).
  const replyEvent = new CloudEvent({ id: 'r-1', source: '/fn/alerts', type: 'io.iotless.alert', subject: 'room-7', datacontenttype: 'text/plain; charset=utf-8', data: 'too hot', traceparent: TRACEPARENT })
  const msg = HTTP.binary(replyEvent)
  rx.setHandler((_req, res) => { res.writeHead(201, msg.headers as Record<string, string>).end(msg.body as string) })
  const ce = await target.dispatch('f', event())
  t.equal(ce.status, 'ok')
  if (ce.status === 'ok') {
    t.equal(ce.reply?.contentType, 'text/plain; charset=utf-8', 'its content type is kept')
    t.equal(ce.reply?.data.toString(), 'too hot')
    t.match(ce.reply?.attributes, { specversion: '1.0', id: 'r-1', source: '/fn/alerts', type: 'io.iotless.alert', subject: 'room-7', datacontenttype: 'text/plain; charset=utf-8' })
    t.equal(ce.reply?.traceparent, TRACEPARENT, 'ce-traceparent when there is no traceparent header')
  }

  for (const [status, body] of [[202, 'accepted, working on it'], [204, ''], [200, '']] as const) {
    rx.setHandler((_req, res) => { res.writeHead(status, { 'content-type': 'text/plain' }).end(body) })
    t.same(await target.dispatch('f', event()), { status: 'ok' }, `${status} ${JSON.stringify(body)}: ok, no reply`)
  }
})

t.test('error statuses: rejected with httpStatus, retryable as Knative Eventing, Retry-After read', async (t) => {
  const rx = await httpReceiver()
  const target = new KnativeTarget({ url: rx.url })
  t.teardown(async () => { await target.close(); await rx.close() })
  const table: Array<[number, boolean, Record<string, string>, number | undefined]> = [
    [301, false, { location: '/elsewhere' }, undefined],
    [400, false, {}, undefined],
    [403, false, {}, undefined],
    [404, true, {}, undefined],
    [408, true, {}, undefined],
    [409, true, {}, undefined],
    [413, false, {}, undefined],
    [429, true, { 'retry-after': '7' }, 7000],
    [500, true, {}, undefined],
    [503, true, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }, 60_000]
  ]
  for (const [status, retryable, headers, retryAfterMs] of table) {
    rx.setHandler((_req, res) => { res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`status ${status}\nsecond line`) })
    const r = await target.dispatch('f', event())
    t.equal(r.status, 'rejected', String(status))
    if (r.status !== 'rejected') continue
    t.equal(r.code, 'TARGET_HTTP_STATUS')
    t.equal(r.httpStatus, status)
    t.equal(r.retryable, retryable, `${status} retryable=${retryable}`)
    t.match(r.message, new RegExp(`answered ${status}: status ${status} second line$`), 'status and the start of the body, one line')
    if (retryAfterMs === undefined) t.equal(r.retryAfterMs, undefined)
    else t.ok(r.retryAfterMs !== undefined && r.retryAfterMs <= retryAfterMs && r.retryAfterMs > retryAfterMs - 2000, `Retry-After ${r.retryAfterMs} ms`)
  }
  t.equal(rx.received.length, table.length, 'one request each: the target itself never retries')
})

t.test('keep-alive: one pooled connection for sequential events', async (t) => {
  const rx = await httpReceiver()
  const target = new KnativeTarget({ url: rx.url, connections: 4 })
  t.teardown(async () => { await target.close(); await rx.close() })
  // undici may open a second socket while the first one is being released; after that, none.
  for (let i = 0; i < 5; i++) t.equal((await target.dispatch('f', event({ id: `w${i}` }))).status, 'ok')
  const warm = rx.connections()
  t.ok(warm <= 2, `warm-up used ${warm} connection(s)`)
  for (let i = 0; i < 20; i++) t.equal((await target.dispatch('f', event({ id: `e${i}` }))).status, 'ok')
  t.equal(rx.connections(), warm, '20 more sequential events open no new connection')
  await Promise.all(Array.from({ length: 16 }, (_, i) => target.dispatch('f', event({ id: `p${i}` }))))
  t.ok(rx.connections() <= 4, `at most connections=4 sockets (${rx.connections()})`)
  t.equal(rx.received.length, 41)
})

t.test('a target that does not answer in time: TARGET_TIMEOUT, retryable', async (t) => {
  const rx = await httpReceiver(() => { /* never answers */ })
  t.teardown(() => rx.close())
  const headers = new KnativeTarget({ url: rx.url, headersTimeoutMs: 150 })
  const r1 = await headers.dispatch('f', event())
  t.match(r1, { status: 'rejected', code: 'TARGET_TIMEOUT', retryable: true })
  await headers.close()
  const overall = new KnativeTarget({ url: rx.url, timeoutMs: 150 })
  const r2 = await overall.dispatch('f', event())
  t.match(r2, { status: 'rejected', code: 'TARGET_TIMEOUT', retryable: true, message: /150 ms/ })
  await overall.close()
  // A body that stops half-way.
  rx.setHandler((_req, res) => { res.writeHead(200, { 'content-length': '100' }); res.write('partial') })
  const body = new KnativeTarget({ url: rx.url, bodyTimeoutMs: 150 })
  t.match(await body.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TIMEOUT', retryable: true })
  await body.close()
})

t.test('connection refused: TARGET_UNREACHABLE, retryable, no httpStatus', async (t) => {
  const port = await closedPort()
  const target = new KnativeTarget({ url: `http://127.0.0.1:${port}/{function}` })
  t.teardown(() => target.close())
  const r = await target.dispatch('f', event())
  t.match(r, { status: 'rejected', code: 'TARGET_UNREACHABLE', retryable: true, message: /ECONNREFUSED/ })
  t.notOk('httpStatus' in r)
})

t.test('the caller signal aborts the request: TARGET_ABORTED', async (t) => {
  const rx = await httpReceiver(() => { /* hangs */ })
  const target = new KnativeTarget({ url: rx.url, timeoutMs: 10_000 })
  t.teardown(async () => { await target.close(); await rx.close() })
  const ac = new AbortController()
  const pending = target.dispatch('f', event(), { signal: ac.signal })
  while (rx.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  ac.abort(new Error('shutting down'))
  t.match(await pending, { status: 'rejected', code: 'TARGET_ABORTED', retryable: true })
  t.match(await target.dispatch('f', event(), { signal: AbortSignal.abort() }), { status: 'rejected', code: 'TARGET_ABORTED' }, 'already aborted')
  t.equal(rx.received.length, 1, 'an aborted signal sends nothing')
})

t.test('https: trusts the given CA, refuses an unknown one', async (t) => {
  const good = await httpReceiver((_req, res) => { res.end() }, { key: tlsFixture('server.key'), cert: tlsFixture('server.crt') })
  const bad = await httpReceiver((_req, res) => { res.end() }, { key: tlsFixture('untrusted.key'), cert: tlsFixture('untrusted.crt') })
  const withCa = new KnativeTarget({ url: good.url, ca: tlsFixture('ca.crt') })
  const withoutCa = new KnativeTarget({ url: good.url })
  const wrongServer = new KnativeTarget({ url: bad.url, ca: tlsFixture('ca.crt') })
  t.teardown(async () => { await Promise.all([withCa.close(), withoutCa.close(), wrongServer.close(), good.close(), bad.close()]) })
  t.same(await withCa.dispatch('f', event()), { status: 'ok' })
  t.match(await withoutCa.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TLS', retryable: true })
  t.match(await wrongServer.dispatch('f', event()), { status: 'rejected', code: 'TARGET_TLS', retryable: true, message: /SELF_SIGNED|self.signed/i })
  t.equal(good.received.length, 1)
  t.equal(bad.received.length, 0)
})

t.test('URLs: checked at construction; a function name that makes a bad URL is rejected, not thrown', async (t) => {
  for (const url of ['not a url', 'ftp://x/{function}', '/relative/{function}']) {
    t.throws(() => new KnativeTarget({ url }), { name: 'IotlessError', code: 'TARGET_URL_INVALID' }, url)
  }
  const hostForm = new KnativeTarget({ url: 'http://{function}.default.svc.cluster.local' })
  t.match(await hostForm.dispatch('bad name', event()), { status: 'rejected', code: 'TARGET_URL_INVALID', retryable: false })
  await hostForm.close()
})

t.test('an event that is not a legal HTTP request: TARGET_REQUEST_INVALID, not retryable', async (t) => {
  const rx = await httpReceiver()
  const target = new KnativeTarget({ url: rx.url })
  t.teardown(async () => { await target.close(); await rx.close() })
  t.match(await target.dispatch('f', event({ datacontenttype: 'text/plain\r\nx-injected: 1' })), { status: 'rejected', code: 'TARGET_REQUEST_INVALID', retryable: false })
  t.equal(rx.received.length, 0)
})

t.test('after close(): POOL_CLOSED, nothing sent', async (t) => {
  const rx = await httpReceiver()
  t.teardown(() => rx.close())
  const target = new KnativeTarget({ url: rx.url })
  t.equal((await target.dispatch('f', event())).status, 'ok')
  await target.close()
  t.match(await target.dispatch('f', event()), { status: 'rejected', code: 'POOL_CLOSED', retryable: false })
  t.equal(rx.received.length, 1)
})
