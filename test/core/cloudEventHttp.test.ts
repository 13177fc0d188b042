// CloudEvents HTTP protocol binding, binary mode (cloudevents/spec cloudevents/bindings/http-protocol-binding.md,
// section 3.1.3.2): header values are percent-encoded for space (U+0020), double quote (U+0022), percent (U+0025)
// and anything outside printable ASCII (U+0021..U+007E), as the UTF-8 bytes of the character.
import t from 'tap'
import { CloudEvent, HTTP } from 'cloudevents'
import {
  decodeHeaderValue, encodeHeaderValue, fromBinaryHeaders, isJsonContentType, toBinaryHeaders, type CloudEventAttributes
} from '../../core/cloudEventHttp.js'

t.test('printable ASCII other than space, " and % is kept as is', async (t) => {
  let printable = ''
  for (let cp = 0x21; cp <= 0x7e; cp++) if (cp !== 0x22 && cp !== 0x25) printable += String.fromCharCode(cp)
  t.equal(printable.length, 92)
  t.equal(encodeHeaderValue(printable), printable)
  t.equal(encodeHeaderValue('sensors/20/reading'), 'sensors/20/reading')
  t.equal(encodeHeaderValue(''), '')
})

t.test('space, double quote and percent are encoded', async (t) => {
  t.equal(encodeHeaderValue(' '), '%20')
  t.equal(encodeHeaderValue('"'), '%22')
  t.equal(encodeHeaderValue('%'), '%25')
  t.equal(encodeHeaderValue('Euro 100% "off"'), 'Euro%20100%25%20%22off%22')
})

t.test('control characters and DEL are encoded', async (t) => {
  t.equal(encodeHeaderValue('\u0000'), '%00')
  t.equal(encodeHeaderValue('\t\r\n'), '%09%0D%0A')
  t.equal(encodeHeaderValue('\u001f'), '%1F')
  t.equal(encodeHeaderValue('\u007f'), '%7F')
})

