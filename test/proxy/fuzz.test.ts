import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { createHash } from 'node:crypto'
import { startProxyInProcess, startUpstream } from './helpers.js'
import { seededRandom } from '../../core/seededRandom.js'

/**
 * Seeded randomised fuzzing of the fast path (IOTLESS_FUZZ_SEED, IOTLESS_FUZZ_MS to change it).
 * Valid cases: random pipelined requests (GET/HEAD/POST with Content-Length or chunked bodies, chunk
 * extensions, trailers, bodies that contain whole requests), cut into random pieces. Every response
 * must come back, in order, and the user container must have received exactly each body (sha-256).
 * Mutated cases: the same streams with bytes flipped, dropped or inserted. Whatever the proxy does with
 * them, the user container must never see more requests than the proxy forwarded (no smuggling), and
 * the proxy must keep running.
 */
const SEED = Number(process.env.IOTLESS_FUZZ_SEED ?? 20260821)
const BUDGET_MS = Number(process.env.IOTLESS_FUZZ_MS ?? 3000)

interface Sent { method: string; url: string; body: Buffer }

function build (rnd: () => number, caseNo: number): { bytes: Buffer; sent: Sent[] } {
  const int = (n: number): number => Math.floor(rnd() * n)
  const n = 1 + int(5)
  const parts: Buffer[] = []
  const sent: Sent[] = []
  for (let i = 0; i < n; i++) {
    const method = ['GET', 'HEAD', 'POST', 'POST', 'PUT'][int(5)] as string
    const url = `/r/${caseNo}/${i}?q=${int(1000)}`
    const hasBody = method === 'POST' || method === 'PUT'
    let body = Buffer.alloc(0)
    if (hasBody) {
      const len = int(4) === 0 ? 0 : int(3000)
      body = Buffer.from(Array.from({ length: len }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[int(36)]).join(''))
      if (int(3) === 0) body = Buffer.concat([body, Buffer.from(`GET /smuggled-${caseNo} HTTP/1.1\r\nHost: a\r\n\r\n`)])
    }
    let head = `${method} ${url} HTTP/1.1\r\nHost: fuzz\r\nX-Case: ${caseNo}\r\n`
    if (int(4) === 0) head += 'Connection: keep-alive\r\n'
    if (hasBody && int(2) === 0) {
      head += 'Transfer-Encoding: chunked\r\n\r\n'
      const chunks: Buffer[] = [Buffer.from(head)]
      let at = 0
      while (at < body.length) {
        const size = Math.min(body.length - at, 1 + int(700))
        const ext = int(4) === 0 ? `;k${int(9)}=v` : ''
        chunks.push(Buffer.from(size.toString(int(2) === 0 ? 16 : 16).toUpperCase() + ext + '\r\n'), body.subarray(at, at + size), Buffer.from('\r\n'))
        at += size
      }
      chunks.push(Buffer.from(int(3) === 0 ? '0\r\nX-T: 1\r\n\r\n' : '0\r\n\r\n'))
      parts.push(Buffer.concat(chunks))
    } else {
      if (hasBody) head += `Content-Length: ${body.length}\r\n`
      parts.push(Buffer.concat([Buffer.from(head + '\r\n'), body]))
    }
    sent.push({ method, url, body })
  }
  return { bytes: Buffer.concat(parts), sent }
}

function mutate (rnd: () => number, b: Buffer): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n)
  let out = Buffer.from(b)
  const interesting = [13, 10, 32, 9, 58, 48, 57, 97, 102, 45, 44, 59, 0, 127, 255]
  for (let m = 1 + int(3); m > 0; m--) {
    const at = int(out.length)
    const v = int(2) === 0 ? interesting[int(interesting.length)] as number : int(256)
    const op = int(3)
    if (op === 0) out[at] = v
    else if (op === 1) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)])
    else out = Buffer.concat([out.subarray(0, at), Buffer.from([v]), out.subarray(at)])
  }
  return out
}

/** Sends `bytes` in random pieces; resolves with what came back once `done(text)` or after `idleMs` of silence. */
function exchange (port: number, rnd: () => number, bytes: Buffer, idleMs: number, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let text = ''
    let timer: NodeJS.Timeout | undefined
    const finish = (): void => { clearTimeout(timer); s.destroy(); resolve(text) }
    const arm = (): void => { clearTimeout(timer); timer = setTimeout(finish, idleMs) }
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); if (done(text)) finish(); else arm() })
    s.on('close', finish)
    s.on('error', () => {})
    s.on('connect', async () => {
      let at = 0
      while (at < bytes.length && !s.destroyed) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 4000))
        s.write(bytes.subarray(at, at + n))
        at += n
        if (rnd() < 0.3) await new Promise((r) => setImmediate(r))
      }
      arm()
    })
  })
}

