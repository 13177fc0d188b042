// The W3C Trace Context headers HttpEventSender sends: beside the ce- ones for a binary-mode event by default
// (the sink target), instead of them for a knative target, beside the content type for a batch. A local HTTP
// server; no sleeps.
import t from 'tap'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { HttpEventSender } from '../../adapters/targets/httpEventSender.js'
import { KnativeTarget } from '../../adapters/targets/knativeTarget.js'

t.test('on the wire: ce-traceparent and traceparent, and a batch\'s traceparent beside its content type', async (t) => {
  const got: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => { got.push(req.headers); req.resume(); req.on('end', () => res.writeHead(204).end()) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  const sender = new HttpEventSender()
  t.teardown(async () => { await sender.close(); server.close() })
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'
  t.match(await sender.send(url, { specversion: '1.0', id: 'e1', source: 's', type: 'x', datacontenttype: 'application/json', iotlessattempt: '1', traceparent: tp }, Buffer.from('{}')), { status: 'ok' })
  t.match(await sender.send(url, { specversion: '1.0', id: 'b1', source: 's', type: 'x', datacontenttype: 'application/cloudevents-batch+json', traceparent: tp }, Buffer.from('[]')), { status: 'ok' })
  t.match(got[0], { 'ce-id': 'e1', 'ce-iotlessattempt': '1', 'content-type': 'application/json', 'ce-traceparent': tp, traceparent: tp })
  t.match(got[1], { 'content-type': 'application/cloudevents-batch+json', traceparent: tp })
  t.equal(got[1]?.['ce-id'], undefined, 'a batch carries its attributes in the body')
})

t.test('a knative target sends the context once, as the W3C headers; a sender left at its default sends both', async (t) => {
  const got: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => { got.push(req.headers); req.resume(); req.on('end', () => res.writeHead(204).end()) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const target = new KnativeTarget({ url: `${base}/{function}` })
  const sender = new HttpEventSender({ traceContext: 'w3c' })
  t.teardown(async () => { await target.close(); await sender.close(); server.close() })
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const attributes = { specversion: '1.0', id: 'e1', source: 's', type: 'x', datacontenttype: 'application/json', traceparent: tp, tracestate: 'k=v' }
  t.match(await target.dispatch('fn', { attributes, data: Buffer.from('{}') }), { status: 'ok' })
  t.match(await sender.send(new URL(`${base}/`), attributes, Buffer.from('{}')), { status: 'ok' })
  for (const h of got) {
    t.match(h, { 'ce-id': 'e1', traceparent: tp, tracestate: 'k=v' })
    t.equal(h['ce-traceparent'], undefined, 'no ce-traceparent')
    t.equal(h['ce-tracestate'], undefined, 'no ce-tracestate')
  }
  t.equal(got.length, 2)
})
