import net from 'node:net'
import http from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import type { ReadinessCheck, ReadinessProbeConfig } from './env.js'

/** knative/serving pkg/queue/readiness/probe.go: aggressive probing retries every 50 ms, 100 ms per try, for up to 10 s. */
export const AGGRESSIVE_RETRY_MS = 50
export const AGGRESSIVE_ATTEMPT_TIMEOUT_MS = 100
export const AGGRESSIVE_WINDOW_MS = 10_000

function tcpCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port: c.port, host: c.host })
    const done = (ok: boolean): void => { clearTimeout(t); s.destroy(); resolve(ok) }
    const t = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/**
 * serving pkg/queue/health/probe.go http2UpgradeProbe (ENABLE_HTTP2_AUTO_DETECTION): an OPTIONS request asking
 * for an h2c upgrade. 2: the container answered 101 with `Upgrade: h2c` (probe it over HTTP/2), 1: it answered
 * 200-399 without upgrading (ready over HTTP/1.1), 0: anything else (not ready).
 */
export function h2cUpgradeProbe (c: ReadinessCheck, timeoutMs: number): Promise<0 | 1 | 2> {
  return new Promise((resolve) => {
    let settled = false
    const done = (v: 0 | 1 | 2): void => { if (!settled) { settled = true; clearTimeout(t); resolve(v) } }
    const req = http.request({
      host: c.host,
      port: c.port,
      path: c.path,
      method: 'OPTIONS',
      agent: false,
      headers: { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': '', 'User-Agent': 'kube-probe/iotless' }
    }, (res) => {
      const code = res.statusCode ?? 0
      res.resume()
      done(code >= 200 && code < 400 ? 1 : 0)
      req.destroy()
    })
    // Go: isHTTPProbeUpgradingToH2C, 101 and Upgrade: h2c exactly.
    req.on('upgrade', (res, socket) => { socket.destroy(); done(res.headers.upgrade === 'h2c' ? 2 : 0) })
    const t = setTimeout(() => { done(0); req.destroy() }, timeoutMs)
    req.on('error', () => done(0))
    req.end()
  })
}

/**
 * A cleartext HTTP/2 session to the check's host and port, and `done`, which settles the check once: it clears
 * the timeout (not ready when it fires), closes the session and resolves. A session error is not ready.
 */
function h2cSession (c: ReadinessCheck, timeoutMs: number, resolve: (ok: boolean) => void): { session: http2.ClientHttp2Session; done: (ok: boolean) => void } {
  let settled = false
  const host = c.host.includes(':') ? `[${c.host}]` : c.host
  const session = http2.connect(`http://${host}:${c.port}`)
  const done = (ok: boolean): void => {
    if (settled) return
    settled = true
    clearTimeout(t)
    session.destroy()
    resolve(ok)
  }
  const t = setTimeout(() => done(false), timeoutMs)
  session.on('error', () => done(false))
  return { session, done }
}

/** An HTTP readiness check over cleartext HTTP/2 (prior knowledge), ready on 200-399. */
function h2cGetCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const { session, done } = h2cSession(c, timeoutMs, resolve)
    const headers: http2.OutgoingHttpHeaders = { ':method': 'GET', ':path': c.path, 'user-agent': 'kube-probe/iotless' }
    for (const [k, v] of c.headers) headers[k.toLowerCase()] = v
    const req = session.request(headers, { endStream: true })
    req.on('response', (h) => {
      const code = Number(h[':status'] ?? 0)
      done(code >= 200 && code < 400)
    })
    req.on('error', () => done(false))
  })
}

/**
 * serving health.HTTPProbe: with HTTP/2 auto-detection an h2c upgrade probe first (each time, as Go does);
 * a container that takes the upgrade is probed with a GET over HTTP/2, one that answers without upgrading is
 * ready as it is. HTTPS probes are always HTTP/1.1 here.
 */
async function httpAutoCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  if (c.scheme === 'https') return await httpCheck(c, timeoutMs)
  const proto = await h2cUpgradeProbe(c, timeoutMs)
  if (proto === 0) return false
  if (proto === 1) return true
  return await h2cGetCheck(c, timeoutMs)
}

function httpCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {}
    for (const [k, v] of c.headers) headers[k] = v
    // pkg/queue/health/probe.go sends the kubelet's User-Agent, so apps that special-case kube-probe still do.
    if (headers['User-Agent'] === undefined) headers['User-Agent'] = 'kube-probe/iotless'
    const mod = c.scheme === 'https' ? https : http
    let settled = false
    const done = (ok: boolean): void => { if (!settled) { settled = true; clearTimeout(t); resolve(ok) } }
    const req = mod.request({ host: c.host, port: c.port, path: c.path, method: 'GET', headers, agent: false, rejectUnauthorized: false }, (res) => {
      const code = res.statusCode ?? 0
      res.resume()
      // Kubernetes and Knative count 200-399 as ready.
      done(code >= 200 && code < 400)
      req.destroy()
    })
    const t = setTimeout(() => { done(false); req.destroy() }, timeoutMs)
    req.on('error', () => done(false))
    req.end()
  })
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus SERVING. */
const GRPC_SERVING = 1

