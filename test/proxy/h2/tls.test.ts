import { execFileSync, spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import t, { type Test } from 'tap'
import { IotlessError } from '../../../core/errors.js'
import { readProxyEnv } from '../../../proxy/env.js'
import { startQueueProxy } from '../../../proxy/startQueueProxy.js'
import { baseEnv, PROXY_JS, queueConnections, startProxyInProcess, startUpstream } from '../helpers.js'
import { h2request, H2_UPSTREAM_JS, sleep, startFixture } from './h2helpers.js'

/** A self-signed certificate for 127.0.0.1, made with openssl at test time, written as Knative mounts it. */
function makeCert (dir: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, 'new.crt')
  const key = path.join(dir, 'new.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(key, 'utf8') }
}

function certDir (t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-certs-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function install (dir: string, pair: { cert: string; key: string }): void {
  // As the kubelet updates a Secret volume: new files written aside, then moved into place.
  fs.writeFileSync(path.join(dir, 'tls.key.tmp'), pair.key)
  fs.writeFileSync(path.join(dir, 'tls.crt.tmp'), pair.cert)
  fs.renameSync(path.join(dir, 'tls.key.tmp'), path.join(dir, 'tls.key'))
  fs.renameSync(path.join(dir, 'tls.crt.tmp'), path.join(dir, 'tls.crt'))
}

function httpsGet (port: number, ca: string, p: string): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: p, ca, agent: false }, (res) => {
      const cn = String((res.socket as tls.TLSSocket).getPeerCertificate().subject?.CN ?? '')
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn }))
    }).on('error', reject)
  })
}

t.test('no certificate mounted: no TLS port, as in Knative', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_CERT_DIR: certDir(t) })
  t.equal(px.ports.tls, null)
})

t.test('a taken QUEUE_SERVING_TLS_PORT is PORT_IN_USE naming it, and the ports bound before are released', async (t) => {
  const dir = certDir(t)
  install(dir, makeCert(dir, 'first'))
  const up = await startUpstream(t)
  const held = net.createServer()
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { held.close() })
  const taken = (held.address() as net.AddressInfo).port
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()))
  const serving = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const err = await startQueueProxy(readProxyEnv(baseEnv(up.port, { IOTLESS_PROXY_CERT_DIR: dir, QUEUE_SERVING_TLS_PORT: String(taken), QUEUE_SERVING_PORT: String(serving) })))
    .then(() => null, (e: unknown) => e)
  t.ok(err instanceof IotlessError, 'an IotlessError')
  t.equal((err as IotlessError).code, 'PORT_IN_USE')
  t.match((err as Error).message, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 is already in use \\(QUEUE_SERVING_TLS_PORT\\)`))
  const again = net.createServer()
  const free = await new Promise<boolean>((resolve) => {
    again.once('error', () => resolve(false))
    again.listen(serving, '127.0.0.1', () => { again.close(() => resolve(true)) })
  })
  t.ok(free, 'the serving port bound before the failure was released')
})

t.test('TLS on QUEUE_SERVING_TLS_PORT: HTTP/1.1 by ALPN, counted like the plain port', async (t) => {
  const dir = certDir(t)
  const pair = makeCert(dir, 'first')
  install(dir, pair)
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_CERT_DIR: dir, CONTAINER_CONCURRENCY: '2' })
  t.type(px.ports.tls, 'number')
  const r = await httpsGet(px.ports.tls as number, pair.cert, '/status?code=201')
  t.equal(r.status, 201)
  t.equal(r.cn, 'first')
  t.equal(px.ctx.breaker?.inFlight, 0)
  // TLS 1.3 is the minimum unless QUEUE_PROXY_TLS_MIN_VERSION says otherwise (knative/pkg network/tls).
  const old = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: px.ports.tls as number, ca: pair.cert, maxVersion: 'TLSv1.2' })
    s.on('secureConnect', () => { s.destroy(); resolve('connected') })
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
  t.not(old, 'connected', 'a TLS 1.2 client is refused by default')
})

t.test('TLS: a burst of queued connections is accepted in one turn and every handshake is served', async (t) => {
  const dir = certDir(t)
  const pair = makeCert(dir, 'burst')
  install(dir, pair)
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port, { IOTLESS_PROXY_CERT_DIR: dir })
  const port = px.ports.tls as number
  // Connections queued in the kernel before the proxy's loop polls (the loop is held busy for 40 ms).
  const raws = queueConnections(port, 20)
  const statuses = await Promise.all(raws.map((raw) => new Promise<string>((resolve, reject) => {
    const s = tls.connect({ socket: raw, ca: pair.cert, host: '127.0.0.1' })
    let text = ''
    s.on('secureConnect', () => s.write('GET /status?code=202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
    s.on('data', (d: Buffer) => { text += d.toString('latin1') })
    s.on('end', () => { s.destroy(); resolve(text.slice(0, 12)) })
    s.on('error', reject)
  })))
  t.same(statuses, raws.map(() => 'HTTP/1.1 202'), '20 of 20 answered over TLS')
  t.ok((px.tlsBatchAccepted() ?? 0) >= 15, `the helper accepted ${String(px.tlsBatchAccepted())} of the 19 libuv left queued`)
})

t.test('TLS: HTTP/2 by ALPN (gRPC-style streams with trailers), and certificate rotation', async (t) => {
  const dir = certDir(t)
  const first = makeCert(dir, 'first')
  install(dir, first)
  const up = await startFixture(t, H2_UPSTREAM_JS)
  // A long poll: the directory watch must be what picks the rotation up.
  const px = await startProxyInProcess(t, up, { IOTLESS_PROXY_CERT_DIR: dir, IOTLESS_PROXY_CERT_RELOAD_MS: '600000' })
  const port = px.ports.tls as number
  const s = http2.connect(`https://127.0.0.1:${port}`, { ca: first.cert })
  s.on('error', () => {})
  t.teardown(() => { s.destroy() })
  const r = await h2request(s, { ':path': '/echo', te: 'trailers' }, 'over-tls')
  t.equal((s.socket as tls.TLSSocket).alpnProtocol, 'h2')
  t.equal(r.status, 200)
  t.equal(r.body, 'over-tls')
  t.same(r.trailers?.['x-trailer'], 'done')

  const second = makeCert(dir, 'second')
  install(dir, second)
  for (let i = 0; i < 100 && px.reloads() < 1; i++) await sleep(20)
  t.equal(px.reloads(), 1, 'reloaded once')
  const s2 = http2.connect(`https://127.0.0.1:${port}`, { ca: second.cert })
  s2.on('error', () => {})
  t.teardown(() => { s2.destroy() })
  const r2 = await h2request(s2, { ':path': '/hello' })
  t.equal(r2.status, 200, 'a new connection gets the new certificate (the old CA would not verify it)')
  const peer = new X509Certificate((s2.socket as tls.TLSSocket).getPeerX509Certificate()?.raw ?? Buffer.alloc(0))
  t.match(peer.subject, /CN=second/)
  const again = await h2request(s, { ':path': '/hello' })
  t.equal(again.status, 200, 'the connection made before the rotation keeps working')

  // A half-written rotation (a key that is not the certificate's) is not taken: the previous pair stays.
  const third = makeCert(dir, 'third')
  fs.writeFileSync(path.join(dir, 'tls.crt'), third.cert)
  await sleep(300)
  t.equal(px.reloads(), 1, 'a mismatched pair is not loaded')
  const s3 = http2.connect(`https://127.0.0.1:${port}`, { ca: second.cert })
  s3.on('error', () => {})
  t.teardown(() => { s3.destroy() })
  t.equal((await h2request(s3, { ':path': '/hello' })).status, 200, 'still serving the second certificate')
})

