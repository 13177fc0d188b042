// The whole stack with a multi-tier route: MQTT in, the cloud tier dead (connection refused), every message
// answered by the local pool through failover, and the placement metrics on /metrics' registry.
import t from 'tap'
import { stackConfig, startTestStack } from '../e2e/stackSuite.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { freePort } from '../helpers/freePort.js'
import { waitFor } from '../helpers/waitFor.js'

t.test('a dead cloud tier fails over to the local pool; nothing is lost', async (t) => {
  const prefix = `place-${process.pid}`
  const deadPort = await freePort()
  const base = stackConfig(prefix, '')
  const config = stackConfig(prefix, '', {
    targets: { cloud: { kind: 'knative', url: `http://127.0.0.1:${deadPort}/{function}`, timeoutMs: 2000 } },
    routes: [{ topic: `${prefix}/echo/#`, function: 'echo', reply: `${prefix}/echo-replies`, targets: ['cloud', 'local'], placement: 'ordered' }],
    functions: base.functions
  })
  const { stack, registry } = await startTestStack(t, config)
  const sub = await collector(stack.brokerUrl, `${prefix}/echo-replies`)
  t.teardown(sub.close)
  const pub = await publisher(stack.brokerUrl)
  t.teardown(() => pub.endAsync(true))
  for (let i = 0; i < 5; i++) await pub.publishAsync(`${prefix}/echo/${i}`, JSON.stringify({ id: i }), { qos: 1 })
  await waitFor('five replies', () => sub.received.length >= 5)
  const ids = sub.received.map((m) => (JSON.parse(m.payload.toString()) as { id: number }).id).sort()
  t.same(ids, [0, 1, 2, 3, 4], 'every message answered, by the local pool')
  const text = await registry.metrics()
  t.match(text, /iotless_placement_decisions_total\{route="routes\[0\]",tier="cloud",reason="ordered"\} 3/, 'the cloud was tried three times, then its breaker opened')
  t.match(text, /iotless_placement_decisions_total\{route="routes\[0\]",tier="local",reason="failover"\} 3/)
  t.match(text, /iotless_placement_decisions_total\{route="routes\[0\]",tier="local",reason="ordered"\} 2/, 'then the local pool first')
  t.match(text, /iotless_placement_latency_seconds_count\{route="routes\[0\]",tier="local",kind="measured"\} 5/)
  t.notMatch(text, /iotless_dead_letters_total\{/, 'no dead letter')
})
