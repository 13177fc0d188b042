/**
 * The accept seam (QueueServer's onAccept, passed through startQueueProxy): a handler that reads a
 * connection's first bytes itself and then either takes the socket or hands it to HTTP/1.1 with those bytes.
 * This is the hook a protocol sniffer (HTTP/2 prior knowledge) plugs into.
 */
import t from 'tap'
import { readProxyEnv } from '../../proxy/env.js'
import type { AcceptHandler } from '../../proxy/queueServer.js'
import { startQueueProxy } from '../../proxy/startQueueProxy.js'
import { baseEnv, parseResponses, rawExchange, startUpstream } from './helpers.js'

t.test('onAccept sees every connection first; serveHttp1 serves the bytes it already read', async (t) => {
  const up = await startUpstream(t)
  let accepted = 0
  const onAccept: AcceptHandler = (socket, queue) => {
    accepted++
    socket.once('data', (first: Buffer) => {
      socket.pause()
      if (first.subarray(0, 4).toString('latin1') === 'PRI ') { socket.end('taken by the sniffer\n'); return }
      queue.serveHttp1(socket, { adopt: false, first })
    })
    socket.resume()
  }
  const px = await startQueueProxy(readProxyEnv(baseEnv(up.port, { IOTLESS_PROXY_UPGRADE_GRACE_MS: '0' })), { onAccept })
  t.teardown(() => px.close())
  const r = await rawExchange(px.ports.serving, ['GET /status HTTP/1.1\r\nHost: a\r\n', '\r\nGET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n'], { gapMs: 30 })
  t.same(parseResponses(r.text).map((x) => x.status), [200, 201], 'the split head and a second request served as HTTP/1.1')
  const taken = await rawExchange(px.ports.serving, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  t.equal(taken.text, 'taken by the sniffer\n')
  t.equal(accepted, 2)
})
