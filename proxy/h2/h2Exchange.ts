import http2 from 'node:http2'
import type { ProxyContext } from '../proxyContext.js'
import { downstreamHeaders, readRequestInfo, upstreamHeaders } from './h2Headers.js'
import type { H2Upstream } from './h2Upstream.js'
import { routeTagOf } from '../routeTag.js'
import { StreamLedger } from './streamLedger.js'
import { answerProbe, isProbe } from './streamProbe.js'

const {
  HTTP2_HEADER_STATUS, HTTP2_HEADER_METHOD, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM
} = http2.constants
/** Request bodies up to this size are kept until the response starts, so a refused stream can be retried. */
const RETRY_BODY_BYTES = 64 * 1024

const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM

// Bodies as Knative writes them (see clientConnection.ts).
const BODY_QUEUE_FULL = 'pending request queue full\n'
const BODY_TIMEOUT = 'request timeout'

/** What an exchange needs from the server that owns it. */
export interface H2Owner {
  readonly ctx: ProxyContext
  readonly upstream: H2Upstream
  readonly exchanges: Set<H2Exchange>
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertised: a larger header list gets 431, as Go answers it. */
  readonly maxHeaderListBytes: number
}

/** The header list size of RFC 9113 §6.5.2: name + value + 32 octets per field, pseudo-headers included. */
export function headerListBytes (h: http2.IncomingHttpHeaders): number {
  let n = 0
  for (const name of Object.keys(h)) {
    const v = h[name]
    if (v === undefined) continue
    if (typeof v === 'string') n += name.length + v.length + 32
    else for (const x of v) n += name.length + x.length + 32
  }
  return n
}

/**
 * One HTTP/2 stream on the serving port: one request in Knative's handler chain (each stream is its own
 * http.Request there), so probes are answered and not counted, and every other stream resets the drain
 * timer, is counted once in the Stat, takes one breaker slot (or queues, or gets 503), and is proxied to
 * the user container as its own HTTP/2 stream under the revision timeouts. Bodies and trailers are piped
 * with backpressure, so HTTP/2 flow control holds end to end.
 */
export class H2Exchange {
  readonly stream: http2.ServerHttp2Stream
  resStarted = false
  #owner: H2Owner
  #ledger: StreamLedger
  #headers: http2.IncomingHttpHeaders
  #clientIp: string
  #up: http2.ClientHttp2Stream | null = null
  #trailers: http2.IncomingHttpHeaders | null = null
  /** The client has sent END_STREAM. */
  #clientEnded = false
  /** The request body sent upstream so far, while it is small enough to send again; null past that. */
  #kept: Buffer[] | null = []
  #keptBytes = 0
  #retried = false

