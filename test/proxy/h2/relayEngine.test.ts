import http2 from 'node:http2'
import t from 'tap'
import { RelayFront } from '../../../proxy/h2/relay/relayFront.js'
import { startProxyInProcess } from '../helpers.js'
import { connectH2, h2request, H2_UPSTREAM_JS, sleep, startFixture } from './h2helpers.js'

// What the relay engine (IOTLESS_PROXY_H2_ENGINE=relay) does on its own: stream ids remapped onto shared
// upstream connections, a new one past the user container's stream limit, every stream accounted for.
t.test('relay engine: streams of many clients multiplexed onto upstream connections within the user container\'s limit', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS, ['8'])
  const px = await startProxyInProcess(t, up, { IOTLESS_PROXY_H2_ENGINE: 'relay' })
  t.ok(px.h2 instanceof RelayFront, 'the relay engine serves prior knowledge')
  const relay = px.h2 as RelayFront
  const clients = [connectH2(t, px.ports.serving), connectH2(t, px.ports.serving), connectH2(t, px.ports.serving)]
  // 3 clients x 12 streams, each held 150 ms upstream: 36 at once against a limit of 8 per connection.
  const all = await Promise.all(clients.flatMap((s) => Array.from({ length: 12 }, (_, i) =>
    h2request(s, { ':path': '/echo', ':method': 'POST', 'x-n': String(i) }, `body ${i}`))))
  t.same(all.map((r) => r.status), all.map(() => 200))
  t.same(all.map((r) => r.body).sort(), clients.flatMap(() => Array.from({ length: 12 }, (_, i) => `body ${i}`)).sort(), 'each body came back on its own stream')
  t.ok(all.every((r) => r.trailers?.['x-trailer'] === 'done'), 'trailers relayed')
  t.ok(relay.upstream.sessions >= 1, `upstream connections: ${relay.upstream.sessions}`)
  const held = await Promise.all(Array.from({ length: 20 }, () => h2request(clients[0] as http2.ClientHttp2Session, { ':path': '/delay?ms=150' })))
  t.same(held.map((r) => r.status), held.map(() => 200))
  t.ok(relay.upstream.sessions >= 3, `20 held streams over a limit of 8 took ${relay.upstream.sessions} upstream connections`)
  for (let i = 0; i < 50 && px.ctx.stats.concurrency > 0; i++) await sleep(10)
  t.equal(px.ctx.stats.concurrency, 0, 'every stream counted out')
  t.equal(relay.exchanges.size, 0)
})

t.test('relay engine: a client that stops reading holds up the user container\'s stream, not the proxy\'s memory', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { IOTLESS_PROXY_H2_ENGINE: 'relay' })
  // A client window of 64 KiB (the default) that it never gives back: the proxy may not read past its own window.
  const s = http2.connect(`http://127.0.0.1:${px.ports.serving}`, { settings: { initialWindowSize: 65535 } })
  s.on('error', () => {})
  t.teardown(() => { s.destroy() })
  const mem0 = process.memoryUsage().arrayBuffers
  const req = s.request({ ':path': '/big?bytes=20000000' })
  req.on('error', () => {})
  req.pause()
  await sleep(1200)
  const grown = process.memoryUsage().arrayBuffers - mem0
  t.ok(grown < 8_000_000, `nothing piling up in the proxy (${grown} bytes more)`)
  let got = 0
  req.on('data', (c: Buffer) => { got += c.length })
  req.resume()
  await new Promise((resolve) => req.once('close', resolve))
  t.equal(got, 20_000_000, 'the whole body once the client reads again')
})
