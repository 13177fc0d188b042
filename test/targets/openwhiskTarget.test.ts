// OpenWhiskTarget, through the real `openwhisk` npm client, against a local HTTP server that answers like
// the OpenWhisk controller (core/controller Actions.scala, BasicAuthenticationDirective.scala; the shapes of
// ../shared/reference/knative-openwhisk-contracts.md section 7).
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { OpenWhiskTarget, openWhiskParams } from '../../adapters/targets/openwhiskTarget.js'
import type { DispatchResult, OutgoingEvent } from '../../adapters/target.js'
import { closedPort, httpReceiver, tlsFixture, type ReceivedRequest } from '../helpers/httpReceiver.js'

// The shape of OpenWhisk's dev guest key (ansible/files/auth.guest), made up here.
const KEY = '7a1f0c52-3e44-4b6f-9d0e-2b8c4f6a9e10:Xq3zVb8LmN2pRs7TuW4yA1cE6gH9jK0oPz5Qf3Sd8Vw2Yx7Bn4Mk1Lj6Hg9Fd2Ra'
const KEY_B64 = Buffer.from(KEY).toString('base64')
const KEY_PART = KEY.split(':')[1] as string

let nextId = 0
function activationId (): string {
  return (++nextId).toString(16).padStart(32, '0')
}

function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const id = typeof body === 'object' && body !== null && 'activationId' in body ? String((body as { activationId: unknown }).activationId) : activationId()
  res.writeHead(status, { 'content-type': 'application/json', 'x-openwhisk-activation-id': id, ...headers }).end(JSON.stringify(body))
}

function activation (name: string, result: Record<string, unknown>, success: boolean, status = success ? 'success' : 'application error'): Record<string, unknown> {
  return {
    activationId: activationId(), name, namespace: 'guest', subject: 'guest', version: '0.0.1', publish: false,
    start: 1_700_000_000_000, end: 1_700_000_000_012, duration: 12, logs: [], annotations: [{ key: 'kind', value: 'nodejs:20' }],
    response: { result, size: JSON.stringify(result).length, status, success }
  }
}

/** A fake controller: POST /api/v1/namespaces/{ns}/actions/{name}?blocking=..., Basic auth, behaviour by action name. */
function controller (req: ReceivedRequest, res: ServerResponse): void {
  const u = new URL(req.url, 'http://controller')
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/actions\/(.+)$/.exec(u.pathname)
  if (req.method !== 'POST' || m === null) { send(res, 404, { error: 'The requested resource does not exist.', code: 'tx0' }); return }
  if (req.headers.authorization !== `Basic ${KEY_B64}`) {
    // Echoes what it got, as a careless proxy might: the target must still not show the key.
    send(res, 401, { error: `The supplied authentication is invalid (${String(req.headers.authorization)})`, code: 'tx1' }, { 'www-authenticate': 'Basic realm="OpenWhisk secure realm"' })
    return
  }
  const name = decodeURIComponent(m[2] as string)
  const params = JSON.parse(req.body.toString('utf8') || '{}') as Record<string, unknown>
  const blocking = u.searchParams.get('blocking') === 'true'
  if (!blocking) { send(res, 202, { activationId: activationId() }); return }
  switch (name) {
    case 'echo': send(res, 200, activation(name, { got: params, namespace: m[1] }, true)); return
    case 'pkg/quiet': send(res, 200, activation(name, {}, true)); return
    case 'long': send(res, 202, { activationId: 'feedc0de00000000000000000000beef' }); return
    case 'throttled': send(res, 429, { error: 'Too many requests in the last minute (count: 61, allowed: 60).', code: 'tx2' }); return
    case 'fails': send(res, 502, activation(name, { error: 'sensor value out of range' }, false)); return
    case 'crashes': send(res, 502, activation(name, { error: 'The action did not produce a valid response and exited unexpectedly.' }, false, 'action developer error')); return
    case 'forbidden': send(res, 403, { error: 'The supplied authentication is not authorized to access \'other/x\'.', code: 'tx3' }); return
    case 'busy': send(res, 503, { error: 'Service Unavailable', code: 'tx4' }); return
    case 'conflict': send(res, 409, { error: 'Concurrent modification to resource detected.', code: 'tx5' }); return
    case 'bad': send(res, 400, { error: 'Request defines parameters that are not allowed (e.g., reserved properties).', code: 'tx6' }); return
    case 'big': send(res, 413, { error: 'The request content was malformed: request entity too large', code: 'tx7' }); return
    case 'hangs': return
    default: send(res, 404, { error: 'The requested resource does not exist.', code: 'tx8' })
  }
}

function event (data = '{"temp":21.5,"unit":"C"}', datacontenttype: string | undefined = 'application/json'): OutgoingEvent {
  return {
    attributes: { specversion: '1.0', id: 'm-1', source: 'mqtt://broker/a', type: 'io.iotless.reading', subject: 'site/1/temp', datacontenttype, time: undefined },
    data: Buffer.from(data)
  }
}

