import { execFile } from 'node:child_process'
import http from 'node:http'
import t from 'tap'
import { decodeStat } from '../statDecoder.js'
import { startProxyInProcess, startUpstream } from '../helpers.js'
import { connectH2, h2request, H2_UPSTREAM_JS, sleep, startFixture } from './h2helpers.js'

function curlSupportsHttp2 (): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('curl', ['--version'], (err, out) => resolve(err === null && /\bHTTP2\b/.test(out)))
  })
}

function curl (args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '--max-time', '5', ...args], (err, out) => { if (err !== null) reject(err); else resolve(out) })
  })
}

t.test('h2c prior knowledge: node:http2 client, proxied to the user container as HTTP/2', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  const r = await h2request(s, { ':path': '/hello' })
  t.equal(r.status, 200)
  t.equal(r.body, 'hello over h2')
  const e = await h2request(s, { ':path': '/echo', 'x-forwarded-for': '10.0.0.1', 'k-original-host': 'svc.example', 'knative-serving-revision': 'r1', te: 'trailers' }, 'payload-123')
  t.equal(e.status, 200)
  t.equal(e.body, 'payload-123', 'request body streamed up and echoed back')
  t.same(e.trailers?.['x-trailer'], 'done', 'trailers from the user container arrive')
  t.same(e.trailers?.['x-bytes'], '11')
  const seen = JSON.parse(String(e.headers['x-request-headers'])) as Record<string, string>
  t.equal(seen['x-forwarded-for'], '10.0.0.1, 127.0.0.1', 'client address appended to X-Forwarded-For')
  t.equal(seen[':authority'], 'svc.example', 'K-Original-Host becomes :authority')
  t.equal(seen['k-original-host'], undefined)
  t.equal(seen['knative-serving-revision'], undefined, 'revision headers dropped')
  t.equal(seen.forwarded, 'for=10.0.0.1', 'Forwarded built from X-Forwarded-*')
  t.equal(seen.te, 'trailers')
  // Many streams on one connection, interleaved.
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => h2request(s, { ':path': '/echo' }, `m${i}`)))
  t.same(many.map((m) => m.body), Array.from({ length: 50 }, (_, i) => `m${i}`))
  // HTTP/1.1 keeps working on the same port.
  const h1 = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: px.ports.serving, path: '/x', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  t.equal(h1, 502, 'an HTTP/1.1 request reaches the (HTTP/2-only) user container as HTTP/1.1, which it cannot parse: 502')
})

t.test('h2c prior knowledge with curl', async (t) => {
  if (!(await curlSupportsHttp2())) { t.comment('skipped: curl here has no HTTP/2'); return }
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const out = await curl(['--http2-prior-knowledge', '-D', '-', `http://127.0.0.1:${px.ports.serving}/hello`])
  t.match(out, /^HTTP\/2 200/)
  t.match(out, /hello over h2$/)
})

t.test('a large response and a large request body keep flow control end to end', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  const big = await h2request(s, { ':path': '/big?bytes=5000000' })
  t.equal(big.body.length, 5_000_000)
  const body = Buffer.alloc(3_000_000, 98)
  const e = await h2request(s, { ':path': '/echo' }, body)
  t.equal(e.body.length, 3_000_000)
  t.same(e.trailers?.['x-bytes'], '3000000')
})

t.test('502 when the user container is down or resets the stream; RST_STREAM passed on mid-response', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  const reset = await h2request(s, { ':path': '/reset' })
  t.equal(reset.status, 502, 'reset before a response: 502')
  t.equal(px.ctx.counters.badGateway, 1)
  // Nothing listens on port 1.
  const dead = await startProxyInProcess(t, 1)
  const s2 = connectH2(t, dead.ports.serving)
  const r = await h2request(s2, { ':path': '/' })
  t.equal(r.status, 502)
})

