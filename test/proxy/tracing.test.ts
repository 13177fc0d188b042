// Tracing of proxied requests: a SERVER span per counted request, the child of the incoming traceparent,
// exported over OTLP/HTTP; the user container gets the proxy's span as its parent. Off by default.
import t from 'tap'
import http from 'node:http'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { startOtlpReceiver } from '../helpers/otlpReceiver.js'
import { baseEnv, PROXY_JS, sleep, startProxyInProcess, startUpstream } from './helpers.js'
import { connectH2, H2_UPSTREAM_JS, h2request, startFixture } from './h2/h2helpers.js'
import { repoRoot } from '../helpers/paths.js'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

function get (port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const tracingOn = (url: string, rate = 1): Record<string, string> => ({
  OBSERVABILITY_CONFIG: JSON.stringify({ tracing: { protocol: 'http/protobuf', endpoint: url, samplingRate: rate } }),
  OTEL_BSP_SCHEDULE_DELAY: '50'
})

async function waitFor<T> (f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('timed out waiting')
    await sleep(20)
  }
}

t.test('HTTP/1.1: the span is the incoming traceparent\'s child, and the user container sees the span as parent', async (t) => {
  const otlp = await startOtlpReceiver()
  t.teardown(() => otlp.close())
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, tracingOn(otlp.url))
  const res = await get(px.ports.serving, '/echo?x=1', { traceparent: `00-${TRACE_ID}-${PARENT}-01`, tracestate: 'vendor=1', 'knative-serving-tag': 'blue' })
  t.equal(res.status, 200)
  const seen = JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] }
  const tp = seen.headers.traceparent as string
  t.match(tp, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`), 'same trace, a new parent')
  t.not(tp.split('-')[2], PARENT, 'the parent the user container sees is the proxy\'s span')
  t.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'traceparent').length, 1, 'one traceparent, the incoming one replaced')
  t.equal(seen.headers.tracestate, 'vendor=1', 'tracestate passes as it came')
  const span = await waitFor(() => otlp.spans.find((s) => s.traceId === TRACE_ID))
  t.equal(span.name, 'queue')
  t.equal(span.kind, 2, 'SERVER')
  t.equal(span.parentSpanId, PARENT)
  t.equal(span.spanId, tp.split('-')[2])
  t.equal(span.attributes['http.request.method'], 'GET')
  t.equal(span.attributes['url.path'], '/echo')
  t.equal(span.attributes['http.response.status_code'], 200)
  t.equal(span.attributes['kn.route.tag'], 'blue')
  t.equal(span.service, 'hello', 'service name: SERVING_CONFIGURATION when SERVING_SERVICE is unset, as sharedmain')

  // No incoming context: a new trace, and the proxy's span is still the parent upstream.
  const res2 = await get(px.ports.serving, '/echo')
  const tp2 = (JSON.parse(res2.body) as { headers: Record<string, string> }).headers.traceparent as string
  t.match(tp2, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  const span2 = await waitFor(() => otlp.spans.find((s) => s.spanId === tp2.split('-')[2]))
  t.equal(span2.parentSpanId, '', 'a root span')

  // Probes get no span (otelhttp's filter in sharedmain skips them).
  t.equal((await get(px.ports.serving, '/', { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' })).status, 200)
  await sleep(300)
  t.equal(otlp.spans.length, 2, 'two proxied requests, two spans; the probe has none')
})

t.test('HTTP/2: each stream gets a span and the upstream stream carries it as parent', async (t) => {
  const otlp = await startOtlpReceiver()
  t.teardown(() => otlp.close())
  const upPort = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, upPort, tracingOn(otlp.url))
  const s = connectH2(t, px.ports.serving)
  const r = await h2request(s, { ':path': '/echo', traceparent: `00-${TRACE_ID}-${PARENT}-01` }, 'hi')
  t.equal(r.status, 200)
  const sent = JSON.parse(String(r.headers["x-request-headers"])) as { traceparent: string }
  t.match(sent.traceparent, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`))
  const span = await waitFor(() => otlp.spans.find((x) => x.traceId === TRACE_ID))
  t.equal(span.parentSpanId, PARENT)
  t.equal(span.spanId, sent.traceparent.split('-')[2])
  t.equal(span.attributes['network.protocol.version'], '2')
  t.equal(span.attributes['kn.route.tag'], 'kn:disabled')
})

t.test('sampling rate 0: nothing is exported, but the user container still gets a valid traceparent', async (t) => {
  const otlp = await startOtlpReceiver()
  t.teardown(() => otlp.close())
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, tracingOn(otlp.url, 0))
  const res = await get(px.ports.serving, '/echo')
  const tp = (JSON.parse(res.body) as { headers: Record<string, string> }).headers.traceparent as string
  t.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'not sampled')
  await sleep(300)
  t.equal(otlp.spans.length, 0)
})

t.test('tracing off (the default): headers pass byte for byte, and no OpenTelemetry module is loaded', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const res = await get(px.ports.serving, '/echo', { traceparent: `00-${TRACE_ID}-${PARENT}-01` })
  t.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers.traceparent, `00-${TRACE_ID}-${PARENT}-01`)

  // The proxy entrypoint under a module-resolution hook: tracing off loads no SDK, tracing on does.
  const loaded = async (extra: Record<string, string>): Promise<string[]> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-proxy-tracing-'))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    const log = path.join(dir, 'loaded.txt')
    const hooks = path.join(dir, 'hooks.mjs')
    fs.writeFileSync(hooks, `import fs from 'node:fs'\nexport async function resolve (spec, ctx, next) {\n  const r = await next(spec, ctx)\n  fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n')\n  return r\n}\n`)
    const register = path.join(dir, 'register.mjs')
    fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
    // The proxy starts, prints its ports, serves, and is stopped by SIGTERM (drain quiet period 0).
    const child = spawn(process.execPath, ['--import', pathToFileURL(register).href, PROXY_JS], {
      cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...baseEnv(up.port, { IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '0', ...extra }) }
    })
    t.teardown(() => { child.kill('SIGKILL') })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(out) })
      child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${stderr}`)))
    })
    t.match(line, /iotless proxy listening/)
    const ports = (JSON.parse(line) as { ports: { serving: number } }).ports
    t.equal((await get(ports.serving, '/echo')).status, 200, 'served a request')
    const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => resolve(c)); child.kill('SIGTERM') })
    t.equal(code, 0, stderr)
    return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []
  }
  const off = await loaded({})
  t.ok(off.some((u) => u.endsWith('/proxy/startQueueProxy.js')), 'the proxy was loaded')
  t.same(off.filter((u) => u.includes('@opentelemetry') || u.includes('otelTracer') || u.includes('inspector') || u.includes('profilingServer')), [], 'no SDK, no inspector')
  const on = await loaded(tracingOn('http://127.0.0.1:9/v1/traces'))
  t.ok(on.some((u) => u.includes('@opentelemetry/sdk-trace-base')), 'tracing on loads the SDK (so the check above can fail)')
})
