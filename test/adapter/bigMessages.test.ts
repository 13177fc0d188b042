// Issue 11: one 202 MB publish put the adapter in a reconnect loop (with Mosquitto, for good: a poison
// message), and a refused 50 MB message became a 67 MB dead letter. With MQTT 5 the adapter advertises a
// Maximum Packet Size, and Mosquitto drops a bigger packet instead of sending it [MQTT-3.1.2-25].
import t from 'tap'
import { maximumPacketSize } from '../../adapters/ingress/mqttAdapter.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { MOSQUITTO_URL, mosquittoReachable } from '../helpers/mosquitto.js'
import { waitFor } from '../helpers/waitFor.js'
import { adapterConfig, ScriptedTarget, startAdapter } from './adapterSuite.js'

t.test('maximumPacketSize: the payload limit plus 64 KiB, never above what MQTT can carry', async (t) => {
  t.equal(maximumPacketSize(262_144), 262_144 + 65_536)
  t.equal(maximumPacketSize(268_435_455), 268_435_460)
})

if (!(await mosquittoReachable())) {
  t.fail(`Mosquitto is not reachable at ${MOSQUITTO_URL}`)
} else {
  t.test('Mosquitto: a packet over the advertised size never reaches the adapter, which neither reconnects nor stalls; one just over the payload limit is dead-lettered by size', async (t) => {
    const topic = `big-${process.pid}-${Date.now().toString(36)}`
    const dlq = await collector(MOSQUITTO_URL, `${topic}-dlq`, 5)
    t.teardown(dlq.close)
    const target = new ScriptedTarget(() => ({ status: 'ok' }))
    const { adapter, lines } = await startAdapter(t, MOSQUITTO_URL, adapterConfig(`${topic}-adapter`, [{ topic: `${topic}/#`, function: 'f', qos: 1, deadLetter: `${topic}-dlq` }], { maxPayloadBytes: 2048 }), target, { protocol: '5' })
    let reconnects = 0
    adapter.client?.on('reconnect', () => { reconnects++ })
    const pub = await publisher(MOSQUITTO_URL, 5)
    t.teardown(() => pub.endAsync(true))
    const rss0 = process.memoryUsage().rss
    await pub.publishAsync(`${topic}/huge`, Buffer.alloc(8 * 2 ** 20, 0x41), { qos: 1 }) // 8 MiB: far over 2048 + 64 KiB
    await pub.publishAsync(`${topic}/over`, Buffer.alloc(3000, 0x42), { qos: 1 }) // over the payload limit, under the packet limit
    await pub.publishAsync(`${topic}/fine`, 'fine', { qos: 1 })
    await waitFor('the message after them delivered, and one dead letter', () => target.seen.length === 1 && dlq.received.length === 1, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.equal(target.seen[0]?.data.toString(), 'fine')
    t.equal(reconnects, 0, 'no reconnect')
    t.ok(adapter.client?.connected, 'still connected')
    t.equal(dlq.received.length, 1, 'the huge one was dropped by the broker: no dead letter for it')
    const letter = JSON.parse(dlq.received[0]?.payload.toString() ?? '{}') as Record<string, unknown>
    t.match(letter, { iotlesserrorcode: 'PAYLOAD_TOO_LARGE', iotlesspayloadbytes: 3000, iotlesstopic: `${topic}/over` })
    t.notOk('data_base64' in letter, 'described, not copied')
    t.notOk(lines.some((l) => l.level === 'error' || l.level === 50), 'no error logged')
    t.comment(`test process RSS +${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MB (the 8 MiB publisher buffer included)`)
  })
}
