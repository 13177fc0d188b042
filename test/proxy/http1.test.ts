import t from 'tap'
import { BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE, ChunkedFramer, findHeadEnd, forwardedFrom, HEAD_TOO_LARGE, PARSE_ERROR, PARSE_MORE, RequestHead, ResponseHead, withConnectionClose } from '../../proxy/http1.js'

const req = (s: string): RequestHead => { const h = new RequestHead(); h.parse(s); return h }

t.test('request framing', async (t) => {
  const table: Array<[string, number, number | string]> = [
    ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', BODY_NONE, 0],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n', BODY_LENGTH, 5],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n', BODY_NONE, 0],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n', BODY_CHUNKED, 0],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', -1, 'both Content-Length and Transfer-Encoding'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', -1, 'more than one Content-Length'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n', -1, 'malformed Content-Length'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n', -1, 'malformed Content-Length'],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', -1, 'does not end in chunked'],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', -1, 'not supported'],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n', -1, 'malformed header name'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n', -1, 'obsolete line folding'],
    ['GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', -1, 'bare CR or LF'],
    ['GET / HTTP/1.1\r\n\r\n', -1, 'missing Host'],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', -1, 'more than one Host'],
    ['GET / HTTP/1.0\r\n\r\n', BODY_NONE, 0],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', -1, 'version'],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', -1, 'request line'],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', -1, 'CONNECT']
  ]
  for (const [raw, kind, extra] of table) {
    const h = new RequestHead()
    const r = h.parse(raw)
    if (kind < 0) {
      t.equal(r, PARSE_ERROR, JSON.stringify(raw))
      t.match(h.failure.reason, String(extra))
    } else {
      t.equal(r, 0, JSON.stringify(raw))
      t.equal(h.bodyKind, kind)
      t.equal(h.contentLength, extra)
    }
  }
})

t.test('keep-alive, upgrade, probe and proxied markers', async (t) => {
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive, false)
  t.equal(req('GET / HTTP/1.0\r\n\r\n').keepAlive, false)
  t.equal(req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade, false, 'Upgrade without Connection: upgrade')
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: kube-probe/1.30\r\n\r\n').healthCheck, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: Knative-Activator-Probe\r\n\r\n').healthCheck, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: Knative-Autoscaling-Probe\r\n\r\n').healthCheck, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nK-Kubelet-Probe: x\r\n\r\n').healthCheck, true)
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8\r\n\r\n').healthCheck, false)
  const p = req('GET / HTTP/1.1\r\nHost: a\r\nK-Network-Probe: probe\r\nK-Network-Hash: abc\r\n\r\n')
  t.equal(p.networkProbe, 'probe')
  t.equal(p.networkHash, 'abc')
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\nK-Proxy-Request: activator\r\n\r\n').proxied, true)
})

