import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import type { Test } from 'tap'
import { readProxyEnv } from '../../proxy/env.js'
import { startQueueProxy, type QueueProxy } from '../../proxy/startQueueProxy.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const UPSTREAM_JS = path.join(here, 'fixtures', 'upstream.js')
export const PROXY_JS = path.join(here, '..', '..', 'cli', 'proxy.js')

/** Reads the first JSON line a child prints on stdout. */
function firstJsonLine<T> (child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    const onData = (d: Buffer): void => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        child.stdout?.off('data', onData)
        resolve(JSON.parse(out.slice(0, nl)) as T)
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${err}`)))
  })
}

export interface Upstream { port: number; child: ChildProcess }

/** Spawns the fixture user container; killed at teardown. */
export async function startUpstream (t: Test, port = 0): Promise<Upstream> {
  const child = spawn(process.execPath, [UPSTREAM_JS, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const { port: p } = await firstJsonLine<{ port: number }>(child, 'upstream')
  return { port: p, child }
}

/** The env the reconciler would inject, with every port on loopback and free. */
export function baseEnv (userPort: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SERVING_NAMESPACE: 'default',
    SERVING_CONFIGURATION: 'hello',
    SERVING_REVISION: 'hello-00001',
    SERVING_POD: 'hello-00001-deployment-abc',
    SERVING_POD_IP: '127.0.0.1',
    QUEUE_SERVING_PORT: '0',
    QUEUE_SERVING_TLS_PORT: '0',
    CONTAINER_CONCURRENCY: '0',
    REVISION_TIMEOUT_SECONDS: '300',
    SERVING_LOGGING_CONFIG: '',
    SERVING_LOGGING_LEVEL: 'info',
    USER_PORT: String(userPort),
    SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: userPort, host: '127.0.0.1' }, successThreshold: 1 }),
    IOTLESS_PROXY_ADMIN_PORT: '0',
    IOTLESS_PROXY_STATS_PORT: '0',
    IOTLESS_PROXY_USER_METRICS_PORT: '0',
    IOTLESS_PROXY_BIND_HOST: '127.0.0.1',
    // The HTTP/2 tests run on the default engine; IOTLESS_PROXY_H2_ENGINE=node in the test's environment runs them on node:http2.
    ...(process.env.IOTLESS_PROXY_H2_ENGINE === undefined ? {} : { IOTLESS_PROXY_H2_ENGINE: process.env.IOTLESS_PROXY_H2_ENGINE }),
    IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '200',
    ...extra
  }
}

/** Starts the proxy in this process; shut down at teardown. */
export async function startProxyInProcess (t: Test, userPort: number, extra: Record<string, string> = {}): Promise<QueueProxy> {
  const proxy = await startQueueProxy(readProxyEnv(baseEnv(userPort, { IOTLESS_PROXY_UPGRADE_GRACE_MS: '0', ...extra })))
  t.teardown(() => proxy.close())
  return proxy
}

export interface ProxyChild { child: ChildProcess; ports: { serving: number; admin: number; stats: number; userMetrics: number }; stderr: () => string }

/**
 * Runs `node dist/cli/proxy.js` as the sidecar would run; killed at teardown. `nofile`: its file descriptor
 * limit (through util-linux prlimit), for the tests that run it out of descriptors.
 */
export async function startProxyChild (t: Test, env: Record<string, string>, opts: { nofile?: number } = {}): Promise<ProxyChild> {
  const [cmd, args] = opts.nofile === undefined
    ? [process.execPath, [PROXY_JS]]
    : ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, process.execPath, PROXY_JS]]
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  t.teardown(() => { child.kill('SIGKILL') })
  const line = await firstJsonLine<{ ports: ProxyChild['ports'] }>(child, 'proxy')
  return { child, ports: line.ports, stderr: () => err }
}

/**
 * Sends raw bytes and collects everything until the server closes or `idleMs` passes with nothing new.
 * Returns the bytes as latin1 and whether the server closed.
 */
export function rawExchange (port: number, data: string | Buffer | Array<string | Buffer>, opts: { idleMs?: number; gapMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let closed = false
    let timer: NodeJS.Timeout | undefined
    const finish = (): void => { clearTimeout(timer); s.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed }) }
    const arm = (): void => { clearTimeout(timer); timer = setTimeout(finish, opts.idleMs ?? 300) }
    s.on('data', (d: Buffer) => { chunks.push(d); arm() })
    s.on('end', () => { closed = true; finish() })
    s.on('close', () => { closed = true; finish() })
    s.on('error', () => { closed = true })
    s.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data]
      for (const p of parts) {
        s.write(p)
        if (opts.gapMs !== undefined) await new Promise((r) => setTimeout(r, opts.gapMs))
      }
      arm()
    })
  })
}

export interface ParsedResponse { status: number; headers: Record<string, string>; body: string }

/** Splits a stream of HTTP/1.1 responses (Content-Length or chunked, or to the end). For test assertions only. */
export function parseResponses (text: string, headRequests = 0): ParsedResponse[] {
  const out: ParsedResponse[] = []
  let pos = 0
  while (pos < text.length) {
    const he = text.indexOf('\r\n\r\n', pos)
    if (he < 0) break
    const lines = text.slice(pos, he).split('\r\n')
    const status = Number((lines[0] ?? '').split(' ')[1])
    const headers: Record<string, string> = {}
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':')
      const k = l.slice(0, i).toLowerCase()
      const v = l.slice(i + 1).trim()
      headers[k] = headers[k] === undefined ? v : headers[k] + ', ' + v
    }
    pos = he + 4
    let body = ''
    if (status < 200 && status !== 101) { out.push({ status, headers, body }); continue }
    if (out.filter((r) => r.status >= 200).length < headRequests || status === 204 || status === 304) {
      // no body
    } else if (headers['transfer-encoding'] !== undefined) {
      for (;;) {
        const le = text.indexOf('\r\n', pos)
        const size = le < 0 ? NaN : parseInt(text.slice(pos, le), 16)
        // A truncated or malformed body ends the parse; the assertions see what arrived.
        if (Number.isNaN(size)) { body += text.slice(pos); pos = text.length; break }
        pos = le + 2
        if (size === 0) { const te = text.indexOf('\r\n', pos); pos = te < 0 ? text.length : te + 2; break }
        body += text.slice(pos, pos + size)
        pos += size + 2
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      body = text.slice(pos, pos + n)
      pos += n
    } else if (status !== 101) {
      body = text.slice(pos)
      pos = text.length
    }
    out.push({ status, headers, body })
  }
  return out
}

export function sleep (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }

/** Opens `n` connections to `port` and holds the loop until the kernel has queued them all. */
export function queueConnections (port: number, n: number): net.Socket[] {
  const clients: net.Socket[] = []
  for (let i = 0; i < n; i++) clients.push(net.connect({ port, host: '127.0.0.1' }))
  // net.connect to an IP connects on the next tick; this tick runs after those, before any I/O is polled.
  process.nextTick(() => { const until = Date.now() + 40; while (Date.now() < until) { /* hold the loop */ } })
  return clients
}
