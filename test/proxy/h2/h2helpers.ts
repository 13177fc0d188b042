import { spawn } from 'node:child_process'
import http2 from 'node:http2'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const here = path.dirname(fileURLToPath(import.meta.url))
export const H2_UPSTREAM_JS = path.join(here, 'fixtures', 'h2Upstream.js')
export const GRPC_UPSTREAM_JS = path.join(here, 'fixtures', 'grpcUpstream.js')

/** Spawns a fixture that prints {"port": N} (`args` after its port argument); killed at teardown. */
export function startFixture (t: Test, js: string, args: string[] = []): Promise<number> {
  const child = spawn(process.execPath, [js, '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port)
    })
    child.once('exit', (code) => reject(new Error(`${js} exited (${code}): ${err}`)))
  })
}

export interface H2Result {
  status: number
  headers: http2.IncomingHttpHeaders
  body: string
  trailers: http2.IncomingHttpHeaders | null
  /** RST_STREAM code when the stream was reset, else 0. */
  rstCode: number
}

/** One request on an open session; never rejects (a reset or error is in the result). */
export function h2request (session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Result> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': body === undefined ? 'GET' : 'POST', ...headers }, { endStream: body === undefined })
    let status = 0
    let rh: http2.IncomingHttpHeaders = {}
    let trailers: http2.IncomingHttpHeaders | null = null
    const chunks: Buffer[] = []
    req.on('response', (h) => { rh = h; status = Number(h[':status']) })
    req.on('trailers', (tr) => { trailers = tr })
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('close', () => resolve({ status, headers: rh, body: Buffer.concat(chunks).toString(), trailers, rstCode: req.rstCode ?? 0 }))
    if (body !== undefined) req.end(body)
  })
}

export function connectH2 (t: Test, port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`)
  s.on('error', () => {})
  t.teardown(() => { s.destroy() })
  return s
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