t.test('a bad certificate file stops start-up with PROXY_TLS_CERT_INVALID naming the file', async (t) => {
  const up = await startUpstream(t)
  const dir = certDir(t)
  const good = makeCert(dir, 'x')
  fs.writeFileSync(path.join(dir, 'tls.crt'), 'not a certificate\n')
  fs.writeFileSync(path.join(dir, 'tls.key'), good.key)
  await t.rejects(startQueueProxy(readProxyEnv(baseEnv(up.port, { IOTLESS_PROXY_CERT_DIR: dir }))), {
    code: 'PROXY_TLS_CERT_INVALID', message: new RegExp(`${path.join(dir, 'tls.crt')} is not a PEM X.509 certificate`)
  })
  fs.writeFileSync(path.join(dir, 'tls.crt'), good.cert)
  fs.writeFileSync(path.join(dir, 'tls.key'), 'garbage')
  await t.rejects(startQueueProxy(readProxyEnv(baseEnv(up.port, { IOTLESS_PROXY_CERT_DIR: dir }))), {
    code: 'PROXY_TLS_CERT_INVALID', message: new RegExp(`${path.join(dir, 'tls.key')} is not a PEM private key`)
  })
  const other = makeCert(dir, 'other')
  fs.writeFileSync(path.join(dir, 'tls.key'), other.key)
  await t.rejects(startQueueProxy(readProxyEnv(baseEnv(up.port, { IOTLESS_PROXY_CERT_DIR: dir }))), {
    code: 'PROXY_TLS_CERT_INVALID', message: /is not the private key of the certificate in/
  })
  // The sidecar binary exits 2 and says which file.
  const child = spawn(process.execPath, [PROXY_JS], { env: { PATH: process.env.PATH ?? '', ...baseEnv(up.port, { IOTLESS_PROXY_CERT_DIR: dir }) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 2)
  t.match(err, `iotless: PROXY_TLS_CERT_INVALID: ${path.join(dir, 'tls.key')} is not the private key`)
})

t.test('QUEUE_PROXY_TLS_* are checked like knative/pkg network/tls does', async (t) => {
  const up = 1234
  t.throws(() => readProxyEnv(baseEnv(up, { QUEUE_PROXY_TLS_MIN_VERSION: '1.1' })), { code: 'PROXY_ENV_INVALID', message: /QUEUE_PROXY_TLS_MIN_VERSION="1.1"/ })
  t.throws(() => readProxyEnv(baseEnv(up, { QUEUE_PROXY_TLS_CIPHER_SUITES: 'TLS_RSA_WITH_RC4_128_SHA' })), { code: 'PROXY_ENV_INVALID', message: /unknown cipher suite "TLS_RSA_WITH_RC4_128_SHA"/ })
  t.throws(() => readProxyEnv(baseEnv(up, { QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'Curve25519x' })), { code: 'PROXY_ENV_INVALID', message: /unknown or unsupported curve/ })
  const ok = readProxyEnv(baseEnv(up, { QUEUE_PROXY_TLS_MIN_VERSION: '1.2', QUEUE_PROXY_TLS_CIPHER_SUITES: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256', QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'X25519,CurveP256' }))
  t.equal(ok.tls.minVersion, 'TLSv1.2')
  t.match(ok.tls.ciphers, /ECDHE-ECDSA-AES128-GCM-SHA256$/)
  t.equal(ok.tls.curves, 'X25519:P-256')
  t.equal(readProxyEnv(baseEnv(up)).tls.certFile, '/var/lib/knative/certs/tls.crt')
})
