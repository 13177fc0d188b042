import http2 from 'node:http2'
import t, { type Test } from 'tap'
import { PREFACE } from '../../../proxy/h2/preface.js'
import { startProxyInProcess } from '../helpers.js'
import { connectH2, h2request, H2_UPSTREAM_JS, sleep, startFixture } from './h2helpers.js'
import { F_END_HEADERS, F_END_STREAM, frame, headerBlock, rawSession, requestBlock, rstFrame, settingsFrame, T_CONTINUATION, T_HEADERS } from './rawH2.js'

const PROTOCOL_ERROR = 1

/** Streams the user container has seen (the fixture counts them), asked directly. */
async function upstreamStreams (t: Test, up: number): Promise<number> {
  const s = connectH2(t, up)
  const r = await h2request(s, { ':path': '/__seen' })
  s.close()
  return (JSON.parse(r.body) as { streams: number }).streams
}

t.test('HTTP/2 abuse is refused without a crash or a hang', async (t) => {
  const up = await startFixture(t, H2_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { IOTLESS_PROXY_MAX_HEADER_BYTES: '4096', IOTLESS_PROXY_HEADER_TIMEOUT_MS: '300', IOTLESS_PROXY_H2_PING_MS: '200', CONTAINER_CONCURRENCY: '0' })
  const port = px.ports.serving
  const stillServes = async (what: string): Promise<void> => {
    const s = connectH2(t, port)
    const r = await h2request(s, { ':path': '/hello' })
    t.equal(r.status, 200, `still serving after ${what}`)
    s.close()
  }

  await t.test('malformed preface: SETTINGS, GOAWAY PROTOCOL_ERROR, close', async (t) => {
    const r = rawSession(port, { preface: false })
    r.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'latin1'))
    const res = await r.done
    t.equal(res.goaway, PROTOCOL_ERROR)
    t.ok(res.closed)
  })

  await t.test('a preface that stalls part-way is closed after the header timeout', async (t) => {
    const started = Date.now()
    const r = rawSession(port, { preface: false, idleMs: 3000 })
    r.write(PREFACE.subarray(0, 10))
    const res = await r.done
    t.ok(res.closed)
    t.ok(Date.now() - started < 2500, 'closed by the proxy, not by the test')
  })

  await t.test('rapid reset (CVE-2023-44487): GOAWAY, close, and no reset stream reached the user container', async (t) => {
    const before = await upstreamStreams(t, up)
    // Generous: under load the 3000 streams take a while, and this idle timer started before they did.
    const r = rawSession(port, { idleMs: 4000 })
    const frames: Buffer[] = []
    for (let i = 0; i < 3000; i++) {
      const id = 1 + 2 * i
      frames.push(frame(T_HEADERS, F_END_STREAM | F_END_HEADERS, id, requestBlock('/delay?ms=1000')), rstFrame(id, 8))
    }
    r.write(Buffer.concat(frames))
    const res = await r.done
    t.not(res.goaway, null, `GOAWAY (code ${String(res.goaway)})`)
    t.ok(res.closed, `connection closed (goaway ${String(res.goaway)}, bytes ${res.bytes}, resetBeforeStart ${px.h2.resetBeforeStart}, dead ${px.h2.deadSessions}, sessions ${px.h2.sessions.size})`)
    t.equal(await upstreamStreams(t, up) - before, 0, 'the user container saw none of the reset streams')
    t.ok(px.h2.resetBeforeStart > 0)
    for (let i = 0; i < 50 && px.ctx.stats.concurrency > 0; i++) await sleep(10)
    t.equal(px.ctx.stats.concurrency, 0)
    await stillServes('rapid reset')
  })

  await t.test('CONTINUATION flood: GOAWAY and close, not an unbounded header buffer', async (t) => {
    const r = rawSession(port, { idleMs: 1000 })
    const parts = [frame(T_HEADERS, F_END_STREAM, 1, requestBlock('/'))]
    const c = frame(T_CONTINUATION, 0, 1, headerBlock([['x-a', 'b'.repeat(100)]]))
    for (let i = 0; i < 20000; i++) parts.push(c)
    r.write(Buffer.concat(parts))
    const res = await r.done
    t.not(res.goaway, null, `GOAWAY (code ${String(res.goaway)})`)
    t.ok(res.closed)
    await stillServes('a CONTINUATION flood')
  })

  await t.test('a header list over SETTINGS_MAX_HEADER_LIST_SIZE: 431, as Go answers it, not counted', async (t) => {
    const s = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1 << 20 })
    s.on('error', () => {})
    t.teardown(() => { s.destroy() })
    const before = await upstreamStreams(t, up)
    const r = await h2request(s, { ':path': '/hello', 'x-big': 'a'.repeat(5000) })
    t.equal(r.status, 431, `431 (got ${r.status}, rst ${r.rstCode})`)
    t.equal(await upstreamStreams(t, up) - before, 0, 'not proxied')
    const ok = await h2request(s, { ':path': '/hello', 'x-small': 'a'.repeat(1000) })
    t.equal(ok.status, 200, 'the same connection serves a request under the limit')
  })

  await t.test('a SETTINGS frame with more entries than Go accepts (100): GOAWAY and close', async (t) => {
    const r = rawSession(port, { idleMs: 1500 })
    r.write(settingsFrame(Array.from({ length: 101 }, (): [number, number] => [2, 0])))
    const res = await r.done
    t.not(res.goaway, null, `GOAWAY (code ${String(res.goaway)}, ${res.goawayDebug})`)
    t.ok(res.closed)
    await stillServes('an oversized SETTINGS frame')
  })

  await t.test('more concurrent streams than SETTINGS_MAX_CONCURRENT_STREAMS (250): refused, the proxy stays up', async (t) => {
    const r = rawSession(port, { idleMs: 1500 })
    await sleep(100) // our SETTINGS are ACKed by then, so the client knows the limit
    const frames: Buffer[] = []
    for (let i = 0; i < 300; i++) frames.push(frame(T_HEADERS, F_END_STREAM | F_END_HEADERS, 1 + 2 * i, requestBlock('/delay?ms=300')))
    r.write(Buffer.concat(frames))
    const res = await r.done
    t.not(res.goaway, null, `GOAWAY (code ${String(res.goaway)})`)
    t.ok(res.closed)
    for (let i = 0; i < 100 && px.ctx.stats.concurrency > 0; i++) await sleep(10)
    t.equal(px.ctx.stats.concurrency, 0, 'every stream accounted for')
    await stillServes('a stream flood')
  })
})
