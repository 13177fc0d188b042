/**
 * A client that goes away must give back what it held: its breaker slot, its place in the queue and its
 * upstream connection (cancelled, never pooled). And a connection that says nothing is closed in time.
 * Go's net/http cancels a request's context when the client's connection reads EOF (connReader.backgroundRead),
 * and the queue-proxy's ReverseProxy then cancels the upstream request; these tests hold iotless to that.
 */
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import type { QueueProxy } from '../../proxy/startQueueProxy.js'
import { sleep, startProxyInProcess, startUpstream } from './helpers.js'

interface Seen { requests: number; aborted: number }

function seen (port: number): Promise<Seen> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/__seen', agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve(JSON.parse(b) as Seen))
    }).on('error', reject)
  })
}

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

/** Connects, writes `data`, waits `holdMs`, then leaves the way `how` says. */
async function sendAndLeave (port: number, data: string, holdMs: number, how: 'end' | 'reset'): Promise<void> {
  const s = net.connect({ port, host: '127.0.0.1' })
  s.on('error', () => {})
  await new Promise((resolve) => s.once('connect', resolve))
  s.write(data)
  await sleep(holdMs)
  if (how === 'end') s.end()
  else s.resetAndDestroy()
  await new Promise((resolve) => { if (s.closed) resolve(undefined); else s.once('close', resolve); setTimeout(resolve, 200) })
  s.destroy()
}

async function until (cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!cond() && Date.now() < deadline) await sleep(10)
  return cond()
}

const idleBreaker = (px: QueueProxy) => (): boolean => px.ctx.breaker !== null && px.ctx.breaker.inFlight === 0 && px.ctx.breaker.waiting === 0

t.test('a client that leaves mid-body frees its CONTAINER_CONCURRENCY=1 slot at once and cancels the upstream', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '30' })
  for (const how of ['end', 'reset'] as const) {
    const before = await seen(up.port)
    await sendAndLeave(px.ports.serving, 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhello', 150, how)
    t.ok(await until(idleBreaker(px), 1000), `${how}: the slot is back within a second, not after REVISION_TIMEOUT_SECONDS`)
    const next = await get(px.ports.serving, '/status')
    t.equal(next.status, 200, `${how}: the next request is served`)
    t.ok(next.ms < 1000, `${how}: at once (${next.ms} ms)`)
    await until(() => false, 100)
    const after = await seen(up.port)
    t.equal(after.aborted - before.aborted, 1, `${how}: the upstream saw its request cancelled`)
  }
  t.equal(px.ctx.stats.concurrency, 0, 'out of the autoscaler concurrency')
})

t.test('a client that gives up on a slow request frees its slot and the upstream request is cancelled', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '30' })
  for (const how of ['end', 'reset'] as const) {
    const before = await seen(up.port)
    await sendAndLeave(px.ports.serving, 'GET /delay?ms=5000 HTTP/1.1\r\nHost: a\r\n\r\n', 150, how)
    t.ok(await until(idleBreaker(px), 1000), `${how}: slot back while the upstream would still be sleeping`)
    const next = await get(px.ports.serving, '/status')
    t.equal(next.status, 200)
    t.ok(next.ms < 1000, `${how}: the next request did not wait for the abandoned one (${next.ms} ms)`)
    await sleep(100)
    const after = await seen(up.port)
    t.equal(after.aborted - before.aborted, 1, `${how}: the abandoned upstream request was cancelled`)
  }
  t.equal(px.ctx.pool.size, px.ctx.pool.idleCount, 'no upstream connection is left owned by a gone client')
})

t.test('a client that leaves while queued is taken out of the queue and never reaches the upstream', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '30' })
  const before = await seen(up.port)
  const first = get(px.ports.serving, '/delay?ms=800')
  await until(() => (px.ctx.breaker?.inFlight ?? 0) === 1, 1000)
  await sendAndLeave(px.ports.serving, 'GET /delay?ms=3000 HTTP/1.1\r\nHost: a\r\n\r\n', 100, 'end')
  t.ok(await until(() => px.ctx.breaker?.waiting === 0, 500), 'out of the queue when its client left')
  t.equal((await first).status, 200)
  await sleep(100)
  const after = await seen(up.port)
  t.equal(after.requests - before.requests, 1, 'only the first request reached the upstream (/__seen is not counted)')
  t.ok(await until(idleBreaker(px), 500))
})

