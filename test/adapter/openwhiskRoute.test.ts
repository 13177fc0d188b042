import t from 'tap'
import { Registry } from 'prom-client'
import { configSchema } from '../../core/config/schema.js'
import { startStack } from '../../cli/stack.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { httpReceiver } from '../helpers/httpReceiver.js'
import { repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:not-the-real-guest-key-0123456789abcdefghijklmnopqrstuv'

t.test('a route on an openwhisk target: the key from the environment, 429 retried, the result as the reply, 502 dead-lettered', async (t) => {
  let calls = 0
  const controller = await httpReceiver((req, res) => {
    calls++
    if (req.headers.authorization !== `Basic ${Buffer.from(KEY).toString('base64')}`) { res.writeHead(401).end('{"error":"The supplied authentication is invalid"}'); return }
    const params = JSON.parse(req.body.toString()) as { temp?: number }
    if (calls === 1) { res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":"Too many requests in the last minute (count: 61, allowed: 60).","code":"x"}'); return }
    if (params.temp === 99) { res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ activationId: 'a2', response: { result: { error: 'sensor out of range' }, status: 'application error', success: false } })); return }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ activationId: 'a1', response: { result: { seen: params.temp }, status: 'success', success: true } }))
  })
  t.teardown(controller.close)
  const prefix = `ow-${process.pid}`
  const config = configSchema.parse({
    broker: { port: 0, clientId: `${prefix}-adapter` },
    metrics: { enabled: false },
    prefetch: { enabled: false },
    adapter: { retryBaseMs: 5 },
    targets: { whisk: { kind: 'openwhisk', apiHost: controller.url, keyEnv: 'TEST_OW_KEY' } },
    routes: [{ topic: `${prefix}/in/{dev}`, function: 'readings', target: 'whisk', reply: `${prefix}/out/{dev}`, deadLetter: `${prefix}/dlq` }]
  })
  const { log, lines } = memoryLog()
  const stack = await startStack({ config, baseDir: repoRoot, log, env: { TEST_OW_KEY: KEY }, registry: new Registry() })
  t.teardown(() => stack.stop('test done'))
  const out = await collector(stack.brokerUrl, `${prefix}/out/#`)
  const dlq = await collector(stack.brokerUrl, `${prefix}/dlq`)
  t.teardown(out.close); t.teardown(dlq.close)
  const pub = await publisher(stack.brokerUrl)
  t.teardown(() => pub.endAsync(true))
  await pub.publishAsync(`${prefix}/in/d1`, '{"temp":21.5}', { qos: 1 })
  await waitFor('the reply', () => out.received.length === 1)
  t.same(JSON.parse(out.received[0]?.payload.toString() ?? ''), { seen: 21.5 }, 'the action result is the reply')
  t.equal(calls, 2, 'the 429 was retried once')
  const first = JSON.parse(controller.received[1]?.body.toString() ?? '{}') as { cloudevent?: { subject?: string } }
  t.equal(first.cloudevent?.subject, `${prefix}/in/d1`, 'the CloudEvent attributes travel under `cloudevent`')
  await pub.publishAsync(`${prefix}/in/d2`, '{"temp":99}', { qos: 1 })
  await waitFor('the dead letter', () => dlq.received.length === 1)
  t.match(JSON.parse(dlq.received[0]?.payload.toString() ?? ''), { iotlesserrorcode: 'OPENWHISK_FUNCTION_ERROR', iotlessattempts: 1 }, 'a 502 is not retried')
  t.notOk(JSON.stringify(lines).includes(KEY.split(':')[1] as string), 'the key is in no log line')
})

t.test('an openwhisk target whose key variable is unset stops start-up naming the variable', async (t) => {
  const config = configSchema.parse({
    broker: { port: 0 }, metrics: { enabled: false }, prefetch: { enabled: false },
    targets: { whisk: { kind: 'openwhisk', apiHost: 'http://127.0.0.1:9', keyEnv: 'NOT_SET_OW_KEY' } },
    routes: [{ topic: 'a/b', function: 'x', target: 'whisk' }]
  })
  await t.rejects(startStack({ config, baseDir: repoRoot, log: memoryLog().log, env: {}, registry: new Registry() }), { code: 'SECRET_MISSING', message: /NOT_SET_OW_KEY is not set/ })
})