t.test('a stream the user container refused unprocessed (REFUSED_STREAM) is sent again once, body included', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  const r = await h2request(s, { ':path': '/refuse-once' }, 'body-kept')
  t.equal(r.status, 200)
  t.equal(r.body, 'body-kept')
  t.equal(px.ctx.counters.retries, 1)
  t.equal(px.ctx.counters.badGateway, 0)
})

t.test('504 when no response within REVISION_TIMEOUT_SECONDS; the upstream stream is cancelled', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { REVISION_TIMEOUT_SECONDS: '1' })
  const s = connectH2(t, px.ports.serving)
  const started = Date.now()
  const r = await h2request(s, { ':path': '/delay?ms=5000' })
  t.equal(r.status, 504)
  t.equal(r.body, 'request timeout')
  t.ok(Date.now() - started < 3000)
  t.equal(px.ctx.counters.timeouts, 1)
  // Mid-response: the stream is reset (Go's timeout handler aborts it).
  const tr = await h2request(s, { ':path': '/trickle?every=300&n=10' })
  t.equal(tr.status, 200)
  t.equal(tr.rstCode, 2, 'RST_STREAM INTERNAL_ERROR once the response had begun')
})

t.test('probes over HTTP/2 are answered and not counted; every other stream is one request in the Stat', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  px.reporter.stop()
  px.reporter.tick()
  const [a, b, c, probe, kube] = await Promise.all([
    h2request(s, { ':path': '/delay?ms=200' }),
    h2request(s, { ':path': '/delay?ms=200', 'k-proxy-request': 'activator' }),
    h2request(s, { ':path': '/hello' }),
    h2request(s, { ':path': '/', 'k-network-probe': 'probe', 'k-network-hash': 'abc' }),
    h2request(s, { ':path': '/', 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' })
  ])
  t.same([a.status, b.status, c.status], [200, 200, 200])
  t.equal(probe.status, 200)
  t.equal(probe.headers['k-network-hash'], 'abc')
  t.equal(kube.status, 200)
  t.equal(kube.body, 'queue')
  px.reporter.tick()
  const stat = decodeStat(px.reporter.body)
  const period = px.reporter.reportingPeriodMs / 1000
  t.equal(stat.requestCount, 3 / period, 'three streams counted; the two probes not')
  t.equal(stat.proxiedRequestCount, 1 / period)
  t.ok((stat.averageConcurrentRequests as number) > 0)
  const noHash = await h2request(s, { ':path': '/', 'k-network-probe': 'probe' })
  t.equal(noHash.status, 400)
})

t.test('breaker per stream: CONTAINER_CONCURRENCY=1, two concurrent streams on one connection, one queued', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { CONTAINER_CONCURRENCY: '1' })
  const s = connectH2(t, px.ports.serving)
  const started = Date.now()
  const both = Promise.all([h2request(s, { ':path': '/delay?ms=300' }), h2request(s, { ':path': '/delay?ms=300' })])
  for (let i = 0; i < 100 && (px.ctx.breaker?.inFlight ?? 0) + (px.ctx.breaker?.waiting ?? 0) < 2; i++) await sleep(5)
  t.equal(px.ctx.breaker?.inFlight, 1, 'one stream holds the only slot')
  t.equal(px.ctx.breaker?.waiting, 1, 'the other is queued')
  const [a, b] = await both
  t.same([a.status, b.status], [200, 200])
  t.ok(Date.now() - started >= 550, 'served one after the other')
  t.equal(px.ctx.breaker?.inFlight, 0)
})

