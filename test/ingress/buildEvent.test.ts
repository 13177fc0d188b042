import t from 'tap'
import { buildEvent, sniffContentType } from '../../adapters/ingress/buildEvent.js'

const b = (s: string): Buffer => Buffer.from(s, 'utf8')

t.test('sniffContentType: payloads that parse as JSON are application/json', async (t) => {
  for (const s of ['{"temp":22.5}', '[1,2,3]', '"text"', '22.5', '-4', '0', 'true', 'false', 'null', ' {"a":1}', '\n[ ]\r\n', '\t"x"', '{"name":"Salle Épée"}']) {
    t.equal(sniffContentType(b(s)), 'application/json', JSON.stringify(s))
  }
})

t.test('sniffContentType: anything else is application/octet-stream', async (t) => {
  const samples = [
    '',
    '1163438041250 20 1 21,21 2,81 51,53 22,08 20 28\r\n', // a raw ULB sensor line starts with a digit but is not JSON
    '22,5',
    '{"temp": 22', // truncated JSON
    'tru',
    'nul',
    'hello',
    'NaN',
    "{'single': 1}",
    '\ufeff{"a":1}' // a BOM is not JSON text (RFC 8259 section 8.1)
  ]
  for (const s of samples) t.equal(sniffContentType(b(s)), 'application/octet-stream', JSON.stringify(s))
  t.equal(sniffContentType(Buffer.from([0x00, 0x01, 0x02])), 'application/octet-stream')
  t.equal(sniffContentType(Buffer.from([0x89, 0x50, 0x4e, 0x47])), 'application/octet-stream', 'PNG header')
})

t.test('sniffContentType: bytes that are not valid UTF-8 are never JSON', async (t) => {
  // JSON text must be UTF-8 (RFC 8259 section 8.1). A lenient decode turns 0xFF into U+FFFD inside a string,
  // which would parse, and the function would then get a string that differs from the bytes sent.
  t.equal(sniffContentType(Buffer.from([0x22, 0xff, 0x22])), 'application/octet-stream', '"\\xff"')
  t.equal(sniffContentType(Buffer.concat([b('{"k":"'), Buffer.from([0xc3]), b('"}')])), 'application/octet-stream', 'truncated UTF-8 sequence')
  t.equal(sniffContentType(Buffer.concat([b('["'), Buffer.from([0xed, 0xa0, 0x80]), b('"]')])), 'application/octet-stream', 'UTF-8-encoded surrogate')
})

t.test('buildEvent wraps an MQTT message as a CloudEvent', async (t) => {
  const payload = b('{"temp":23.5}')
  const now = new Date('2024-05-01T12:34:56.789Z')
  const ev = buildEvent({ topic: 'sensors/20/reading', payload }, 'com.example.reading', 'mqtt://127.0.0.1:1883', now)
  t.equal(ev.data, payload, 'the payload bytes are passed as they are')
  const a = ev.attributes
  t.equal(a.specversion, '1.0')
  t.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a v4 UUID')
  t.equal(a.source, 'mqtt://127.0.0.1:1883')
  t.equal(a.type, 'com.example.reading')
  t.equal(a.subject, 'sensors/20/reading')
  t.equal(a.time, '2024-05-01T12:34:56.789Z')
  t.equal(a.datacontenttype, 'application/json')
  t.same(Object.keys(a).sort(), ['datacontenttype', 'id', 'source', 'specversion', 'subject', 'time', 'type'])
})

t.test('buildEvent: the MQTT 5 Content Type, when set, wins over sniffing', async (t) => {
  const now = new Date(0)
  t.equal(buildEvent({ topic: 't', payload: b('{"a":1}'), contentType: 'text/plain' }, 'x', 's', now).attributes.datacontenttype, 'text/plain')
  t.equal(buildEvent({ topic: 't', payload: b('raw'), contentType: undefined }, 'x', 's', now).attributes.datacontenttype, 'application/octet-stream')
  t.equal(buildEvent({ topic: 't', payload: b('raw') }, 'x', 's', now).attributes.datacontenttype, 'application/octet-stream')
})

t.test('buildEvent gives every event its own id', async (t) => {
  const ids = new Set<string>()
  for (let i = 0; i < 200; i++) ids.add(buildEvent({ topic: 't', payload: b('1') }, 'x', 's', new Date(0)).attributes.id)
  t.equal(ids.size, 200)
})