t.test('hop-by-hop: Connection: close, Keep-Alive and Proxy-Connection are not forwarded (as Go\'s ReverseProxy)', async (t) => {
  const close = req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\nProxy-Connection: keep-alive\r\n\r\n')
  t.equal(close.keepAlive, false, 'the client connection still closes after the response')
  t.equal(close.rewrite(''), 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n')
  const split = req('GET / HTTP/1.1\r\nConnection: keep-alive\r\nHost: a\r\nconnection: Close\r\n\r\n')
  t.equal(split.rewrite(''), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'every Connection line goes when one of them says close')
  const keep = req('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n')
  const out = keep.rewriteBuf('', Buffer.from('\r\n'))
  t.ok(Buffer.isBuffer(out), 'Connection: keep-alive stays, on the copy-once path')
  t.equal(out.toString(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n')
  const up = req('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n')
  t.equal(up.upgrade, true)
  t.match(up.rewrite(''), /Connection: Upgrade, close\r\n/, 'an upgrade keeps its Connection line')
  const old = req('GET / HTTP/1.0\r\nConnection: close\r\n\r\n')
  t.match(old.rewrite(''), /Connection: close\r\n/, 'HTTP/1.0 keeps it (the upstream hears 1.0)')
  const tracedClose = req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nK-Original-Host: b\r\n\r\n')
  t.equal(tracedClose.rewrite(''), 'GET / HTTP/1.1\r\nHost: b\r\n\r\n', 'with other dropped lines, in order')
})

t.test('hop-by-hop, the rest of Go\'s list: TE, Trailer, Upgrade, Proxy-Authorization, and fields Connection names', async (t) => {
  const base = 'GET / HTTP/1.1\r\nHost: a\r\n'
  const out = (lines: string): string => req(base + lines + '\r\n').rewrite('')
  t.equal(out('TE: trailers\r\n'), base + 'TE: trailers\r\n\r\n', 'TE: trailers kept as it came')
  t.equal(out('TE: gzip\r\nX: 1\r\n'), base + 'X: 1\r\n\r\n', 'other TE dropped')
  t.equal(out('te: deflate;q=0.5, Trailers\r\n'), base + 'TE: trailers\r\n\r\n', 'a TE that lists trailers becomes TE: trailers')
  t.equal(out('TE: trailers\r\nTE: trailers\r\n'), base + 'TE: trailers\r\n\r\n', 'one TE line')
  t.equal(out('Proxy-Authorization: Basic eDp5\r\nProxy-Authenticate: x\r\n'), base + '\r\n')
  t.equal(out('Upgrade: websocket\r\n'), base + '\r\n', 'Upgrade without Connection: upgrade')
  t.equal(out('Trailer: X-Sum\r\nContent-Length: 1\r\n'), base + 'Content-Length: 1\r\n\r\n', 'Trailer without a chunked body')
  const chunked = 'POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n'
  t.equal(req(chunked).rewrite(''), chunked, 'Trailer with a chunked body: its trailers pass through, so does the announcement')
  t.equal(out('Connection: keep-alive, X-Hop, x-other\r\nX-Hop: 1\r\nX-Keep: 2\r\nX-Other: 3\r\n'),
    base + 'Connection: keep-alive, X-Hop, x-other\r\nX-Keep: 2\r\n\r\n', 'the fields Connection names go')
  t.equal(out('X-Hop: 1\r\nConnection: close\r\nConnection: X-Hop\r\n'), base + '\r\n', 'named in a second line, with close')
  const framed = 'POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host, Transfer-Encoding, TE\r\nContent-Length: 2\r\nTE: trailers\r\n\r\n'
  const f = req(framed)
  t.equal(f.rewrite(''), framed, 'never the fields that frame the message, nor TE: trailers (its own rule)')
  t.equal(f.bodyKind, BODY_LENGTH)
  const ws = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
  t.equal(req(ws).rewrite(''), ws, 'an upgrade keeps Upgrade')
  const old = req('GET / HTTP/1.0\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n')
  t.equal(old.rewrite(''), 'GET / HTTP/1.0\r\nConnection: keep-alive, X-Hop\r\n\r\n', 'HTTP/1.0 keeps its Connection, loses what it names')
  t.equal(old.keepAlive, true)
  const plain = req(base + 'Connection: keep-alive\r\nTE: trailers\r\n\r\n')
  t.ok(Buffer.isBuffer(plain.rewriteBuf('', Buffer.from('\r\n'))), 'nothing to drop: still the copy-once path')
})

t.test('a head of 20,000 hop-by-hop lines, named and listed, comes out right both ways', async (t) => {
  const names = Array.from({ length: 10_000 }, (_, i) => `X-h${i}`)
  const lines = names.map((n, i) => `${n}: 1\r\nKeep-Alive: ${i}\r\n`).join('')
  const req = new RequestHead()
  t.equal(req.parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: ' + names.join(',') + '\r\n' + lines + 'X-Keep: 1\r\n\r\n'), 0)
  t.equal(req.rewrite(''), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: ' + names.join(',') + '\r\nX-Keep: 1\r\n\r\n')
  const head = 'HTTP/1.1 200 OK\r\nConnection: ' + names.join(',') + '\r\n' + lines + 'Content-Length: 0\r\n\r\n'
  const res = new ResponseHead()
  const b = Buffer.from(head, 'latin1')
  t.equal(res.parseBuf(b, 0, b.length, false), 0)
  t.equal(b.toString('latin1', res.compact(b, 0)), 'HTTP/1.1 200 OK\r\nConnection: ' + names.join(',') + '\r\nContent-Length: 0\r\n\r\n')
})

t.test('response hop-by-hop lines come out in place, the body untouched', async (t) => {
  const r = new ResponseHead()
  const cases: Array<[string, string]> = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nDate: d\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nDate: d\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTE: x\r\nProxy-Connection: y\r\nTrailer: X-S\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nX-Hop: 1\r\nConnection: X-Hop, content-length\r\nX-A: 2\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\n',
      'HTTP/1.1 200 OK\r\nConnection: X-Hop, content-length\r\nX-A: 2\r\nContent-Length: 2\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTrailer: X-S\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP/1.1 200 OK\r\nTrailer: X-S\r\nTransfer-Encoding: chunked\r\n\r\n']
  ]
  for (const [head, want] of cases) {
    const pre = 'HTTP/1.1 100 Continue\r\n\r\n'
    const buf = Buffer.from(pre + head + 'ok', 'latin1')
    const end = pre.length + head.length
    t.equal(r.parseBuf(buf, pre.length, end, false), 0, JSON.stringify(head))
    t.equal(r.hasHopByHop, head !== want)
    const from = r.compact(buf, pre.length)
    t.equal(buf.toString('latin1', from, end), want, JSON.stringify(head))
    t.equal(buf.toString('latin1', end), 'ok', 'the body after the head is where it was')
    t.equal(buf.toString('latin1', 0, pre.length), pre, 'the interim head before it is untouched')
  }
})

t.test('header rewrite', async (t) => {
  const h = req('GET /x HTTP/1.1\r\nHost: public.example\r\nKnative-Serving-Revision: r1\r\nK-Original-Host: orig.example\r\ntraceparent: 00-abc-def-01\r\nKnative-Serving-Namespace: ns\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n\r\n')
  t.equal(h.rewrite('X-Forwarded-For: 127.0.0.1\r\n'),
    'GET /x HTTP/1.1\r\nHost: orig.example\r\ntraceparent: 00-abc-def-01\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n' +
    'Forwarded: for=10.0.0.1;proto=https, for=10.0.0.2\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n')
  const plain = req('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  t.equal(plain.rewrite(''), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'nothing to add without X-Forwarded-*')
  const fwd = req('GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n')
  t.notMatch(fwd.rewrite(''), /for=2\.2\.2\.2/, 'an existing Forwarded is kept as is')
  t.equal(forwardedFrom('::1', '', 'h.example'), 'for="[::1]";host=h.example')
  t.equal(forwardedFrom('', 'http', ''), 'proto=http')
})

t.test('findHeadEnd', async (t) => {
  const b = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nrest')
  t.equal(findHeadEnd(b, 0, 1000), b.length - 4)
  t.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r'), 0, 1000), PARSE_MORE)
  t.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\nHost: a'), 0, 1000), PARSE_ERROR, 'a bare LF fails before the head completes')
  t.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(100)), 0, 50), HEAD_TOO_LARGE)
})

t.test('response framing', async (t) => {
  const r = new ResponseHead()
  const table: Array<[string, boolean, number, boolean]> = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', false, BODY_LENGTH, true],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', false, BODY_CHUNKED, true],
    ['HTTP/1.1 200 OK\r\n\r\n', false, BODY_CLOSE, false],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', true, BODY_NONE, true],
    ['HTTP/1.1 204 No Content\r\n\r\n', false, BODY_NONE, true],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', false, BODY_NONE, true],
    ['HTTP/1.1 100 Continue\r\n\r\n', false, BODY_NONE, true],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n', false, BODY_LENGTH, false],
    ['HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n', false, BODY_LENGTH, false],
    ['HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n', false, BODY_LENGTH, true]
  ]
  for (const [raw, head, kind, reusable] of table) {
    t.equal(r.parse(raw, head), 0, raw)
    t.equal(r.bodyKind, kind, raw)
    t.equal(r.reusable, reusable, raw)
  }
  t.equal(r.parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', false), PARSE_ERROR)
  t.equal(r.parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', false), PARSE_ERROR)
  t.equal(r.parse('HTTP/1.1 2000 OK\r\n\r\n', false), PARSE_ERROR)
  t.equal(withConnectionClose('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\n'),
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n')
})

t.test('chunked framer: finds the end at any split, rejects bad framing', async (t) => {
  const body = Buffer.from('5\r\nhello\r\n1a;ext=1\r\n' + 'x'.repeat(26) + '\r\n0\r\nTrailer: v\r\n\r\nNEXT')
  const end = body.length - 4
  for (let split = 0; split <= body.length; split++) {
    const f = new ChunkedFramer()
    const a = f.feed(body, 0, split)
    const r = a >= 0 ? a : f.feed(body, split, body.length)
    t.equal(r, end, `split at ${split}`)
  }
  const bad = ['g\r\n', '5 \r\nhello\r\n0\r\n\r\n', '5\nhello', '5\r\nhelloX\r\n', '-1\r\n', '\r\n', '1234567890abcd\r\n', '0\r\nX: y\n\r\n', '0\r\n y\r\n\r\n', '5;\x01\r\n']
  for (const b of bad) {
    const f = new ChunkedFramer()
    t.equal(f.feed(Buffer.from(b, 'latin1'), 0, b.length), PARSE_ERROR, JSON.stringify(b))
  }
})

t.test('rewriteBuf gives the same bytes as rewrite, from a head read in place', async (t) => {
  const heads = [
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
    'POST /x?y=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ntraceparent: 00-abc-def-01\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: p\r\nK-Original-Host: o\r\nKnative-Serving-Revision: r\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: p\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n'
  ]
  for (const raw of heads) {
    const pre = 'JUNK'
    const buf = Buffer.from(pre + raw + 'NEXT', 'latin1')
    const h = new RequestHead()
    t.equal(h.parseBuf(buf, pre.length, pre.length + raw.length), 0)
    t.equal(h.raw, raw, 'raw is the head alone')
    const line = 'X-Forwarded-For: 127.0.0.1\r\n'
    const out = h.rewriteBuf(line, Buffer.from(line + '\r\n', 'latin1'))
    t.equal(typeof out === 'string' ? out : out.toString('latin1'), h.rewrite(line), JSON.stringify(raw))
  }
  t.equal(req('GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n').target, '/a?b')
  t.equal(req('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'HEAD')
  t.equal(req('PURGE / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'PURGE')
})