interface Resp { status: number; body: string }

/** Parses responses knowing which requests were HEAD (so their bodies are absent). Null while incomplete. */
function parseAll (text: string, sent: Sent[]): Resp[] | null {
  const out: Resp[] = []
  let pos = 0
  for (const s of sent) {
    const he = text.indexOf('\r\n\r\n', pos)
    if (he < 0) return null
    const head = text.slice(pos, he)
    const status = Number(head.split(' ')[1])
    const cl = /\r\ncontent-length: (\d+)/i.exec(head)
    pos = he + 4
    let body = ''
    if (s.method !== 'HEAD' && cl !== null) {
      const n = Number(cl[1])
      if (text.length < pos + n) return null
      body = text.slice(pos, pos + n)
      pos += n
    }
    out.push({ status, body })
  }
  return out
}

interface Seen { requests: number; clientErrors: number; smuggled: string[]; errorCodes: Record<string, number>; parseErrors: string[] }

async function seen (port: number): Promise<Seen> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/__seen', agent: false }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => resolve(JSON.parse(b) as Seen))
    }).on('error', reject)
  })
}

t.test(`fuzz the fast path (seed ${SEED}, ${BUDGET_MS} ms)`, async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const rnd = seededRandom(SEED)
  const t0 = Date.now()
  let valid = 0
  let mutated = 0
  let refused = 0
  let failures = 0
  for (let caseNo = 0; Date.now() - t0 < BUDGET_MS && caseNo < 2000; caseNo++) {
    const { bytes, sent } = build(rnd, caseNo)
    if (rnd() < 0.5) {
      valid++
      const text = await exchange(px.ports.serving, rnd, bytes, 1000, (x) => parseAll(x, sent) !== null)
      const rs = parseAll(text, sent)
      if (rs === null) { failures++; t.fail(`case ${caseNo}: incomplete responses`, { text: text.slice(0, 500) }); continue }
      for (let i = 0; i < sent.length; i++) {
        const s = sent[i] as Sent
        const r = rs[i] as Resp
        if (r.status !== 200) { failures++; t.fail(`case ${caseNo}#${i}: status ${r.status}`); continue }
        if (s.method === 'HEAD') continue
        const e = JSON.parse(r.body) as { method: string; url: string; bytes: number; sha256: string }
        const want = createHash('sha256').update(s.body).digest('hex')
        if (e.method !== s.method || e.url !== s.url || e.sha256 !== want) {
          failures++
          t.fail(`case ${caseNo}#${i}: mis-framed`, { got: e, want: { method: s.method, url: s.url, bytes: s.body.length } })
        }
      }
    } else {
      mutated++
      const before = await seen(up.port)
      const fwdBefore = px.ctx.counters.forwarded
      const text = await exchange(px.ports.serving, rnd, mutate(rnd, bytes), 60, () => false)
      if (/^HTTP\/1\.1 (400|431|501|505) /m.test(text)) refused++
      // Let the upstream finish whatever the proxy sent before counting.
      await new Promise((r) => setTimeout(r, 5))
      const after = await seen(up.port)
      const upstreamSaw = after.requests - before.requests
      const proxySent = px.ctx.counters.forwarded - fwdBefore
      if (upstreamSaw > proxySent) {
        failures++
        t.fail(`case ${caseNo}: the user container parsed ${upstreamSaw} requests, the proxy forwarded ${proxySent}`)
      }
    }
  }
  const s = await seen(up.port)
  t.equal(failures, 0, `${valid} valid and ${mutated} mutated cases, ${refused} mutated ones refused with 4xx/5xx`)
  // The proxy must never forward a head the user container's llhttp refuses. Two exceptions, on purpose:
  // HPE_INVALID_METHOD (any token method passes, as Go's net/http lets it; llhttp knows a fixed list) and
  // HPE_INVALID_EOF_STATE (the proxy closed a connection mid-request because the client went away).
  t.same(s.parseErrors, [], `heads llhttp refused after the proxy accepted them (error codes seen: ${JSON.stringify(s.errorCodes)})`)
  t.comment(`user container: ${s.requests} requests, ${s.clientErrors} parse errors, ${s.smuggled.length} bodies-as-requests (only legitimately from mutated lengths)`)
  // Still alive and well.
  const ok = await exchange(px.ports.serving, rnd, Buffer.from('GET /echo HTTP/1.1\r\nHost: a\r\n\r\n'), 1000, (x) => x.includes('"url":"/echo"'))
  t.match(ok, /^HTTP\/1\.1 200 /)
  t.ok(valid > 5 && mutated > 5, 'enough cases ran')
})