t.test('breaker overflow: the stream past capacity + queue gets 503 at once', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { CONTAINER_CONCURRENCY: '1' })
  const s = connectH2(t, px.ports.serving)
  const held = Array.from({ length: 11 }, () => h2request(s, { ':path': '/delay?ms=400' }))
  for (let i = 0; i < 100 && (px.ctx.breaker?.inFlight ?? 0) + (px.ctx.breaker?.waiting ?? 0) < 11; i++) await sleep(5)
  const refused = await h2request(s, { ':path': '/hello' })
  t.equal(refused.status, 503)
  t.equal(refused.body, 'pending request queue full\n')
  t.equal(px.ctx.counters.queueFull, 1)
  const rest = await Promise.all(held)
  t.same(rest.map((r) => r.status), Array(11).fill(200))
})

t.test('a client RST_STREAM cancels the upstream stream and frees the breaker slot', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { CONTAINER_CONCURRENCY: '1' })
  const s = connectH2(t, px.ports.serving)
  const req = s.request({ ':path': '/delay?ms=5000' })
  req.on('error', () => {})
  for (let i = 0; i < 100 && (px.ctx.breaker?.inFlight ?? 0) < 1; i++) await sleep(5)
  t.equal(px.ctx.breaker?.inFlight, 1)
  req.close(8)
  for (let i = 0; i < 100 && (px.ctx.breaker?.inFlight ?? 0) > 0; i++) await sleep(5)
  t.equal(px.ctx.breaker?.inFlight, 0, 'slot released')
  t.equal(px.ctx.stats.concurrency, 0, 'Stat concurrency back to 0')
  const next = await h2request(s, { ':path': '/hello' })
  t.equal(next.status, 200, 'the next stream is served at once')
})

t.test('drain: GOAWAY to HTTP/2 clients, the stream in flight finishes', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  const s = connectH2(t, px.ports.serving)
  let goaway = -1
  s.on('goaway', (code) => { goaway = code })
  const inflight = h2request(s, { ':path': '/delay?ms=600' })
  await sleep(100)
  const done = px.shutdown()
  const r = await inflight
  t.equal(r.status, 200, 'the open stream completed')
  for (let i = 0; i < 50 && goaway < 0; i++) await sleep(10)
  t.equal(goaway, 0, 'GOAWAY NO_ERROR')
  await done
})

t.test('an HTTP/1 user container behind an HTTP/2 request: 502, as Knative\'s h2c transport fails', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const s = connectH2(t, px.ports.serving)
  const r = await h2request(s, { ':path': '/' })
  t.equal(r.status, 502)
})

t.test('h2c upgrade (Upgrade: h2c, as Go\'s h2c handler accepts it): curl --http2, with and without a body', async (t) => {
  if (!(await curlSupportsHttp2())) { t.comment('skipped: curl here has no HTTP/2'); return }
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up)
  px.reporter.stop()
  px.reporter.tick()
  const get = await curl(['--http2', '-w', ' %{http_version}', `http://127.0.0.1:${px.ports.serving}/hello`])
  t.equal(get, 'hello over h2 2', 'upgraded: the response came back as HTTP/2 stream 1')
  const post = await curl(['--http2', '-w', ' %{http_version}', '--data-binary', 'upgraded-body', `http://127.0.0.1:${px.ports.serving}/echo`])
  t.equal(post, 'upgraded-body 2', 'the HTTP/1.1 body was carried into stream 1')
  const hdrs = await curl(['--http2', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${px.ports.serving}/echo`])
  t.match(hdrs, /x-request-headers: .*"x-forwarded-for":"127\.0\.0\.1"/, 'the client address reaches X-Forwarded-For on an upgraded connection too')
  // Two requests on one upgraded connection: stream 1 and then an ordinary stream 3.
  const two = await curl(['--http2', '-w', ' %{http_version}\n', `http://127.0.0.1:${px.ports.serving}/hello`, `http://127.0.0.1:${px.ports.serving}/hello`])
  t.equal(two, 'hello over h2 2\nhello over h2 2\n')
  px.reporter.tick()
  const stat = decodeStat(px.reporter.body)
  t.equal(stat.requestCount, 5 / (px.reporter.reportingPeriodMs / 1000), 'each upgraded request and stream counted once')
})
