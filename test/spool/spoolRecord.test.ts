import t from 'tap'
import { decodeMarks, decodeRecord, decodeSegment, encodeMarks, encodeRecord, RECORD_HEADER_BYTES } from '../../adapters/spool/spoolRecord.js'
import type { InboundMessage } from '../../adapters/ingress/messagePipeline.js'

const msg: InboundMessage = {
  topic: 'sensors/7/reading',
  payload: Buffer.from([0, 1, 2, 255, 254]),
  qos: 1,
  messageId: 42,
  dup: true,
  properties: { messageExpiryInterval: 30, correlationData: Buffer.from('corr'), responseTopic: 'r/7', userProperties: { a: 'b', c: ['d', 'e'] }, contentType: 'application/octet-stream' }
}

t.test('a record round-trips the message, its MQTT 5 properties (Buffers too), seq and arrival time', async (t) => {
  const buf = encodeRecord(7, 1_700_000_000_123, msg)
  const r = decodeRecord(buf, 0)
  t.ok(r)
  t.equal(r?.bytes, buf.length)
  t.equal(r?.record.seq, 7)
  t.equal(r?.record.receivedAt, 1_700_000_000_123)
  t.equal(r?.record.msg.receivedAt, 1_700_000_000_123)
  t.equal(r?.record.msg.topic, msg.topic)
  t.same([...(r?.record.msg.payload ?? [])], [0, 1, 2, 255, 254])
  t.equal(r?.record.msg.messageId, 42)
  t.equal(r?.record.msg.dup, true)
  t.equal(r?.record.msg.qos, 1)
  t.ok(Buffer.isBuffer(r?.record.msg.properties?.correlationData))
  t.equal(r?.record.msg.properties?.correlationData?.toString(), 'corr')
  t.same(r?.record.msg.properties?.userProperties, { a: 'b', c: ['d', 'e'] })
  t.equal(r?.record.msg.properties?.messageExpiryInterval, 30)
})

t.test('a QoS 0 message without properties round-trips', async (t) => {
  const r = decodeRecord(encodeRecord(0, 5, { topic: 't', payload: Buffer.alloc(0), qos: 0, messageId: undefined, properties: undefined }), 0)
  t.equal(r?.record.msg.qos, 0)
  t.equal(r?.record.msg.messageId, undefined)
  t.equal(r?.record.msg.properties, undefined)
  t.equal(r?.record.msg.payload.length, 0)
})

t.test('a segment reads up to its first torn or corrupt record', async (t) => {
  const a = encodeRecord(1, 1, msg)
  const b = encodeRecord(2, 2, msg)
  const c = encodeRecord(3, 3, msg)
  const whole = Buffer.concat([a, b, c])
  t.equal(decodeSegment(whole).records.length, 3)
  t.equal(decodeSegment(whole).goodBytes, whole.length)
  // Cut short in the third record (a crash mid-write).
  const torn = whole.subarray(0, a.length + b.length + 5)
  t.same(decodeSegment(torn).records.map((r) => r.record.seq), [1, 2])
  t.equal(decodeSegment(torn).goodBytes, a.length + b.length)
  // A flipped payload byte in the second: its CRC fails, reading stops before it.
  const flipped = Buffer.from(whole)
  flipped.writeUInt8((flipped.readUInt8(a.length + RECORD_HEADER_BYTES + 10) ^ 0xff), a.length + RECORD_HEADER_BYTES + 10)
  t.same(decodeSegment(flipped).records.map((r) => r.record.seq), [1])
  // Zeros where a record should be (a file extended but never written).
  t.same(decodeSegment(Buffer.concat([a, Buffer.alloc(64)])).records.map((r) => r.record.seq), [1])
  t.equal(decodeRecord(Buffer.alloc(0), 0), undefined)
})

t.test('delivery marks: zeros and garbage never read as delivered', async (t) => {
  const m = encodeMarks([0, 5, 70_000])
  t.same([...decodeMarks(m)].sort((x, y) => x - y), [0, 5, 70_000])
  t.same([...decodeMarks(Buffer.alloc(64))], [], 'zeros mark nothing (index 0 would otherwise be taken as delivered)')
  t.same([...decodeMarks(Buffer.concat([m, Buffer.from([1, 2, 3])]))].length, 3, 'a torn last mark is ignored')
  const bad = Buffer.from(m)
  bad.writeUInt8(bad.readUInt8(4) ^ 1, 4)
  t.same([...decodeMarks(bad)].sort((x, y) => x - y), [5, 70_000])
})
