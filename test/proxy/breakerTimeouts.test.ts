import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { parseResponses, rawExchange, sleep, startProxyInProcess, startUpstream } from './helpers.js'

function get (port: number, path: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, ms: Date.now() - t0 }))
      res.on('error', () => resolve({ status: -1, body: b, ms: Date.now() - t0 }))
    })
    req.on('error', () => resolve({ status: -1, body: '', ms: Date.now() - t0 }))
    req.end()
  })
}

t.test('CONTAINER_CONCURRENCY=1: one in flight, ten queued, the twelfth refused with 503 at once', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1' })
  const port = px.ports.serving
  const slow = Array.from({ length: 11 }, () => get(port, '/delay?ms=100'))
  for (let i = 0; i < 100 && px.ctx.breaker !== null && px.ctx.breaker.inFlight + px.ctx.breaker.waiting < 11; i++) await sleep(5)
  t.equal(px.ctx.breaker?.inFlight, 1)
  t.equal(px.ctx.breaker?.waiting, 10)
  const refused = await get(port, '/status')
  t.equal(refused.status, 503)
  t.equal(refused.body, 'pending request queue full\n')
  t.ok(refused.ms < 90, `refused at once (${refused.ms} ms), not after waiting`)
  const results = await Promise.all(slow)
  t.same(results.map((r) => r.status), Array(11).fill(200), 'all eleven served, one at a time')
  t.ok(Math.max(...results.map((r) => r.ms)) >= 1000, 'serialised: the last waited for ten others')
  t.equal(px.ctx.breaker?.inFlight, 0)
})

t.test('CONTAINER_CONCURRENCY=0: no limit', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '0' })
  t.equal(px.ctx.breaker, null)
  const t0 = Date.now()
  const results = await Promise.all(Array.from({ length: 30 }, () => get(px.ports.serving, '/delay?ms=300')))
  t.same(results.map((r) => r.status), Array(30).fill(200))
  t.ok(Date.now() - t0 < 2000, 'ran concurrently')
})

t.test('a client that leaves while queued gives its place back', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1' })
  const first = get(px.ports.serving, '/delay?ms=300')
  await sleep(50)
  await rawExchange(px.ports.serving, 'GET /status HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 50 })
  await first
  for (let i = 0; i < 50 && (px.ctx.breaker?.waiting ?? 0) + (px.ctx.breaker?.inFlight ?? 0) > 0; i++) await sleep(10)
  t.equal(px.ctx.breaker?.waiting, 0)
  t.equal(px.ctx.breaker?.inFlight, 0)
  t.equal((await get(px.ports.serving, '/status')).status, 200)
})

t.test('timeouts answer 504 "request timeout"', async (t) => {
  const up = await startUpstream(t)
  await t.test('REVISION_TIMEOUT_SECONDS', async (t) => {
    const px = await startProxyInProcess(t, up.port, { REVISION_TIMEOUT_SECONDS: '1' })
    const r = await get(px.ports.serving, '/delay?ms=3000')
    t.equal(r.status, 504)
    t.equal(r.body, 'request timeout')
    t.ok(r.ms >= 1000 && r.ms < 1800, `${r.ms} ms`)
    t.equal((await get(px.ports.serving, '/delay?ms=100')).status, 200, 'a quick one still passes')
  })
  await t.test('REVISION_RESPONSE_START_TIMEOUT_SECONDS: only before the response starts', async (t) => {
    const px = await startProxyInProcess(t, up.port, { REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1' })
    const r = await get(px.ports.serving, '/delay?ms=3000')
    t.equal(r.status, 504)
    t.equal(r.body, 'request timeout')
    const trickle = await get(px.ports.serving, '/trickle?every=300&n=6')
    t.equal(trickle.status, 200, 'a response that started in time may run longer')
    t.equal(trickle.body, '......')
  })
  await t.test('REVISION_IDLE_TIMEOUT_SECONDS: time since the last write', async (t) => {
    const px = await startProxyInProcess(t, up.port, { REVISION_IDLE_TIMEOUT_SECONDS: '1' })
    const r = await get(px.ports.serving, '/delay?ms=3000')
    t.equal(r.status, 504)
    t.equal(r.body, 'request timeout')
    const ok = await get(px.ports.serving, '/trickle?every=300&n=5')
    t.equal(ok.body, '.....', 'writes every 300 ms keep it alive past 1 s')
    const cut = await rawExchange(px.ports.serving, 'GET /trickle?every=1500&n=3 HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 3000 })
    t.equal(cut.closed, true, 'once the response has started, a timeout aborts the connection')
    t.equal(parseResponses(cut.text)[0]?.status, 200)
  })
})

/** Opens a tunnel through the proxy; resolves once the 101 arrived. */
async function openTunnel (port: number): Promise<{ s: net.Socket; closedAt: () => number; got: () => string }> {
  const s = net.connect({ port, host: '127.0.0.1' })
  let got = ''
  let closedAt = 0
  s.on('data', (d: Buffer) => { got += d.toString('latin1') })
  s.on('close', () => { closedAt = Date.now() })
  s.on('error', () => {})
  await new Promise((resolve) => s.once('connect', resolve))
  s.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n')
  for (let i = 0; i < 100 && !got.includes('\r\n\r\n'); i++) await sleep(10)
  return { s, closedAt: () => closedAt, got: () => got }
}

t.test('tunnels: REVISION_TIMEOUT_SECONDS bounds an upgraded connection even while it is busy', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { REVISION_TIMEOUT_SECONDS: '1' })
  const t0 = Date.now()
  const tun = await openTunnel(px.ports.serving)
  t.match(tun.got(), /^HTTP\/1\.1 101 /)
  while (tun.closedAt() === 0 && Date.now() - t0 < 4000) { tun.s.write('x'); await sleep(150) }
  t.ok(tun.closedAt() > 0, 'closed by the proxy')
  t.ok(tun.closedAt() - t0 >= 900, `not before the timeout (${tun.closedAt() - t0} ms)`)
  t.match(tun.got(), /XXX/, 'it was carrying traffic')
  t.equal(px.ctx.counters.timeouts, 1)
  for (let i = 0; i < 50 && px.queue.tunnels > 0; i++) await sleep(10)
  t.equal(px.queue.tunnels, 0)
  t.equal(px.ctx.stats.concurrency, 0, 'the tunnel left the autoscaler concurrency')
})

t.test('tunnels: REVISION_IDLE_TIMEOUT_SECONDS closes an upgraded connection without traffic either way', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { REVISION_TIMEOUT_SECONDS: '30', REVISION_IDLE_TIMEOUT_SECONDS: '1' })
  const tun = await openTunnel(px.ports.serving)
  const t0 = Date.now()
  // Traffic every 250 ms for 1.6 s keeps it open past the idle timeout.
  while (Date.now() - t0 < 1600) { tun.s.write('y'); await sleep(250) }
  t.equal(tun.closedAt(), 0, 'still open while bytes flow')
  const quietFrom = Date.now()
  for (let i = 0; i < 300 && tun.closedAt() === 0; i++) await sleep(10)
  t.ok(tun.closedAt() > 0, 'closed once quiet')
  t.ok(tun.closedAt() - quietFrom >= 600, `after about the idle timeout (${tun.closedAt() - quietFrom} ms of quiet)`)
  t.equal(px.ctx.counters.timeouts, 1)
})
