// The profiling server (Knative's port 8008): off by default; on, a CPU profile and a heap snapshot in V8's formats.
import t from 'tap'
import http from 'node:http'
import { baseEnv, startProxyChild, startProxyInProcess, startUpstream } from './helpers.js'

function get (port: number, p: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }))
    }).on('error', reject)
  })
}

t.test('off by default: no profiling port', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  t.equal(px.ports.profiling, null)
})

t.test('ENABLE_PROFILING: CPU profile and heap snapshot on PROFILING_PORT', async (t) => {
  const up = await startUpstream(t)
  // A proxy process of its own: its heap is small, so the snapshot is quick (the test runner's would not be).
  const px = await startProxyChild(t, baseEnv(up.port, { ENABLE_PROFILING: 'true', PROFILING_PORT: '0' }))
  const port = (px.ports as { profiling?: number }).profiling as number
  t.ok(port > 0, 'bound')
  const index = await get(port, '/debug/pprof/')
  t.equal(index.status, 200)
  t.match(index.body, /profile\?seconds/)
  const [cpu, busy] = await Promise.all([get(port, '/debug/pprof/profile?seconds=0.3'), new Promise<{ status: number; body: string }>((resolve) => setTimeout(() => { void get(port, '/debug/pprof/profile?seconds=0.1').then(resolve) }, 50))])
  t.equal(busy.status, 500, 'one CPU profile at a time, as Go answers')
  t.match(busy.body, /already in use/)
  t.equal(cpu.status, 200)
  const profile = JSON.parse(cpu.body) as { nodes: unknown[]; startTime: number; endTime: number }
  t.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'a V8 .cpuprofile')
  t.ok(profile.endTime - profile.startTime >= 250_000, `covers the asked-for time (${profile.endTime - profile.startTime} us)`)
  const heap = await get(port, '/debug/pprof/heap')
  t.equal(heap.status, 200)
  t.ok((JSON.parse(heap.body) as { snapshot?: unknown }).snapshot !== undefined, 'a V8 .heapsnapshot')
  t.equal((await get(port, '/debug/pprof/goroutine')).status, 404)
  t.equal((await get(port, '/debug/pprof/profile?seconds=abc')).status, 400)
  // The proxy still serves while profiling is on.
  t.equal((await get(px.ports.serving, '/echo')).status, 200)
})
