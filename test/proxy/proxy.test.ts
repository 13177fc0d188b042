import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { freePort } from '../helpers/freePort.js'
import { decodeStat } from './statDecoder.js'
import { parseResponses, rawExchange, sleep, startProxyInProcess, startUpstream } from './helpers.js'

interface Echo { method: string; url: string; rawHeaders: string[]; headers: Record<string, string>; bytes: number; sha256: string; trailers: Record<string, string> }

function get (port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let b = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => { b += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('proxy behaviour against a real upstream process', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const port = px.ports.serving

  await t.test('headers: Knative revision headers stripped, K-Original-Host becomes Host, Forwarded added, traceparent passes', async (t) => {
    const r = await get(port, '/echo?a=1', {
      'Knative-Serving-Revision': 'hello-00001',
      'Knative-Serving-Namespace': 'default',
      'K-Original-Host': 'hello.default.example.com',
      'X-Forwarded-For': '203.0.113.9',
      'X-Forwarded-Proto': 'https',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'k=v'
    })
    t.equal(r.status, 200)
    const e = JSON.parse(r.body) as Echo
    t.equal(e.url, '/echo?a=1')
    t.equal(e.headers.host, 'hello.default.example.com')
    t.notOk('knative-serving-revision' in e.headers)
    t.notOk('knative-serving-namespace' in e.headers)
    t.notOk('k-original-host' in e.headers)
    t.equal(e.headers.forwarded, 'for=203.0.113.9;proto=https')
    t.equal(e.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1', 'client address appended as Go ReverseProxy does')
    t.equal(e.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
    t.equal(e.headers.tracestate, 'k=v')
    const kept = await get(port, '/echo', { Forwarded: 'for=198.51.100.1', 'X-Forwarded-For': '203.0.113.9' })
    t.equal((JSON.parse(kept.body) as Echo).headers.forwarded, 'for=198.51.100.1', 'existing Forwarded untouched')
    const none = await get(port, '/echo')
    t.notOk('forwarded' in (JSON.parse(none.body) as Echo).headers, 'no X-Forwarded-*, no Forwarded')
  })

  await t.test('hop-by-hop fields go neither way (Go\'s ReverseProxy list, and what Connection names)', async (t) => {
    const raw = await rawExchange(port, 'GET /echo HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic c2VjcmV0\r\nTE: trailers, deflate\r\n' +
      'Upgrade: h2c\r\nTrailer: X-Checksum\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: for the proxy only\r\nX-End-To-End: kept\r\n\r\n', { idleMs: 1500 })
    const r = parseResponses(raw.text)[0] ?? { headers: {}, body: '{}' }
    const e = JSON.parse(r.body) as Echo
    t.notOk('proxy-authorization' in e.headers, 'the client\'s proxy credentials stay with the proxy')
    t.equal(e.headers.te, 'trailers', 'TE narrowed to trailers')
    t.notOk('upgrade' in e.headers, 'Upgrade without Connection: upgrade')
    t.notOk('trailer' in e.headers, 'Trailer without a chunked body')
    t.notOk('x-client-hop' in e.headers, 'a field the Connection header names')
    t.equal(e.headers['x-end-to-end'], 'kept')
    const direct = parseResponses((await rawExchange(up.port, 'GET /echo HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 1500 })).text)[0]
    t.match(direct?.headers['keep-alive'], /timeout=/, 'the upstream (node:http) sends Keep-Alive')
    t.notOk('keep-alive' in r.headers, 'which the client does not see: the idle timeout is the proxy\'s')
    const h = await get(up.port, '/hop')
    t.equal(h.headers['x-hop'], 'for the proxy only', 'the upstream sends its hop-by-hop fields')
    t.equal(h.headers['proxy-authenticate'], 'Basic realm="upstream"')
    // Both ways out: a client that keeps its connection (the head is compacted in place) and one that closes it
    // (the head is then also rewritten with Connection: close).
    const kept = parseResponses((await rawExchange(port, 'GET /hop HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 1500 })).text)[0]
    const closing = await get(port, '/hop')
    for (const [how, hp] of [['keep-alive', kept], ['close', closing]] as const) {
      t.equal(hp?.body, 'hop', how)
      for (const f of ['x-hop', 'proxy-authenticate', 'upgrade', 'trailer', 'keep-alive']) t.notOk(f in (hp?.headers ?? {}), `${how}: ${f} not passed back`)
      t.equal(hp?.headers['x-end-to-end'], 'kept')
      t.equal(hp?.headers['content-length'], '3')
    }
    t.equal(kept?.headers.connection, 'keep-alive, X-Hop', 'its Connection line stays (the field it names is gone)')
    const smug = await rawExchange(port, 'POST /echo HTTP/1.1\r\nHost: a\r\nConnection: content-length, host\r\nContent-Length: 5\r\n\r\nhello')
    const se = JSON.parse(parseResponses(smug.text)[0]?.body ?? '{}') as Echo
    t.equal(se.bytes, 5, 'a Connection header naming Content-Length cannot unframe the body')
    t.equal(se.headers.host, 'a')
  })

  await t.test('bodies: Content-Length and chunked requests arrive intact; chunked, close-delimited, HEAD, 204, 304 responses frame right', async (t) => {
    const big = Buffer.alloc(300_000, 7)
    const r = await get(port, '/echo', { 'content-length': String(big.length) }, 'POST', big)
    const e = JSON.parse(r.body) as Echo
    t.equal(e.bytes, big.length)
    const chunkedReq = await rawExchange(port, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n')
    const ce = JSON.parse(parseResponses(chunkedReq.text)[0]?.body ?? '{}') as Echo
    t.equal(ce.bytes, 11)
    t.same(ce.trailers, { 'x-trailer': 't' })
    const c = await get(port, '/chunked')
    t.equal(c.body, 'part1-part2-end')
    t.equal(c.headers['transfer-encoding'], 'chunked')
    const close = await rawExchange(port, 'GET /raw-close HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 1000 })
    t.equal(close.closed, true, 'a close-delimited response closes the client connection')
    t.match(close.text, /Connection: close\r\n\r\nuntil-close$/)
    const head = await rawExchange(port, 'HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=204 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=304 HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=200 HTTP/1.1\r\nHost: a\r\n\r\n')
    const rs = parseResponses(head.text, 1)
    t.same(rs.map((x) => x.status), [200, 204, 304, 200])
    t.equal(rs[3]?.body, 'status 200', 'the response after HEAD/204/304 is framed right')
    t.ok(Number(rs[0]?.headers['content-length']) > 0, 'HEAD keeps its Content-Length and has no body')
    const b = await get(port, '/big?n=2000000')
    t.equal(b.body.length, 2_000_000)
  })

  await t.test('Connection: close closes the client connection only: the upstream connection is reused', async (t) => {
    const opened = px.ctx.pool.opened
    const conns: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await rawExchange(port, 'GET /status?code=200 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
      const res = parseResponses(r.text)[0]
      t.equal(res?.status, 200)
      t.equal(res?.headers.connection, 'close', 'the client is told the connection closes')
      t.equal(r.closed, true, 'and it is closed')
      conns.push(String(res?.headers['x-conn']))
    }
    t.equal(new Set(conns).size, 1, 'one upstream connection served all five clients')
    t.ok(px.ctx.pool.opened - opened <= 1, `${px.ctx.pool.opened - opened} upstream connection(s) opened`)
  })

  await t.test('keep-alive: one client connection reuses one upstream connection; pipelined requests keep their order', async (t) => {
    const opened = px.ctx.pool.opened
    const reqs = ['/delay?ms=30', '/status?code=201', '/delay?ms=1', '/status?code=202', '/chunked'].map((p) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`)
    const r = await rawExchange(port, reqs.join(''), { idleMs: 500 })
    const rs = parseResponses(r.text)
    t.same(rs.map((x) => x.status), [200, 201, 200, 202, 200])
    t.same(rs.map((x) => x.body), ['slept 30', 'status 201', 'slept 1', 'status 202', 'part1-part2-end'])
    t.equal(new Set(rs.map((x) => x.headers['x-conn'])).size, 1, 'one upstream connection served all five')
    t.ok(px.ctx.pool.opened - opened <= 1)
    t.equal(r.closed, false, 'connection kept alive')
    // Pipelined bytes split at odd places still frame the same.
    const all = reqs.join('')
    const pieces: string[] = []
    for (let i = 0; i < all.length; i += 7) pieces.push(all.slice(i, i + 7))
    const r2 = await rawExchange(port, pieces, { idleMs: 500, gapMs: 1 })
    t.same(parseResponses(r2.text).map((x) => x.status), [200, 201, 200, 202, 200])
  })

  await t.test('Expect: 100-continue passes the interim response on', async (t) => {
    const r = await new Promise<{ cont: boolean; status: number }>((resolve, reject) => {
      let cont = false
      const req = http.request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { expect: '100-continue', 'content-length': '3' }, agent: false })
      req.on('continue', () => { cont = true; req.end('abc') })
      req.on('response', (res) => { res.resume(); res.on('end', () => resolve({ cont, status: res.statusCode ?? 0 })) })
      req.on('error', reject)
    })
    t.same(r, { cont: true, status: 200 })
  })

  await t.test('upgrade requests are tunnelled both ways', async (t) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    await new Promise((resolve) => s.once('connect', resolve))
    let got = ''
    s.on('data', (d: Buffer) => { got += d.toString('latin1') })
    s.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly')
    await sleep(100)
    s.write('later')
    for (let i = 0; i < 50 && !got.includes('LATER'); i++) await sleep(20)
    t.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/)
    t.match(got, /EARLY/)
    t.match(got, /LATER/)
    t.equal(px.queue.tunnels, 1)
    s.destroy()
    for (let i = 0; i < 50 && px.queue.tunnels > 0; i++) await sleep(10)
    t.equal(px.queue.tunnels, 0)
  })

  await t.test('autoscaler stats: protobuf on /metrics, requests and proxied requests counted, probes not', async (t) => {
    // Wait for a fresh period, then send known traffic inside one period.
    const statsGet = async (): Promise<{ type: string | undefined; len: number; stat: Record<string, unknown> }> => {
      const r = await new Promise<{ type: string | undefined; buf: Buffer }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: px.ports.stats, path: '/metrics', headers: { accept: 'application/protobuf' }, agent: false }, (res) => {
          const cs: Buffer[] = []
          res.on('data', (d: Buffer) => cs.push(d))
          res.on('end', () => resolve({ type: res.headers['content-type'], buf: Buffer.concat(cs) }))
        }).on('error', reject)
      })
      return { type: r.type, len: r.buf.length, stat: decodeStat(r.buf) }
    }
    // Close periods by hand so the 1 s ticker cannot split the traffic across two periods.
    px.reporter.stop()
    px.reporter.tick()
    await Promise.all([
      get(port, '/delay?ms=300'),
      get(port, '/delay?ms=300', { 'K-Proxy-Request': 'activator' }),
      get(port, '/status', {}),
      get(port, '/', { 'User-Agent': 'kube-probe/1.30', 'K-Network-Probe': 'queue' }),
      get(port, '/', { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'h' })
    ])
    px.reporter.tick()
    const s = await statsGet()
    t.equal(s.type, 'application/protobuf')
    t.ok(s.len <= 336)
    t.equal(s.stat.podName, 'hello-00001-deployment-abc')
    const period = px.reporter.reportingPeriodMs / 1000
    t.equal(s.stat.requestCount, 3 / period, 'three requests; the two probes are not counted')
    t.equal(s.stat.proxiedRequestCount, 1 / period)
    t.ok((s.stat.averageConcurrentRequests as number) > 0, 'concurrency recorded')
    t.ok((s.stat.processUptime as number) > 0)
    const other = await get(px.ports.stats, '/other')
    t.equal(other.status, 404)
  })

  await t.test('user metrics: Prometheus text on its own port', async (t) => {
    const r = await get(px.ports.userMetrics, '/metrics')
    t.equal(r.status, 200)
    t.match(r.headers['content-type'], /text\/plain/)
    t.match(r.body, /kn_serving_invocation_duration_seconds_count\{[^}]*destination_revision="hello-00001"[^}]*\} \d+/)
    t.match(r.body, /iotless_proxy_responses_total\{code_class="2xx"[^}]*\} [1-9]/)
    t.match(r.body, /kn_serving_queue_depth/)
  })
})

t.test('an unreachable upstream gets 502', async (t) => {
  // A port nothing listens on: take one and free it.
  const deadPort = await freePort()
  const px = await startProxyInProcess(t, deadPort)
  const r = await get(px.ports.serving, '/')
  t.equal(r.status, 502)
  const r2 = await rawExchange(px.ports.serving, 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')
  t.same(parseResponses(r2.text).map((x) => x.status), [502, 502], 'the client connection survives a 502')
})

t.test('an upstream that dies mid-stream: 502 before the response, reset after', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const r = await get(px.ports.serving, '/exit')
  t.equal(r.status, 200)
  await new Promise((resolve) => up.child.once('exit', resolve))
  const r2 = await get(px.ports.serving, '/echo')
  t.equal(r2.status, 502, 'pooled connection to a dead upstream: retried once, then 502')
})
