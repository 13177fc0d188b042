import t from 'tap'
import { goawayFrame, PREFACE, sniffPreface, SNIFF_BAD, SNIFF_H2, SNIFF_HTTP1, SNIFF_MORE } from '../../../proxy/h2/preface.js'
import { headerListBytes } from '../../../proxy/h2/h2Exchange.js'
import { upstreamHeaders } from '../../../proxy/h2/h2Headers.js'
import { upstreamFields } from '../../../proxy/h2/relay/relayHeaders.js'
import { bodyFrames, parseH2cUpgrade } from '../../../proxy/h2/h2cUpgrade.js'

t.test('sniffPreface tells HTTP/1.1 from HTTP/2 on the first bytes', async (t) => {
  t.equal(sniffPreface(Buffer.from('GET / HTTP/1.1\r\n')), SNIFF_HTTP1, 'decided on the first byte')
  t.equal(sniffPreface(Buffer.from('P')), SNIFF_MORE)
  t.equal(sniffPreface(Buffer.from('POST / HTTP/1.1\r\n')), SNIFF_HTTP1)
  t.equal(sniffPreface(Buffer.from('PRI /x HTTP/1.1\r\n')), SNIFF_HTTP1, 'a PRI request that is not the preface is HTTP/1.1')
  t.equal(sniffPreface(PREFACE.subarray(0, 20)), SNIFF_MORE)
  t.equal(sniffPreface(PREFACE), SNIFF_H2)
  t.equal(sniffPreface(Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4])])), SNIFF_H2)
  t.equal(sniffPreface(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n')), SNIFF_BAD, 'the request line right, the rest wrong')
  t.equal(sniffPreface(Buffer.alloc(0)), SNIFF_MORE)
})

t.test('goawayFrame', async (t) => {
  const f = goawayFrame(7, 1, 'x')
  t.equal(f.readUIntBE(0, 3), 9)
  t.equal(f[3], 7)
  t.equal(f.readUInt32BE(9), 7)
  t.equal(f.readUInt32BE(13), 1)
  t.equal(f.subarray(17).toString(), 'x')
})

t.test('header list size counts name + value + 32 per field', async (t) => {
  t.equal(headerListBytes({ ':path': '/', a: ['b', 'cc'] }), (5 + 1 + 32) + (1 + 1 + 32) + (1 + 2 + 32))
})

t.test('upstream headers: hop-by-hop dropped, te only as trailers, X-Forwarded-For appended', async (t) => {
  const h = upstreamHeaders({ ':method': 'GET', ':path': '/', connection: 'x', 'keep-alive': '1', te: 'gzip', 'x-forwarded-for': 'a, b', forwarded: 'for=z' }, '1.2.3.4')
  t.equal(h.connection, undefined)
  t.equal(h['keep-alive'], undefined)
  t.equal(h.te, undefined)
  t.equal(h['x-forwarded-for'], 'a, b, 1.2.3.4')
  t.equal(h.forwarded, 'for=z', 'an existing Forwarded is kept, not rebuilt')
  t.equal(upstreamHeaders({ te: 'Trailers' }, '').te, 'trailers')
  const creds = upstreamHeaders({ ':method': 'GET', 'proxy-authorization': 'Basic eDp5', 'proxy-authenticate': 'x', trailer: 'grpc-status' }, '')
  t.equal(creds['proxy-authorization'], undefined, 'the client\'s proxy credentials stay with the proxy (Go\'s hop list)')
  t.equal(creds['proxy-authenticate'], undefined)
  t.equal(creds.trailer, 'grpc-status', 'Trailer is legal in HTTP/2 and announces trailers that pass through')
  t.same(upstreamFields([':method', 'GET', 'proxy-authorization', 'Basic eDp5', 'x-a', '1'], '', null), [':method', 'GET', 'x-a', '1'], 'the relay engine too')
})

t.test('parseH2cUpgrade takes bodiless and small Content-Length upgrades only', async (t) => {
  const ok = Buffer.from('GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nUser-Agent: t\r\n\r\n')
  const u = parseH2cUpgrade(ok)
  t.ok(u !== null)
  t.equal(u?.headEnd, ok.length)
  t.equal(u?.bodyLength, 0)
  t.equal(u?.headers[3], 1, 'a HEADERS frame')
  t.equal(u?.headers[4], 0x5, 'END_STREAM | END_HEADERS')
  t.equal(u?.headers.readUInt32BE(5), 1, 'on stream 1')
  t.match(u?.headers.toString('latin1') ?? '', /:authority.a.*user-agent.t/s)
  t.notMatch(u?.headers.toString('latin1') ?? '', /http2-settings|upgrade|connection/i, 'connection-specific fields dropped')
  t.equal(parseH2cUpgrade(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), null, 'not an upgrade')
  t.equal(parseH2cUpgrade(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nHTTP2-Settings: x\r\n\r\n')), null, 'Connection lacks HTTP2-Settings (Go\'s rule)')
  t.equal(parseH2cUpgrade(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: x\r\nTransfer-Encoding: chunked\r\n\r\n')), null, 'chunked body: HTTP/1.1')
  t.equal(parseH2cUpgrade(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: x\r\nContent-Length: 99999999\r\n\r\n')), null, 'large body: HTTP/1.1')
  const post = parseH2cUpgrade(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: x\r\nContent-Length: 5\r\n\r\nhello'))
  t.equal(post?.bodyLength, 5)
  t.equal(post?.headers[4], 0x4, 'END_HEADERS only: DATA follows')
  const d = bodyFrames(Buffer.alloc(20000))
  t.equal(d.readUIntBE(0, 3), 16384)
  t.equal(d[4], 0)
  t.equal(d.readUIntBE(9 + 16384, 3), 20000 - 16384)
  t.equal(d[9 + 16384 + 4], 1, 'END_STREAM on the last DATA frame')
})
