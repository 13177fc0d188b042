import t from 'tap'
import http from 'node:http'
import { freePort } from '../helpers/freePort.js'
import { sleep, startProxyInProcess, startUpstream } from './helpers.js'

function get (port: number, headers: Record<string, string>, path = '/'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }))
    }).on('error', reject)
  })
}

const QUEUE = { 'K-Network-Probe': 'queue' }

t.test('health-check requests are recognised by UA or header and answered by the proxy, on any path', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  for (const h of [{ 'User-Agent': 'kube-probe/1.30' }, { 'K-Kubelet-Probe': 'queue' }, { 'User-Agent': 'Knative-Activator-Probe' }, { 'User-Agent': 'Knative-Autoscaling-Probe' }] as Array<Record<string, string>>) {
    const r = await get(px.ports.serving, { ...h, ...QUEUE }, '/healthz')
    t.same([r.status, r.body], [200, 'queue'], JSON.stringify(h))
  }
  const bad = await get(px.ports.serving, { 'User-Agent': 'kube-probe/1.30', 'K-Network-Probe': 'other' })
  t.equal(bad.status, 400)
  t.equal(bad.body, 'unexpected probe header value: other\n')
  const none = await get(px.ports.serving, { 'User-Agent': 'kube-probe/1.30' })
  t.equal(none.status, 400, 'a health check without K-Network-Probe: queue is refused, as ProbeHandler does')
})

t.test('K-Network-Probe: probe echoes K-Network-Hash', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const r = await get(px.ports.serving, { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'abc123' })
  t.equal(r.status, 200)
  t.equal(r.headers['k-network-hash'], 'abc123')
  const missing = await get(px.ports.serving, { 'K-Network-Probe': 'probe' })
  t.equal(missing.status, 400)
})

t.test('TCP readiness: 503 while the user container is down, 200 once it listens (aggressive mode)', async (t) => {
  const port = await freePort()
  const px = await startProxyInProcess(t, port, { SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port, host: '127.0.0.1' }, periodSeconds: 1, timeoutSeconds: 1 }) })
  const down = await get(px.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })
  t.equal(down.status, 503)
  const t0 = Date.now()
  const pAggressive = await startProxyInProcess(t, port, { SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port, host: '127.0.0.1' } }) })
  const pending = get(pAggressive.ports.serving, { 'User-Agent': 'Knative-Activator-Probe', ...QUEUE })
  await sleep(400)
  await startUpstream(t, port)
  const up = await pending
  t.same([up.status, up.body], [200, 'queue'], 'aggressive mode retries until the container is up')
  t.ok(Date.now() - t0 >= 400)
  const periodic = await get(px.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })
  t.equal(periodic.status, 200)
})

t.test('HTTP readiness: 2xx-3xx is ready, anything else is not', async (t) => {
  const up = await startUpstream(t)
  const ok = await startProxyInProcess(t, up.port, { SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port: up.port, path: '/status?code=302' }, periodSeconds: 1 }) })
  t.equal((await get(ok.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })).status, 200)
  const bad = await startProxyInProcess(t, up.port, { SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port: up.port, path: '/status?code=500' }, periodSeconds: 1 }) })
  t.equal((await get(bad.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })).status, 503)
  // Aggressive HTTP against an endpoint that never becomes ready gives up after its window.
  const never = await startProxyInProcess(t, up.port, { SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port: up.port, path: '/status?code=503' } }) })
  const t0 = Date.now()
  const r = await get(never.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })
  t.equal(r.status, 503)
  t.ok(Date.now() - t0 >= 9000, 'aggressive mode tried for its whole 10 s window')
})

t.test('while draining every probe gets 503 and requests still pass', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '60000' })
  void px.drainer.drain()
  const kube = await get(px.ports.serving, { 'User-Agent': 'kube-probe/1.30', ...QUEUE })
  t.same([kube.status, kube.body], [503, 'shutting down\n'])
  t.equal((await get(px.ports.serving, { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'h' })).status, 503)
  t.equal((await get(px.ports.serving, {}, '/status')).status, 200)
})
