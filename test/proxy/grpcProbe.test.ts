/**
 * gRPC readiness probes (corev1 GRPCAction), as serving pkg/queue/health/probe.go GRPCProbe runs them:
 * grpc.health.v1.Health/Check over cleartext HTTP/2. The user container here is a node:http2 server that
 * speaks gRPC's wire format, with messages encoded by protobufjs, not by the code under test.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import http2 from 'node:http2'
import type net from 'node:net'
import protobuf from 'protobufjs'
import { grpcHealthRequest, grpcHealthStatus, ReadinessProber } from '../../proxy/readinessProber.js'
import { startProxyInProcess, startUpstream } from './helpers.js'

const root = protobuf.Root.fromJSON({
  nested: {
    HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
    HealthCheckResponse: { fields: { status: { type: 'int32', id: 1 } } }
  }
})
const Req = root.lookupType('HealthCheckRequest')
const Res = root.lookupType('HealthCheckResponse')

function frame (msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length)
  out.writeUInt32BE(msg.length, 1)
  Buffer.from(msg).copy(out, 5)
  return out
}

interface HealthServer { port: number; services: Map<string, number>; seen: Array<{ service: string; ua: string }>; implemented: boolean }

/** A grpc.health.v1 server: SERVING (1), NOT_SERVING (2) per service name; unknown names get NOT_FOUND. */
async function startHealthServer (t: Test): Promise<HealthServer> {
  const state: HealthServer = { port: 0, services: new Map([['', 1]]), seen: [], implemented: true }
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = []
    stream.on('data', (d: Buffer) => chunks.push(d))
    stream.on('end', () => {
      if (!state.implemented || headers[':path'] !== '/grpc.health.v1.Health/Check') {
        // Trailers-only: grpc-status 12 UNIMPLEMENTED in the headers, no body.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true })
        return
      }
      const body = Buffer.concat(chunks)
      const req = Req.toObject(Req.decode(body.subarray(5, 5 + body.readUInt32BE(1)))) as { service?: string }
      const service = req.service ?? ''
      state.seen.push({ service, ua: String(headers['user-agent']) })
      const status = state.services.get(service)
      if (status === undefined) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown service' }, { endStream: true })
        return
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
      stream.end(frame(Res.encode(Res.create({ status })).finish()))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { server.close() })
  state.port = (server.address() as net.AddressInfo).port
  return state
}

t.test('the request and response codec agree with protobufjs', async (t) => {
  for (const service of ['', 'svc', 'x'.repeat(300)]) {
    const b = grpcHealthRequest(service)
    t.equal(b[0], 0, 'not compressed')
    t.equal(b.readUInt32BE(1), b.length - 5)
    t.same(Req.toObject(Req.decode(b.subarray(5))), service === '' ? {} : { service })
  }
  for (const status of [0, 1, 2, 3]) t.equal(grpcHealthStatus(frame(Res.encode(Res.create({ status })).finish())), status)
  t.equal(grpcHealthStatus(Buffer.from([0, 0, 0, 0, 9, 8])), -1, 'truncated')
  t.equal(grpcHealthStatus(Buffer.from([1, 0, 0, 0, 2, 8, 1])), -1, 'compressed is refused')
})

function probe (port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { 'User-Agent': 'kube-probe/1.30', 'K-Network-Probe': 'queue' }, agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }))
    }).on('error', reject)
  })
}

t.test('a gRPC readiness probe through the proxy: 200 on SERVING, 503 otherwise', async (t) => {
  const up = await startUpstream(t)
  const hs = await startHealthServer(t)
  const px = await startProxyInProcess(t, up.port, { SERVING_READINESS_PROBE: JSON.stringify({ grpc: { port: hs.port, service: 'svc-a' }, periodSeconds: 1, timeoutSeconds: 1 }) })
  hs.services.set('svc-a', 1)
  t.same(await probe(px.ports.serving), { status: 200, body: 'queue' })
  t.same(hs.seen.at(-1), { service: 'svc-a', ua: 'kube-probe/iotless' }, 'asked for the configured service, as the kubelet')
  hs.services.set('svc-a', 2)
  t.equal((await probe(px.ports.serving)).status, 503, 'NOT_SERVING')
  hs.services.delete('svc-a')
  t.equal((await probe(px.ports.serving)).status, 503, 'NOT_FOUND for an unknown service')
  hs.services.set('svc-a', 1)
  hs.implemented = false
  t.equal((await probe(px.ports.serving)).status, 503, 'no health service (UNIMPLEMENTED, trailers-only)')
})

t.test('a gRPC probe against a port where nothing listens, or an HTTP/1 server, is not ready', async (t) => {
  const up = await startUpstream(t)
  const closed = new ReadinessProber({ checks: [{ kind: 'grpc', host: '127.0.0.1', port: 1, path: '/', scheme: 'http', headers: [], service: '' }], periodSeconds: 1, timeoutMs: 500, successThreshold: 1 })
  t.equal(await closed.probe(), false)
  const h1 = new ReadinessProber({ checks: [{ kind: 'grpc', host: '127.0.0.1', port: up.port, path: '/', scheme: 'http', headers: [], service: '' }], periodSeconds: 1, timeoutMs: 500, successThreshold: 1 })
  const t0 = Date.now()
  t.equal(await h1.probe(), false)
  t.ok(Date.now() - t0 < 1000, 'within its timeout')
})
