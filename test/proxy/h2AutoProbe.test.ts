/**
 * HTTP readiness probes with ENABLE_HTTP2_AUTO_DETECTION, as serving pkg/queue/health/probe.go runs them:
 * an OPTIONS asking for an h2c upgrade, then a GET over HTTP/2 when the container takes it.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { ReadinessProber } from '../../proxy/readinessProber.js'
import type { ReadinessProbeConfig } from '../../proxy/env.js'

interface Container { port: number; seen: string[]; h2Status: number; upgradeTo: string | null; optionsStatus: number }

/** One port, HTTP/1.1 and h2c prior knowledge by the first bytes, like an h2c-capable user container. */
async function startContainer (t: Test): Promise<Container> {
  const c: Container = { port: 0, seen: [], h2Status: 200, upgradeTo: 'h2c', optionsStatus: 200 }
  const h1 = http.createServer((req, res) => {
    c.seen.push(`h1 ${req.method} ${req.url} upgrade=${req.headers.upgrade ?? ''} ua=${req.headers['user-agent'] ?? ''}`)
    res.writeHead(req.method === 'OPTIONS' ? c.optionsStatus : 200).end()
  })
  h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    c.seen.push(`h1 ${req.method} ${req.url} upgrade=${req.headers.upgrade ?? ''} ua=${req.headers['user-agent'] ?? ''}`)
    if (c.upgradeTo === null) { socket.end(`HTTP/1.1 ${c.optionsStatus} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`); return }
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${c.upgradeTo}\r\n\r\n`)
  })
  const h2 = http2.createServer()
  h2.on('stream', (stream, headers) => {
    c.seen.push(`h2 ${String(headers[':method'])} ${String(headers[':path'])} x-probe=${String(headers['x-probe'] ?? '')}`)
    stream.respond({ ':status': c.h2Status, 'content-length': '0' }, { endStream: true })
  })
  // node:http2 reads from the socket's handle, so bytes already read cannot be handed to it: HTTP/2
  // connections are piped to it on a port of its own instead.
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve))
  const h2Port = (h2.address() as net.AddressInfo).port
  const front = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      if (d.subarray(0, 3).toString('latin1') === 'PRI') {
        const back = net.connect(h2Port, '127.0.0.1', () => { back.write(d); socket.pipe(back).pipe(socket) })
        back.on('error', () => socket.destroy())
        socket.on('error', () => back.destroy())
        socket.on('close', () => back.destroy())
        return
      }
      socket.pause()
      socket.unshift(d)
      h1.emit('connection', socket)
      socket.resume()
    })
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  c.port = (front.address() as net.AddressInfo).port
  t.teardown(() => { front.close(); h1.closeAllConnections(); h1.close(); h2.close() })
  return c
}

const config = (port: number): ReadinessProbeConfig => ({
  checks: [{ kind: 'http', host: '127.0.0.1', port, path: '/healthz', scheme: 'http', headers: [['X-Probe', '1']], service: '' }],
  periodSeconds: 1,
  timeoutMs: 1000,
  successThreshold: 1
})

t.test('a container that takes the h2c upgrade is probed with a GET over HTTP/2', async (t) => {
  const c = await startContainer(t)
  const p = new ReadinessProber(config(c.port), { http2AutoDetect: true })
  t.equal(await p.probe(), true)
  t.same(c.seen, ['h1 OPTIONS /healthz upgrade=h2c ua=kube-probe/iotless', 'h2 GET /healthz x-probe=1'])
  c.h2Status = 503
  t.equal(await p.probe(), false, 'a 503 over HTTP/2 is not ready')
  c.h2Status = 302
  t.equal(await p.probe(), true, '200-399 is ready')
})

t.test('a container that answers the OPTIONS without upgrading is ready over HTTP/1.1; others are not', async (t) => {
  const c = await startContainer(t)
  const p = new ReadinessProber(config(c.port), { http2AutoDetect: true })
  c.upgradeTo = null
  t.equal(await p.probe(), true)
  t.same(c.seen, ['h1 OPTIONS /healthz upgrade=h2c ua=kube-probe/iotless'], 'no GET follows')
  c.optionsStatus = 404
  t.equal(await p.probe(), false, 'a 404 to the upgrade probe is not ready (Go: "HTTP probe did not respond Ready")')
  c.upgradeTo = 'websocket'
  t.equal(await p.probe(), false, '101 to something else than h2c is not ready')
})

t.test('without auto-detection the probe stays one HTTP/1.1 GET', async (t) => {
  const c = await startContainer(t)
  const p = new ReadinessProber(config(c.port))
  t.equal(await p.probe(), true)
  t.same(c.seen, ['h1 GET /healthz upgrade= ua=kube-probe/iotless'])
})