/** One gRPC message: the 5-byte prefix (not compressed, big-endian length) and a HealthCheckRequest { string service = 1; }. */
export function grpcHealthRequest (service: string): Buffer {
  const name = Buffer.from(service, 'utf8')
  const len: number[] = []
  for (let n = name.length; ; n >>>= 7) { if (n < 0x80) { len.push(n); break } len.push((n & 0x7f) | 0x80) }
  const msg = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...len]), name])
  const out = Buffer.alloc(5 + msg.length)
  out.writeUInt32BE(msg.length, 1)
  msg.copy(out, 5)
  return out
}

/** The status field of a HealthCheckResponse in one length-prefixed gRPC message, or -1 when it does not parse. */
export function grpcHealthStatus (body: Buffer): number {
  if (body.length < 5 || body[0] !== 0) return -1
  const end = 5 + body.readUInt32BE(1)
  if (end > body.length) return -1
  let status = 0
  let i = 5
  const varint = (): number => {
    let v = 0
    for (let shift = 0; i < end && shift < 35; shift += 7) {
      const b = body[i++] as number
      v += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return v
    }
    return -1
  }
  while (i < end) {
    const key = varint()
    if (key < 0) return -1
    const wire = key & 7
    if (wire === 0) {
      const v = varint()
      if (v < 0) return -1
      if (key >>> 3 === 1) status = v
    } else if (wire === 2) {
      const n = varint()
      if (n < 0) return -1
      i += n
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else return -1
  }
  return i === end ? status : -1
}

/**
 * serving pkg/queue/health/probe.go GRPCProbe: grpc.health.v1.Health/Check over cleartext HTTP/2 with the
 * kubelet's user agent; ready only on a response with grpc-status 0 and status SERVING (an Unimplemented
 * health service, NOT_SERVING, UNKNOWN or SERVICE_UNKNOWN are not ready).
 */
function grpcCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const { session, done } = h2cSession(c, timeoutMs, resolve)
    const req = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe/iotless'
    })
    const chunks: Buffer[] = []
    let grpcStatus: string | undefined
    req.on('response', (headers) => {
      if (headers[':status'] !== 200) { done(false); return }
      // A trailers-only response (an error, such as Unimplemented) carries grpc-status in its headers.
      const s = headers['grpc-status']
      if (typeof s === 'string') grpcStatus = s
    })
    req.on('trailers', (trailers) => {
      const s = trailers['grpc-status']
      if (typeof s === 'string') grpcStatus = s
    })
    req.on('data', (d: Buffer) => { chunks.push(d) })
    req.on('end', () => done(grpcStatus === '0' && grpcHealthStatus(Buffer.concat(chunks)) === GRPC_SERVING))
    req.on('error', () => done(false))
    req.end(grpcHealthRequest(c.service))
  })
}

function check (c: ReadinessCheck, timeoutMs: number, http2AutoDetect: boolean): Promise<boolean> {
  if (c.kind === 'http') return http2AutoDetect ? httpAutoCheck(c, timeoutMs) : httpCheck(c, timeoutMs)
  if (c.kind === 'grpc') return grpcCheck(c, timeoutMs)
  return tcpCheck(c, timeoutMs)
}

/**
 * Probes the user container as SERVING_READINESS_PROBE says. Calls that overlap share one probe, as
 * Knative merges them, so the activator's 200 ms probes and the kubelet's never pile up.
 */
export class ReadinessProber {
  readonly config: ReadinessProbeConfig
  readonly #http2AutoDetect: boolean
  #inFlight: Promise<boolean> | undefined
  #consecutive = 0

  /** `http2AutoDetect`: ENABLE_HTTP2_AUTO_DETECTION (readiness.NewProbeWithHTTP2AutoDetection). */
  constructor (config: ReadinessProbeConfig, opts: { http2AutoDetect?: boolean } = {}) {
    this.config = config
    this.#http2AutoDetect = opts.http2AutoDetect ?? false
  }

  probe (): Promise<boolean> {
    if (this.#inFlight !== undefined) return this.#inFlight
    const p = this.#run().finally(() => { this.#inFlight = undefined })
    this.#inFlight = p
    return p
  }

  async #once (timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.config.checks.map((c) => check(c, timeoutMs, this.#http2AutoDetect)))
    return results.every(Boolean)
  }

  async #run (): Promise<boolean> {
    if (this.config.periodSeconds > 0) return this.#once(this.config.timeoutMs)
    const deadline = Date.now() + AGGRESSIVE_WINDOW_MS
    for (;;) {
      if (await this.#once(AGGRESSIVE_ATTEMPT_TIMEOUT_MS)) {
        if (++this.#consecutive >= this.config.successThreshold) return true
      } else {
        this.#consecutive = 0
      }
      if (Date.now() + AGGRESSIVE_RETRY_MS >= deadline) return false
      await new Promise((resolve) => setTimeout(resolve, AGGRESSIVE_RETRY_MS))
    }
  }
}