const rejectedMessages: string[] = []
function note (r: DispatchResult): DispatchResult {
  if (r.status === 'rejected') rejectedMessages.push(r.message)
  return r
}

t.test('outcomes of the controller, mapped', async (t) => {
  const rx = await httpReceiver(controller)
  const target = new OpenWhiskTarget({ apiHost: rx.url, apiKey: KEY, namespace: 'guest' })
  t.teardown(async () => { await target.close(); await rx.close() })

  const ok = note(await target.dispatch('echo', event()))
  t.equal(ok.status, 'ok', '200: done')
  if (ok.status === 'ok') {
    t.equal(ok.reply?.contentType, 'application/json')
    t.same(JSON.parse(ok.reply?.data.toString() ?? 'null'), {
      got: { temp: 21.5, unit: 'C', cloudevent: { specversion: '1.0', id: 'm-1', source: 'mqtt://broker/a', type: 'io.iotless.reading', subject: 'site/1/temp', datacontenttype: 'application/json' } },
      namespace: 'guest'
    }, 'the reply is the result; the params were the data fields plus the attributes')
    t.equal(ok.activationId, undefined, 'a finished activation is not "accepted for later"')
  }
  const req = rx.received[0]!
  t.match(req.url, /^\/api\/v1\/namespaces\/guest\/actions\/echo\?blocking=true$/, 'namespace in the path, blocking in the query')
  t.equal(req.headers.authorization, `Basic ${KEY_B64}`)
  t.match(req.headers['content-type'], /^application\/json/)

  t.same(note(await target.dispatch('pkg/quiet', event())), { status: 'ok' }, '200 with an empty result: no reply')
  t.same(note(await target.dispatch('long', event())), { status: 'ok', activationId: 'feedc0de00000000000000000000beef' }, '202 past the blocking wait: accepted, with the id')

  const table: Array<[string, number, string, boolean, RegExp]> = [
    ['throttled', 429, 'OPENWHISK_THROTTLED', true, /Too many requests in the last minute \(count: 61, allowed: 60\)/],
    ['fails', 502, 'OPENWHISK_FUNCTION_ERROR', false, /action fails failed \(activation [0-9a-f]{32}\) \(502\): sensor value out of range/],
    ['crashes', 502, 'OPENWHISK_FUNCTION_ERROR', false, /exited unexpectedly/],
    ['forbidden', 403, 'OPENWHISK_AUTH', false, /not authorized/],
    ['busy', 503, 'TARGET_HTTP_STATUS', true, /answered 503: Service Unavailable/],
    ['nope', 404, 'TARGET_HTTP_STATUS', true, /does not exist/],
    ['conflict', 409, 'TARGET_HTTP_STATUS', true, /Concurrent/],
    ['bad', 400, 'TARGET_HTTP_STATUS', false, /not allowed/],
    ['big', 413, 'TARGET_HTTP_STATUS', false, /too large/]
  ]
  for (const [name, status, code, retryable, message] of table) {
    const before = rx.received.length
    const r = note(await target.dispatch(name, event()))
    t.match(r, { status: 'rejected', code, retryable, httpStatus: status, message }, `${name}: ${status} -> ${code}`)
    t.equal(rx.received.length, before + 1, `${name}: one request, the client does not retry`)
  }
})

t.test('a wrong key: 401 OPENWHISK_AUTH, not retryable, and the key is not in the message', async (t) => {
  const rx = await httpReceiver(controller)
  const wrongKey = '7a1f0c52-3e44-4b6f-9d0e-2b8c4f6a9e10:WRONGwrongWRONGwrong'
  const target = new OpenWhiskTarget({ apiHost: rx.url, apiKey: wrongKey })
  t.teardown(async () => { await target.close(); await rx.close() })
  const r = note(await target.dispatch('echo', event()))
  t.match(r, { status: 'rejected', code: 'OPENWHISK_AUTH', retryable: false, httpStatus: 401, message: /authentication is invalid \(Basic \[REDACTED\]\)/ })
  if (r.status === 'rejected') {
    t.notMatch(r.message, 'WRONGwrong')
    t.notMatch(r.message, Buffer.from(wrongKey).toString('base64'))
  }
  t.match(rx.received[0]?.url, /\/namespaces\/_\/actions\/echo/, 'default namespace _')
})

t.test('non-blocking: 202 with the activation id', async (t) => {
  const rx = await httpReceiver(controller)
  const target = new OpenWhiskTarget({ apiHost: rx.url, apiKey: KEY, blocking: false })
  t.teardown(async () => { await target.close(); await rx.close() })
  const r = note(await target.dispatch('echo', event()))
  t.match(r, { status: 'ok', activationId: /^[0-9a-f]{32}$/ })
  t.notOk('reply' in r)
  t.match(rx.received[0]?.url, /\?blocking=false$/)
})

