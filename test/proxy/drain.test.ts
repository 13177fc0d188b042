import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { baseEnv, PROXY_JS, sleep, startProxyChild, startUpstream } from './helpers.js'

function get (port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }))
    }).on('error', () => resolve({ status: -1, body: '' }))
  })
}
const PROBE = { 'User-Agent': 'kube-probe/1.30', 'K-Network-Probe': 'queue' }

t.test('a missing required variable stops start-up, naming it', async (t) => {
  const env = baseEnv(8080)
  delete (env as Record<string, string | undefined>).QUEUE_SERVING_TLS_PORT
  const child = spawn(process.execPath, [PROXY_JS], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 2)
  t.match(err, /PROXY_ENV_MISSING: required environment variable QUEUE_SERVING_TLS_PORT is not set/)
})

t.test('SIGTERM: probes fail at once, requests still pass during the quiet period, then exit 0', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyChild(t, baseEnv(up.port, { IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '600', IOTLESS_PROXY_UPGRADE_GRACE_MS: '300' }))
  t.equal((await get(px.ports.serving, '/', PROBE)).status, 200)
  // An upgraded connection, to check the bounded grace at the end.
  const ws = net.connect({ port: px.ports.serving, host: '127.0.0.1' })
  ws.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n')
  await new Promise((resolve) => ws.once('data', resolve))
  let wsClosedAt = 0
  ws.on('close', () => { wsClosedAt = Date.now() })
  ws.on('error', () => {})
  const t0 = Date.now()
  const exited = new Promise<number | null>((resolve) => px.child.once('exit', (code) => resolve(code)))
  px.child.kill('SIGTERM')
  await sleep(100)
  const probe = await get(px.ports.serving, '/', PROBE)
  t.same([probe.status, probe.body], [503, 'shutting down\n'])
  await sleep(300)
  t.equal((await get(px.ports.serving, '/status')).status, 200, 'requests during the quiet period are served (and restart it)')
  const code = await exited
  const elapsed = Date.now() - t0
  t.equal(code, 0)
  t.ok(elapsed >= 400 + 600, `waited for a quiet period after the last request (${elapsed} ms)`)
  t.ok(wsClosedAt > 0 && wsClosedAt - t0 >= 1000, 'the upgraded connection lived through the drain and was cut after its grace')
  t.match(px.stderr(), /"msg":"draining"/)
})

t.test('/wait-for-drain blocks for the quiet period; without SIGTERM the proxy un-drains', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyChild(t, baseEnv(up.port, { IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '400', IOTLESS_PROXY_DRAIN_RESET_MS: '1500' }))
  const t0 = Date.now()
  const wait = get(px.ports.admin, '/wait-for-drain')
  await sleep(100)
  t.equal((await get(px.ports.serving, '/', PROBE)).status, 503, 'draining')
  t.equal((await wait).status, 200)
  t.ok(Date.now() - t0 >= 400)
  await sleep(1600)
  t.equal((await get(px.ports.serving, '/', PROBE)).status, 200, 'reset after no SIGTERM followed')
  t.equal((await get(px.ports.admin, '/other')).status, 404)
})

t.test('dependency budget: the proxy entrypoint never reaches aedes, mqtt or onnxruntime', async (t) => {
  // Walk the compiled import graph from cli/proxy.js, as Knative's nodeps_test.go does for the sidecar.
  const seen = new Set<string>()
  const bare = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const src = fs.readFileSync(file, 'utf8')
    for (const m of src.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2] ?? ''
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec))
      else bare.add(spec)
    }
  }
  visit(PROXY_JS)
  t.ok(seen.size > 5, `walked ${seen.size} files`)
  for (const b of bare) t.notMatch(b, /^(aedes|mqtt|onnxruntime)/, `imports ${b}`)
  // Relative to dist/, so a checkout whose own path names a component (a worktree called prefetch-live) still passes.
  const dist = path.resolve(path.dirname(PROXY_JS), '..')
  t.notOk([...seen].some((f) => /^(adapters|functions|prefetch)\//.test(path.relative(dist, f))), 'no other component is loaded')
})