  constructor (owner: H2Owner, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, clientIp: string) {
    this.#owner = owner
    this.#ledger = new StreamLedger(owner.ctx, owner.exchanges, this)
    this.stream = stream
    this.#headers = headers
    this.#clientIp = clientIp
    stream.on('error', () => { /* 'close' follows */ })
    stream.once('close', () => this.#onClientClose())
    if (stream.endAfterHeaders) this.#clientEnded = true
    else stream.once('end', () => { this.#clientEnded = true })
  }

  start (): void {
    const ctx = this.#owner.ctx
    const ledger = this.#ledger
    ledger.arrived(ctx.clock.now())
    if (headerListBytes(this.#headers) > this.#owner.maxHeaderListBytes) {
      // Go's http2 server (handleHeaderListTooLong): 431 without calling the handler, so not counted.
      this.stream.resume()
      this.#respond(431, '<h1>HTTP Error 431</h1><p>Request Header Field(s) Too Large</p>')
      return
    }
    const info = readRequestInfo(this.#headers)
    // knative/pkg network/handlers/drain.go: health checks first, then K-Network-Probe: probe; not counted.
    if (isProbe(info)) {
      this.stream.resume()
      answerProbe(ctx, info, {
        respond: (status, body, hash) => { this.#respond(status, body, hash === undefined ? {} : { 'k-network-hash': hash }) },
        answered: () => this.stream.closed || this.resStarted
      })
      return
    }
    const h = this.#headers
    ledger.countIn(info.proxied, () => {
      const tp = h.traceparent
      return {
        method: String(h[HTTP2_HEADER_METHOD] ?? ''),
        target: String(h[':path'] ?? ''),
        protocolVersion: '2',
        scheme: h[':scheme'] === 'https' ? 'https' : 'http',
        traceparent: typeof tp === 'string' ? tp : undefined,
        routeTag: this.#routeTag()
      }
    })
    if (ledger.admit(() => { this.#dispatch() }, () => this.stream.closed) === 'full') {
      this.stream.resume()
      this.#respond(503, BODY_QUEUE_FULL)
    }
  }

  #routeTag (): string {
    const h = this.#headers
    const tag = h['knative-serving-tag']
    const dflt = h['knative-serving-default-route']
    return routeTagOf(tag === undefined ? '' : String(tag), dflt === undefined ? '' : String(dflt))
  }

  #dispatch (): void {
    this.#owner.ctx.counters.forwarded++
    this.#openUpstream()
    const stream = this.stream
    if (!stream.endAfterHeaders) {
      // The body is forwarded by hand rather than piped, keeping up to RETRY_BODY_BYTES of it, so a stream
      // the user container refused unprocessed (REFUSED_STREAM, or past a GOAWAY's last stream id) can be
      // sent again on a new connection, as Go's http2.Transport retries such requests.
      stream.on('data', (c: Buffer) => {
        this.#ledger.traffic = true
        if (this.#kept !== null) {
          this.#keptBytes += c.length
          if (this.#keptBytes <= RETRY_BODY_BYTES) this.#kept.push(c)
          else this.#kept = null
        }
        const up = this.#up
        if (up !== null && !up.write(c)) stream.pause()
      })
      stream.once('end', () => { this.#up?.end() })
    }
  }

  #openUpstream (): void {
    const stream = this.stream
    const endStream = stream.endAfterHeaders
    let up: http2.ClientHttp2Stream
    try {
      const out = upstreamHeaders(this.#headers, this.#clientIp)
      // With tracing on, the proxy's span is the parent the user container sees.
      const tp = this.#ledger.traceparent
      if (tp !== null) out.traceparent = tp
      up = this.#owner.upstream.request(out, endStream)
    } catch {
      this.#badGateway()
      return
    }
    this.#up = up
    up.on('error', () => { /* 'close' follows */ })
    up.on('headers', (h) => {
      // 1xx (100-continue, 103 Early Hints): passed on before the final response.
      if (!stream.closed && !this.resStarted) { try { stream.additionalHeaders(downstreamHeaders(h)) } catch { /* stream gone */ } }
    })
    up.once('response', (h, flags) => this.#onResponse(up, h, flags))
    up.on('trailers', (t) => { this.#trailers = t })
    up.once('close', () => this.#onUpstreamClose(up))
    up.on('drain', () => { if (this.#up === up) stream.resume() })
    if (!endStream && this.#kept !== null && this.#kept.length > 0) {
      for (const c of this.#kept) up.write(c)
      if (this.#clientEnded) up.end()
    }
  }

  #onResponse (up: http2.ClientHttp2Stream, h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    const stream = this.stream
    if (stream.closed || this.resStarted) { up.close(NGHTTP2_CANCEL); return }
    this.resStarted = true
    this.#ledger.traffic = true
    this.#kept = null
    this.#ledger.status = Number(h[HTTP2_HEADER_STATUS] ?? 0)
    const out = downstreamHeaders(h)
    const headOnly = this.#headers[HTTP2_HEADER_METHOD] === 'HEAD'
    try {
      if ((flags & END_STREAM) !== 0) {
        // A gRPC trailers-only response (grpc-status in the one HEADERS frame) stays one frame.
        stream.respond(out, { endStream: true })
        return
      }
      stream.respond(out, { waitForTrailers: true, endStream: false })
    } catch {
      up.close(NGHTTP2_INTERNAL_ERROR)
      this.#abort(NGHTTP2_INTERNAL_ERROR)
      return
    }
    stream.once('wantTrailers', () => {
      const t = this.#trailers
      try { stream.sendTrailers(t === null ? {} : downstreamHeaders(t)) } catch { /* stream gone */ }
    })
    if (headOnly) { up.resume(); up.once('end', () => stream.end()); return }
    // Forwarded by hand rather than with pipe(): fewer listeners per stream, the same backpressure.
    up.on('data', (c: Buffer) => {
      this.#ledger.traffic = true
      if (!stream.write(c)) up.pause()
    })
    stream.on('drain', () => up.resume())
    up.once('end', () => stream.end())
  }

  #onUpstreamClose (up: http2.ClientHttp2Stream): void {
    // Already let go (a local answer, a timeout, a client reset): nothing more to relay.
    if (this.#up !== up) return
    this.#up = null
    const code = up.rstCode ?? NGHTTP2_NO_ERROR
    if (this.stream.closed) return
    if (!this.resStarted) {
      if (!this.#retried && this.#kept !== null && (code === NGHTTP2_REFUSED_STREAM || this.#owner.upstream.refused(up))) {
        // Not processed by the user container: safe to send again, once.
        this.#retried = true
        this.#owner.ctx.counters.retries++
        this.#openUpstream()
        return
      }
      // The connection failed, or the user container reset the stream before answering: Go's ReverseProxy
      // error handler answers 502.
      this.#badGateway()
      return
    }
    if (code !== NGHTTP2_NO_ERROR) { this.#abort(code); return }
    // The response ended; a client still sending is told to stop without error (RFC 9113 §8.1).
    if (!this.#clientEnded) this.stream.close(NGHTTP2_NO_ERROR)
  }

  #badGateway (): void {
    this.#owner.ctx.counters.badGateway++
    this.#respond(502, '')
  }

  /** A local answer (probe, 503, 504, 502). */
  #respond (status: number, body: string, extra: http2.OutgoingHttpHeaders = {}): void {
    const stream = this.stream
    if (stream.closed || stream.destroyed) return
    if (this.resStarted) { this.#abort(NGHTTP2_INTERNAL_ERROR); return }
    this.resStarted = true
    this.#ledger.status = status
    const h: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_STATUS]: status, ...extra, 'content-length': Buffer.byteLength(body) }
    if (body !== '') { h['content-type'] = 'text/plain; charset=utf-8'; h['x-content-type-options'] = 'nosniff' }
    try {
      stream.respond(h, { endStream: body === '' })
      if (body !== '') stream.end(body)
    } catch {
      this.#abort(NGHTTP2_INTERNAL_ERROR)
      return
    }
    // The request body, if any, is not wanted: read and drop it so flow control does not stall the connection.
    if (!stream.readableEnded) stream.resume()
  }

  /** Go's http2 server resets the stream (INTERNAL_ERROR) when a handler aborts mid-response. */
  #abort (code: number): void {
    const up = this.#up
    this.#up = null
    if (up !== null && !up.closed) up.close(NGHTTP2_CANCEL)
    if (!this.stream.closed) this.stream.close(code)
  }

  #onClientClose (): void {
    const up = this.#up
    // RST_STREAM from the client (or its connection went away): cancel the upstream stream too.
    if (up !== null && !up.closed) up.close(NGHTTP2_CANCEL)
    this.#up = null
    this.#ledger.settle(String(this.#headers[HTTP2_HEADER_METHOD] ?? ''), () => this.#routeTag())
  }

  /** The revision timeouts (serving pkg/http/handler/timeout.go), driven by the server's sweep. */
  sweep (nowMs: number): void {
    if (!this.#ledger.timedOut(nowMs, this.resStarted)) return
    if (this.resStarted) { this.#abort(NGHTTP2_INTERNAL_ERROR); return }
    const up = this.#up
    this.#up = null
    if (up !== null && !up.closed) up.close(NGHTTP2_CANCEL)
    this.#respond(504, BODY_TIMEOUT)
  }
}