t.test('timeout, abort, refused: transport outcomes, all retryable', async (t) => {
  const rx = await httpReceiver(controller)
  const target = new OpenWhiskTarget({ apiHost: rx.url, apiKey: KEY, timeoutMs: 200 })
  t.teardown(async () => { await target.close(); await rx.close() })
  t.match(note(await target.dispatch('hangs', event())), { status: 'rejected', code: 'TARGET_TIMEOUT', retryable: true, message: /200 ms/ })
  const ac = new AbortController()
  const slow = new OpenWhiskTarget({ apiHost: rx.url, apiKey: KEY })
  const pending = slow.dispatch('hangs', event(), { signal: ac.signal })
  const seen = rx.received.length
  while (rx.received.length === seen) await new Promise((resolve) => setTimeout(resolve, 5))
  ac.abort()
  t.match(note(await pending), { status: 'rejected', code: 'TARGET_ABORTED', retryable: true })
  await slow.close()
  const port = await closedPort()
  const refused = new OpenWhiskTarget({ apiHost: `http://127.0.0.1:${port}`, apiKey: KEY })
  t.match(note(await refused.dispatch('echo', event())), { status: 'rejected', code: 'TARGET_UNREACHABLE', retryable: true, message: /ECONNREFUSED/ })
  await refused.close()
})

t.test('https: a private CA is trusted with ca, refused without, accepted with ignoreCerts', async (t) => {
  const rx = await httpReceiver(controller, { key: tlsFixture('server.key'), cert: tlsFixture('server.crt') })
  const host = rx.url.replace(/^https:\/\//, '') // no scheme: https is assumed
  const withCa = new OpenWhiskTarget({ apiHost: host, apiKey: KEY, ca: tlsFixture('ca.crt') })
  const without = new OpenWhiskTarget({ apiHost: host, apiKey: KEY })
  const ignoring = new OpenWhiskTarget({ apiHost: rx.url, apiKey: KEY, ignoreCerts: true })
  t.teardown(async () => { await Promise.all([withCa.close(), without.close(), ignoring.close(), rx.close()]) })
  t.match(note(await withCa.dispatch('echo', event())), { status: 'ok' })
  t.match(note(await without.dispatch('echo', event())), { status: 'rejected', code: 'TARGET_TLS', retryable: true })
  t.match(note(await ignoring.dispatch('echo', event())), { status: 'ok' })
})

t.test('construction checks; closed target', async (t) => {
  t.throws(() => new OpenWhiskTarget({ apiHost: 'ftp://x', apiKey: KEY }), { code: 'TARGET_URL_INVALID' })
  t.throws(() => new OpenWhiskTarget({ apiHost: 'http://[bad', apiKey: KEY }), { code: 'TARGET_URL_INVALID' })
  t.throws(() => new OpenWhiskTarget({ apiHost: 'localhost:3233', apiKey: ' ' }), { code: 'SECRET_EMPTY' })
  const target = new OpenWhiskTarget({ apiHost: 'localhost:3233', apiKey: KEY })
  await target.close()
  t.match(await target.dispatch('echo', event()), { status: 'rejected', code: 'POOL_CLOSED' })
})

t.test('params: JSON objects spread, other data under data or data_base64, attributes under cloudevent', async (t) => {
  const ce = (ct: string | undefined): Record<string, string> => ({ specversion: '1.0', id: 'm-1', source: 'mqtt://broker/a', type: 'io.iotless.reading', subject: 'site/1/temp', ...(ct === undefined ? {} : { datacontenttype: ct }) })
  const table: Array<[string | Buffer, string | undefined, Record<string, unknown>]> = [
    ['{"a":1,"b":{"c":[1,2]}}', 'application/json', { a: 1, b: { c: [1, 2] } }],
    ['{"a":1}', 'application/vnd.sensor+json; charset=utf-8', { a: 1 }],
    ['[1,2,3]', 'application/json', { data: [1, 2, 3] }],
    ['21.5', 'application/json', { data: 21.5 }],
    ['"hi"', 'application/json', { data: 'hi' }],
    ['{not json', 'application/json', { data: '{not json' }],
    ['21.5', undefined, { data: '21.5' }],
    ['température 21,5 °C', 'text/plain; charset=utf-8', { data: 'température 21,5 °C' }],
    [Buffer.from([0xff, 0x00, 0x10]), undefined, { data_base64: '/wAQ' }],
    [Buffer.from('PNG...'), 'image/png', { data_base64: Buffer.from('PNG...').toString('base64') }],
    ['{"cloudevent":"mine","x":1}', 'application/json', { x: 1 }]
  ]
  for (const [data, ct, expected] of table) {
    const got = openWhiskParams({ attributes: { ...ce(ct), specversion: '1.0', id: 'm-1', source: 'mqtt://broker/a', type: 'io.iotless.reading' }, data: Buffer.isBuffer(data) ? data : Buffer.from(data) })
    t.same(got, { ...expected, cloudevent: ce(ct) }, `${String(ct)} ${JSON.stringify(data.toString())}`)
  }
})

t.test('no rejected message anywhere in this file showed the key', async (t) => {
  t.ok(rejectedMessages.length >= 14, `${rejectedMessages.length} rejected messages checked`)
  for (const m of rejectedMessages) {
    t.notMatch(m, KEY_PART)
    t.notMatch(m, KEY_B64)
  }
})