t.test('non-ASCII is encoded as its UTF-8 bytes, upper-case hex', async (t) => {
  // The spec's own example: "Euro € 😀" -> "Euro%20%E2%82%AC%20%F0%9F%98%80".
  t.equal(encodeHeaderValue('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80')
  t.equal(encodeHeaderValue('é'), '%C3%A9')
  t.equal(encodeHeaderValue('\u0080'), '%C2%80')
  t.equal(encodeHeaderValue('温度'), '%E6%B8%A9%E5%BA%A6')
  t.equal(encodeHeaderValue('\u00a0'), '%C2%A0', 'no-break space is outside printable ASCII')
})

t.test('every encoded value is a legal header value: printable ASCII only', async (t) => {
  const samples = ['a b', 'é"%', '\u0000\u007f', '😀 ok', 'line\nbreak', '%41']
  for (const s of samples) t.match(encodeHeaderValue(s), /^[\x21-\x7e]*$/, JSON.stringify(s))
})

t.test('decode inverts encode', async (t) => {
  const samples = ['', 'plain', 'a b', '100%', '%41 is not A', '"quoted"', 'Euro € 😀', 'ünïcödé/ŧøpïç', '\u0000\u001f\u007f', '%%%', 'tab\there']
  for (const s of samples) t.equal(decodeHeaderValue(encodeHeaderValue(s)), s, JSON.stringify(s))
  // Every BMP character outside the surrogates, plus an astral one, in one string.
  let all = ''
  for (let cp = 0; cp < 0x3000; cp++) all += String.fromCodePoint(cp)
  all += String.fromCodePoint(0x1f600)
  t.equal(decodeHeaderValue(encodeHeaderValue(all)), all)
})

t.test('decode reads percent escapes in either case, and leaves malformed ones alone', async (t) => {
  t.equal(decodeHeaderValue('Euro%20%e2%82%ac'), 'Euro €')
  t.equal(decodeHeaderValue('no-escapes'), 'no-escapes')
  t.equal(decodeHeaderValue('100%'), '100%', 'a sender that did not encode (e.g. the cloudevents SDK) is read verbatim')
  t.equal(decodeHeaderValue('%zz'), '%zz')
  t.equal(decodeHeaderValue('%C3'), '%C3', 'a truncated UTF-8 sequence is not decoded into garbage')
})

const base: CloudEventAttributes = {
  specversion: '1.0',
  id: 'a1b2',
  source: 'mqtt://127.0.0.1:1883',
  type: 'io.iotless.mqtt.message'
}

t.test('toBinaryHeaders: ce- headers, datacontenttype as Content-Type, undefined attributes left out', async (t) => {
  const h = toBinaryHeaders({ ...base, subject: 'sensors/é 1', datacontenttype: 'application/json', time: undefined, myext: 'x y' })
  t.same(h, {
    'ce-specversion': '1.0',
    'ce-id': 'a1b2',
    'ce-source': 'mqtt://127.0.0.1:1883',
    'ce-type': 'io.iotless.mqtt.message',
    'ce-subject': 'sensors/%C3%A9%201',
    'content-type': 'application/json',
    'ce-myext': 'x%20y'
  })
  t.notOk('ce-datacontenttype' in h)
  t.notOk('ce-time' in h)
})

t.test('fromBinaryHeaders(toBinaryHeaders(a)) gives a back', async (t) => {
  const attrs: CloudEventAttributes = {
    ...base,
    subject: 'sensors/Salle Épée "A"/100%',
    time: '2024-05-01T12:00:00.000Z',
    datacontenttype: 'application/json; charset=utf-8',
    dataschema: 'https://example.com/schema',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    note: '😀'
  }
  t.same(fromBinaryHeaders(toBinaryHeaders(attrs)), attrs)
})

t.test('fromBinaryHeaders needs specversion, id, source and type', async (t) => {
  const full = toBinaryHeaders(base)
  t.ok(fromBinaryHeaders(full))
  for (const name of ['specversion', 'id', 'source', 'type']) {
    const h: Record<string, string> = { ...full }
    delete h['ce-' + name]
    t.equal(fromBinaryHeaders(h), undefined, `without ce-${name}`)
  }
  t.equal(fromBinaryHeaders({}), undefined)
  t.equal(fromBinaryHeaders({ 'content-type': 'application/json' }), undefined)
})

t.test('fromBinaryHeaders ignores other headers, undefined values and non-string Content-Type; joins repeated ones', async (t) => {
  const got = fromBinaryHeaders({
    ...toBinaryHeaders(base),
    host: 'localhost',
    'x-ce-fake': 'no',
    'ce-empty': undefined,
    'ce-multi': ['a', 'b%20c'],
    'content-type': ['text/plain', 'text/html']
  })
  t.same(got, { ...base, multi: 'a,b c' })
})

t.test('headers made here are accepted by the official cloudevents SDK (ASCII values)', async (t) => {
  const attrs: CloudEventAttributes = {
    ...base,
    subject: 'sensors/20/reading',
    time: '2024-05-01T12:00:00.000Z',
    datacontenttype: 'application/json',
    myext: 'value-1'
  }
  const ev = HTTP.toEvent({ headers: toBinaryHeaders(attrs), body: '{"temp":22.5}' })
  t.notOk(Array.isArray(ev))
  const e = ev as CloudEvent<unknown>
  t.equal(e.specversion, '1.0')
  t.equal(e.id, 'a1b2')
  t.equal(e.source, 'mqtt://127.0.0.1:1883')
  t.equal(e.type, 'io.iotless.mqtt.message')
  t.equal(e.subject, 'sensors/20/reading')
  t.equal(e.time, '2024-05-01T12:00:00.000Z')
  t.equal(e.datacontenttype, 'application/json')
  t.equal(e.myext, 'value-1')
  t.same(e.data, { temp: 22.5 })
  t.doesNotThrow(() => e.validate())
})

t.test('headers the official SDK writes are read here (ASCII values)', async (t) => {
  const sdkEvent = new CloudEvent({
    id: 'sdk-1',
    source: 'urn:iotless:test',
    type: 'com.example.reading',
    subject: 'sensors/7/reading',
    datacontenttype: 'application/json',
    data: { temp: 21 },
    myext: 'abc'
  })
  const msg = HTTP.binary(sdkEvent)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(msg.headers)) headers[k.toLowerCase()] = String(v)
  const got = fromBinaryHeaders(headers)
  t.ok(got)
  t.equal(got?.id, 'sdk-1')
  t.equal(got?.source, 'urn:iotless:test')
  t.equal(got?.type, 'com.example.reading')
  t.equal(got?.specversion, '1.0')
  t.equal(got?.subject, 'sensors/7/reading')
  t.equal(got?.myext, 'abc')
  t.match(got?.datacontenttype, /^application\/json/)
})

t.test('isJsonContentType', async (t) => {
  t.equal(isJsonContentType('application/json'), true)
  t.equal(isJsonContentType('Application/JSON; charset=utf-8'), true)
  t.equal(isJsonContentType('application/cloudevents+json'), true)
  t.equal(isJsonContentType('text/json'), true)
  t.equal(isJsonContentType(' application/json '), true)
  t.equal(isJsonContentType('application/octet-stream'), false)
  t.equal(isJsonContentType('text/plain'), false)
  t.equal(isJsonContentType('application/jsonx'), false)
  t.equal(isJsonContentType(''), false)
  t.equal(isJsonContentType(undefined), false)
})