t.test('a request that times out while queued leaves the queue with a 504 and is never dispatched later', async (t) => {
  const up = await startUpstream(t)
  // The first request holds the only slot for 3 s, writing every 300 ms, so the idle timeout spares it;
  // the queued one writes nothing, so its 1 s idle timeout fires while the slot is still taken.
  const px = await startProxyInProcess(t, up.port, { CONTAINER_CONCURRENCY: '1', REVISION_TIMEOUT_SECONDS: '30', REVISION_IDLE_TIMEOUT_SECONDS: '1' })
  const before = await seen(up.port)
  const first = get(px.ports.serving, '/trickle?every=300&n=10')
  await until(() => (px.ctx.breaker?.inFlight ?? 0) === 1, 1000)
  const queued = get(px.ports.serving, '/status')
  t.ok(await until(() => px.ctx.breaker?.waiting === 1, 1000), 'queued behind the first')
  const r = await queued
  t.equal(r.status, 504)
  t.equal(r.body, 'request timeout')
  t.ok(r.ms < 2500, `answered at its deadline, while the slot was still taken (${r.ms} ms)`)
  t.equal(px.ctx.breaker?.waiting, 0, 'out of the queue')
  t.equal((await first).body, '..........', 'the first ran to its end')
  await sleep(100)
  const after = await seen(up.port)
  t.equal(after.requests - before.requests, 1, 'the timed-out request never reached the upstream, not even once the slot was free')
  t.ok(await until(idleBreaker(px), 1000), 'nothing left queued or held')
})

t.test('a connection that sends nothing is closed after IOTLESS_PROXY_HEADER_TIMEOUT_MS (Go ReadHeaderTimeout)', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_HEADER_TIMEOUT_MS: '400' })
  const s = net.connect({ port: px.ports.serving, host: '127.0.0.1' })
  s.on('error', () => {})
  const t0 = Date.now()
  let closedAt = 0
  s.on('close', () => { closedAt = Date.now() })
  s.resume()
  t.ok(await until(() => closedAt > 0, 2000), 'closed by the proxy')
  t.ok(closedAt - t0 >= 350, `not before the timeout (${closedAt - t0} ms)`)
  s.destroy()
})

t.test('an idle keep-alive connection is closed after IOTLESS_PROXY_KEEPALIVE_IDLE_MS; a busy one is not', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_KEEPALIVE_IDLE_MS: '1500' })
  const s = net.connect({ port: px.ports.serving, host: '127.0.0.1' })
  s.on('error', () => {})
  let got = ''
  let closedAt = 0
  s.on('data', (d: Buffer) => { got += d.toString('latin1') })
  s.on('close', () => { closedAt = Date.now() })
  await new Promise((resolve) => s.once('connect', resolve))
  // Requests every 200 ms for 1 s: each restarts the idle clock.
  for (let i = 0; i < 5; i++) { s.write('GET /status HTTP/1.1\r\nHost: a\r\n\r\n'); await sleep(200) }
  t.equal(closedAt, 0, 'open while requests come')
  t.equal(got.split('HTTP/1.1 200').length - 1, 5)
  const quietFrom = Date.now()
  t.ok(await until(() => closedAt > 0, 4000), 'closed once idle')
  t.ok(closedAt - quietFrom >= 1000, `after about the idle timeout (${closedAt - quietFrom} ms)`)
  s.destroy()
})

t.test('a request whose full body arrived is still answered when the client half-closes after pipelining', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const s = net.connect({ port: px.ports.serving, host: '127.0.0.1', allowHalfOpen: true })
  let got = ''
  s.on('data', (d: Buffer) => { got += d.toString('latin1') })
  const closed = new Promise((resolve) => s.on('close', resolve))
  await new Promise((resolve) => s.once('connect', resolve))
  s.end('GET /delay?ms=100 HTTP/1.1\r\nHost: a\r\n\r\nGET /status HTTP/1.1\r\nHost: a\r\n\r\n')
  await Promise.race([closed, sleep(2000)])
  t.equal(got.split('HTTP/1.1 200').length - 1, 2, 'both pipelined requests answered before the close')
})
