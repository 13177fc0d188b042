// One MQTT message, one trace: the adapter's spans (receive, route match, a dispatch per attempt, reply
// publish) and the function's handler span from its instance process, or from an `iotless fn serve`
// container, with correct parent links, exported over OTLP/HTTP to a local receiver. Each case runs with
// both of the adapter's engines (tracing.engine: compact, the default, and sdk).
import t from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { cliPath, fixtureFunction, repoRoot } from '../helpers/paths.js'
import { stackConfig, startTestStack } from '../e2e/stackSuite.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { startOtlpReceiver } from '../helpers/otlpReceiver.js'
import { createServer } from 'node:http'
import { waitFor } from '../helpers/waitFor.js'

for (const engine of ['compact', 'sdk'] as const) {
  t.test(`${engine}: a message from a device with no trace context gives one trace over adapter, function and reply`, async (t) => {
    const otlp = await startOtlpReceiver()
    t.teardown(otlp.close)
    const prefix = `trace-${process.pid}-${Date.now().toString(36)}`
    const { stack } = await startTestStack(t, stackConfig(prefix, '', { tracing: { enabled: true, endpoint: otlp.url, engine } }))
    const sub = await collector(stack.brokerUrl, `${prefix}/echo-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    // The embedded broker speaks MQTT 3.1.1: the message carries no traceparent, the adapter starts the trace.
    await pub.publishAsync(`${prefix}/echo/one`, '{"n":1}', { qos: 1 })
    await waitFor('the reply', () => sub.received.length >= 1, 20_000)
    await waitFor('adapter and function spans', () => otlp.spans.some((s) => s.name === 'echo handle') && otlp.spans.some((s) => s.name === 'reply publish'), 20_000, 50)
    const traceIds = new Set(otlp.spans.map((s) => s.traceId))
    t.equal(traceIds.size, 1, 'one trace')
    const byName = new Map(otlp.spans.map((s) => [s.name, s]))
    const root = byName.get(`${prefix}/echo/one receive`)
    const match = byName.get('route match')
    const dispatch = byName.get('dispatch')
    const handle = byName.get('echo handle')
    const reply = byName.get('reply publish')
    t.ok(root && match && dispatch && handle && reply, `spans: ${otlp.spans.map((s) => s.name).join(', ')}`)
    t.equal(root?.parentSpanId, '', 'the adapter started the trace')
    t.equal(match?.parentSpanId, root?.spanId, 'route match under the message')
    t.equal(dispatch?.parentSpanId, root?.spanId, 'dispatch under the message')
    t.equal(handle?.parentSpanId, dispatch?.spanId, 'the function\'s handler is a child of the dispatch, across the process boundary')
    t.equal(reply?.parentSpanId, root?.spanId, 'reply publish under the message')
    t.equal(root?.service, 'iotless')
    t.equal(handle?.service, 'iotless-echo', 'the handler span came from the instance process')
    t.match(dispatch?.attributes, { 'iotless.route': 'routes[1]', 'iotless.target': 'local', 'faas.invoked_name': 'echo', 'iotless.attempt': 1, 'iotless.tier': 'local' })
    // The stable id links the message to its handling and its reply (GammaRay's way for context-less devices).
    t.equal(typeof root?.attributes['cloudevents.event_id'], 'string')
    t.equal(handle?.attributes['cloudevents.event_id'], root?.attributes['cloudevents.event_id'])
    t.equal(otlp.spans.length, 5, 'nothing else')
    t.notOk(sub.received[0]?.payload.toString().includes('error'))
  })

  t.test(`${engine}: through an \`iotless fn serve\` container, retried once: a span per attempt, the container's handler span under the second`, async (t) => {
    const otlp = await startOtlpReceiver()
    t.teardown(otlp.close)
    // The function as a Knative Service container would run it, tracing configured by its environment.
    const env = { ...process.env, IOTLESS_TRACING_ENABLED: 'true', IOTLESS_TRACING_ENDPOINT: otlp.url }
    const child = spawn(process.execPath, [cliPath, 'fn', 'serve', fixtureFunction('echo'), '--name', 'echo', '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => { child.kill('SIGTERM') })
    const out: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout }).on('line', (l) => { if (l.startsWith('{')) out.push(JSON.parse(l) as Record<string, unknown>) })
    await waitFor('fn serve ready', () => out.some((l) => l.msg === 'iotless fn ready'), 20_000)
    const fnPort = out.find((l) => l.msg === 'iotless fn listening')?.port as number
    t.ok(out.some((l) => l.msg === 'iotless fn tracing'), 'the container says it traces')
    // In front of it, a route that answers the first request 503 (retryable), then passes requests on.
    let requests = 0
    const front = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        if (++requests === 1) { res.writeHead(503).end(); return }
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection' && k !== 'content-length')) as Record<string, string>
        fetch(`http://127.0.0.1:${fnPort}/`, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(async (r) => {
          const body = Buffer.from(await r.arrayBuffer())
          const h: Record<string, string> = {}
          r.headers.forEach((v, k) => { if (k !== 'content-length' && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') h[k] = v })
          res.writeHead(r.status, h).end(body)
        }, () => { res.writeHead(502).end() })
      })
    })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => { front.closeAllConnections(); front.close(() => resolve()) }))
    const frontPort = (front.address() as { port: number }).port
    const prefix = `trace-kn-${process.pid}-${Date.now().toString(36)}`
    const { stack } = await startTestStack(t, stackConfig(prefix, '', {
      tracing: { enabled: true, endpoint: otlp.url, engine },
      targets: { kn: { kind: 'knative', url: `http://127.0.0.1:${frontPort}/` } },
      routes: [{ topic: `${prefix}/kn/#`, function: 'echo', target: 'kn', reply: `${prefix}/kn-replies` }],
      functions: {}
    }))
    const sub = await collector(stack.brokerUrl, `${prefix}/kn-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    await pub.publishAsync(`${prefix}/kn/one`, '{"n":2}', { qos: 1 })
    await waitFor('the reply', () => sub.received.length >= 1, 20_000)
    await waitFor('the container\'s span and the reply span', () => otlp.spans.some((s) => s.name === 'echo handle') && otlp.spans.some((s) => s.name === 'reply publish'), 20_000, 50)
    t.equal(requests, 2, 'one refused attempt, one that went through')
    t.equal(new Set(otlp.spans.map((s) => s.traceId)).size, 1, 'one trace')
    const root = otlp.spans.find((s) => s.name === `${prefix}/kn/one receive`)
    const attempts = otlp.spans.filter((s) => s.name === 'dispatch').sort((a, b) => Number(a.attributes['iotless.attempt']) - Number(b.attributes['iotless.attempt']))
    const handle = otlp.spans.find((s) => s.name === 'echo handle')
    const reply = otlp.spans.find((s) => s.name === 'reply publish')
    t.equal(attempts.length, 2, `a span per attempt (${otlp.spans.map((s) => s.name).join(', ')})`)
    t.match(attempts[0], { parentSpanId: root?.spanId, statusCode: 2, attributes: { 'iotless.attempt': 1, 'iotless.tier': 'kn', 'iotless.retryable': true } })
    t.match(attempts[1], { parentSpanId: root?.spanId, statusCode: 0, attributes: { 'iotless.attempt': 2, 'iotless.tier': 'kn' } })
    t.equal(handle?.service, 'iotless-echo', 'the handler span came from the fn serve process')
    t.equal(handle?.parentSpanId, attempts[1]?.spanId, 'the handler is a child of the attempt that reached it')
    t.equal(handle?.attributes['cloudevents.event_id'], root?.attributes['cloudevents.event_id'])
    t.equal(reply?.parentSpanId, root?.spanId)
    t.equal(otlp.spans.length, 6, 'receive, route match, two attempts, handle, reply publish')
  })

  t.test(`${engine}: an unreachable endpoint never holds messages up: spans are dropped, counted, logged once`, async (t) => {
    // An endpoint that takes the connection and never answers: the worst case, each export hangs to its timeout.
    const hang = createServer(() => {})
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => { hang.closeAllConnections(); hang.close(() => resolve()) }))
    const addr = hang.address()
    const dead = typeof addr === 'object' && addr !== null ? addr.port : 0
    const prefix = `trace-dead-${process.pid}-${Date.now().toString(36)}`
    const { stack, registry, lines } = await startTestStack(t, stackConfig(prefix, '', { tracing: { enabled: true, endpoint: `http://127.0.0.1:${dead}/v1/traces`, maxQueueSize: 8, exportTimeoutMs: 500, engine } }))
    const sub = await collector(stack.brokerUrl, `${prefix}/echo-replies`)
    t.teardown(sub.close)
    const pub = await publisher(stack.brokerUrl)
    t.teardown(() => pub.endAsync(true))
    for (let k = 0; k < 20; k++) await pub.publishAsync(`${prefix}/echo/m${k}`, `{"n":${k}}`, { qos: 1 })
    await waitFor('20 replies', () => sub.received.length >= 20, 30_000)
    t.equal(sub.received.length, 20, 'every message answered with the endpoint down')
    const text = await registry.metrics()
    const droppedTotal = Number(/iotless_trace_spans_dropped_total (\d+)/.exec(text)?.[1] ?? 0)
    t.ok(droppedTotal > 0, `spans past the queue of 8 were dropped (${droppedTotal})`)
    const warns = lines.filter((l) => l.code === 'TRACING_QUEUE_FULL')
    t.equal(warns.length, 1, 'the full queue is logged once')
    await waitFor('an export to time out', () => lines.some((l) => l.code === 'TRACING_EXPORT_FAILED'), 10_000)
    t.equal(lines.filter((l) => l.code === 'TRACING_EXPORT_FAILED').length, 1, 'the failed export is logged once')
  })
}
