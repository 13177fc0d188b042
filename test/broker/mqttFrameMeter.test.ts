import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { MqttFrameMeter } from '../../adapters/broker/mqttFrameMeter.js'

const publish = (payloadBytes: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: 't/x', payload: Buffer.alloc(payloadBytes), qos: 1, messageId: 7, dup: false, retain: false })

t.test('packets within the limit pass, however the stream is cut', async (t) => {
  const stream = Buffer.concat([publish(10), publish(200), mqttPacket.generate({ cmd: 'pingreq' }), publish(1000)])
  for (const cut of [1, 2, 3, 7, 100, stream.length]) {
    const m = new MqttFrameMeter(1100)
    let verdict = m.feed(Buffer.alloc(0))
    for (let i = 0; i < stream.length && verdict.ok; i += cut) verdict = m.feed(stream.subarray(i, i + cut))
    t.same(verdict, { ok: true }, `cut every ${cut} bytes`)
  }
})

t.test('a packet over the limit is seen from its first bytes, byte by byte too', async (t) => {
  const big = publish(100_000)
  const declared = big.length
  const m = new MqttFrameMeter(50_000)
  t.same(m.feed(big.subarray(0, 1)), { ok: true }, 'one byte says nothing yet')
  t.same(m.feed(big.subarray(1, 2)), { ok: true })
  t.same(m.feed(big.subarray(2, 4)), { ok: false, reason: 'too-large', packetBytes: declared }, 'the third length byte ends the number')
  const after = new MqttFrameMeter(1000)
  t.same(after.feed(Buffer.concat([publish(10), big.subarray(0, 5)])), { ok: false, reason: 'too-large', packetBytes: declared }, 'after a good packet in the same chunk')
})

t.test('the limit counts the whole packet, fixed header included', async (t) => {
  const p = publish(100)
  t.same(new MqttFrameMeter(p.length).feed(p), { ok: true })
  t.same(new MqttFrameMeter(p.length - 1).feed(p), { ok: false, reason: 'too-large', packetBytes: p.length })
})

t.test('a fifth length byte is malformed [MQTT-1.5.5]', async (t) => {
  t.same(new MqttFrameMeter(1e9).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), { ok: false, reason: 'malformed' })
})
