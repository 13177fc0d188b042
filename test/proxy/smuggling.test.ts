import t from 'tap'
import http from 'node:http'
import { parseResponses, rawExchange, startProxyInProcess, startUpstream } from './helpers.js'

/**
 * Request-smuggling corpus. Every case hides `GET /smuggled-N` where a proxy that framed the request
 * differently from a strict parser would pass it on as a second request. Each must be refused with
 * 400 (or 431/501/505) and the connection closed, and the user container must never see /smuggled.
 */
const S = (n: number): string => `GET /smuggled-${n} HTTP/1.1\r\nHost: a\r\n\r\n`
const corpus: Array<[string, string, number]> = [
  ['CL then TE', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${S(1)}`, 400],
  ['TE then CL', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${S(2)}`, 400],
  ['two different Content-Length', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\n${S(3)}`, 400],
  ['two equal Content-Length', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 37\r\nContent-Length: 37\r\n\r\n${S(4)}`, 400],
  ['Content-Length list', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 37\r\n\r\n${S(5)}`, 400],
  ['Content-Length with sign', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +0\r\n\r\n${S(6)}`, 400],
  ['Content-Length hex', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x25\r\n\r\n${S(7)}`, 400],
  ['space before colon (TE)', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 37\r\n\r\n${S(8)}`, 400],
  ['space before colon (CL)', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 37\r\n\r\n${S(9)}`, 400],
  ['TE obfuscated value', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n${S(10)}`, 400],
  ['TE chunked then identity', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${S(11)}`, 400],
  ['TE gzip, chunked', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${S(12)}`, 501],
  ['obs-fold TE', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${S(13)}`, 400],
  ['obs-fold other header', `GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n${S(14)}`, 400],
  ['bare LF head', `GET / HTTP/1.1\nHost: a\n\n${S(15)}`, 400],
  ['bare LF in one header', `GET / HTTP/1.1\r\nHost: a\nContent-Length: 37\r\n\r\n${S(16)}`, 400],
  ['bare CR in header', `GET / HTTP/1.1\r\nHost: a\rContent-Length: 37\r\n\r\n${S(17)}`, 400],
  ['NUL in header value', `GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n${S(18)}`, 400],
  ['negative chunk size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n${S(19)}`, 400],
  ['0x chunk size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x25\r\n${S(20)}\r\n0\r\n\r\n`, 400],
  ['space after chunk size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n25 \r\n${S(21)}\r\n0\r\n\r\n`, 400],
  ['overflowing chunk size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000025\r\n${S(22)}\r\n0\r\n\r\n`, 400],
  ['chunk data longer than its size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n${S(23)}`, 400],
  ['bare LF after chunk size', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n${S(24)}`, 400],
  ['bare CR in chunk extension', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n${S(25)}`, 400],
  ['bare LF in trailer', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n${S(26)}`, 400],
  ['HTTP/1.0 with TE', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${S(27)}`, 400],
  ['two Host headers', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${S(28)}`, 400],
  ['no Host in HTTP/1.1', `GET / HTTP/1.1\r\nX: y\r\n\r\n${S(29)}`, 400],
  ['space in request target', `GET /a ${S(30)}`, 400],
  ['HTTP/2 version on a HTTP/1 port', `GET / HTTP/2.0\r\nHost: a\r\n\r\n${S(31)}`, 505],
  // Go's DefaultMaxHeaderBytes (1 MiB) + 4096, which queue-proxy keeps.
  ['oversized headers', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(1_048_576 + 4096)}\r\n\r\n${S(32)}`, 431],
  ['header name with a slash', `GET / HTTP/1.1\r\nHost: a\r\nContent/Length: 37\r\n\r\n${S(33)}`, 400],
  ['upgrade with a body', `POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\nContent-Length: 37\r\n\r\n${S(34)}`, 400],
  ['CONNECT tunnel', `CONNECT a:80 HTTP/1.1\r\nHost: a:80\r\n\r\n${S(35)}`, 501],
  // Request-target bytes llhttp refuses (so a Node user container would): the proxy refuses them first.
  ['obs-text in the request target', `GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n${S(36)}`, 400],
  ['HTAB in the request target', `GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n${S(37)}`, 400],
  ['relative request target', `GET a/b HTTP/1.1\r\nHost: a\r\n\r\n${S(38)}`, 400],
  ['absolute target without //', `GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n${S(39)}`, 400],
  ['absolute target with a bad host byte', `GET http://a"b/ HTTP/1.1\r\nHost: a\r\n\r\n${S(40)}`, 400]
]

t.test('smuggling corpus: refused, closed, and nothing smuggled reaches the user container', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  for (const [name, bytes, status] of corpus) {
    const r = await rawExchange(px.ports.serving, Buffer.from(bytes, 'latin1'), { idleMs: 1000 })
    t.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`)
    t.equal((r.text.match(/HTTP\/1\.1 \d\d\d /g) ?? []).length, 1, `${name}: exactly one response`)
    t.equal(r.closed, true, `${name}: connection closed`)
  }
  const seen = await new Promise<{ smuggled: string[] }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: up.port, path: '/__seen', agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve(JSON.parse(b) as { smuggled: string[] }))
    }).on('error', reject)
  })
  t.same(seen.smuggled, [], 'the user container saw no smuggled request')
  t.ok(px.ctx.counters.badRequest >= corpus.length)
})

t.test('an oversized head gets Go net/http\'s exact 431 answer, then the connection closes', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_MAX_HEADER_BYTES: '2048' })
  const r = await rawExchange(px.ports.serving, `GET /echo HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(2100)}\r\n\r\n`, { idleMs: 1000 })
  const [res] = parseResponses(r.text)
  t.equal(res?.status, 431)
  t.equal(res?.body, '431 Request Header Fields Too Large', 'the body net/http writes')
  t.equal(res?.headers['connection'], 'close')
  t.equal(r.closed, true)
  const fits = await rawExchange(px.ports.serving, `GET /echo HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(1900)}\r\n\r\n`, { idleMs: 300 })
  t.match(fits.text, /^HTTP\/1\.1 200 /, 'a head under the limit passes')
})

t.test('valid edge cases are not refused', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const ok: Array<[string, string]> = [
    ['leading empty line', '\r\nGET /echo HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['TE chunked in any case', 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n'],
    ['tab as OWS', 'GET /echo HTTP/1.1\r\nHost:\ta\t\r\n\r\n'],
    ['HTTP/1.0 without Host', 'GET /echo HTTP/1.0\r\n\r\n'],
    ['obs-text in a value', 'GET /echo HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n'],
    ['absolute-form target', 'GET http://a:80/echo?x=1 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['every visible ASCII byte in the target', 'GET /echo?"<>\\^`{|}~!$&\'()*+,;=:@[]%20# HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['chunk extensions with quotes', 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;name="v a"\r\nabc\r\n0\r\n\r\n']
  ]
  for (const [name, bytes] of ok) {
    const r = await rawExchange(px.ports.serving, Buffer.from(bytes, 'latin1'), { idleMs: 300 })
    t.match(r.text, /^HTTP\/1\.1 200 /, name)
  }
})
