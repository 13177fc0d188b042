import type { ProxyContext } from '../../proxyContext.js'
import { routeTagOf } from '../../routeTag.js'
import { E_CANCEL, E_INTERNAL_ERROR, E_NO_ERROR, E_REFUSED_STREAM } from './frames.js'
import { downstreamFields, field, requestInfoOf, upstreamFields } from './relayHeaders.js'
import type { RelayStream, StreamSink } from './relayStream.js'
import type { RelayUpstream } from './relayUpstream.js'
import { StreamLedger } from '../streamLedger.js'
import { answerProbe, isProbe } from '../streamProbe.js'

/** Request bodies up to this size are kept until the response starts, so a refused stream can be retried. */
const RETRY_BODY_BYTES = 64 * 1024

// Bodies as Knative writes them (see clientConnection.ts).
const BODY_QUEUE_FULL = 'pending request queue full\n'
const BODY_TIMEOUT = 'request timeout'

/** What an exchange needs from the front that owns it. */
export interface RelayOwner {
  readonly ctx: ProxyContext
  readonly upstream: RelayUpstream
  readonly exchanges: Set<RelayExchange>
}

/** The client side of an exchange (the downstream stream's events). */
class ClientSide implements StreamSink {
  readonly ex: RelayExchange
  constructor (ex: RelayExchange) { this.ex = ex }
  onHeaders (_s: RelayStream, fields: string[]): void { this.ex.clientTrailers(fields) }
  onData (_s: RelayStream, data: Buffer, end: boolean): void { this.ex.clientData(data, end) }
  onReset (): void { this.ex.clientClosed() }
  onClosed (): void { this.ex.clientClosed() }
}

/**
 * One HTTP/2 stream on the serving port under the relay engine: H2Exchange's behaviour (probes answered and
 * not counted; every other stream counted once in the Stat, one breaker slot or a queue place or 503, the
 * revision timeouts, 431 for a header list over the limit, 502 when the user container fails, one retry of a
 * refused stream) on RelayConn streams: its body and trailers relayed frame by frame, both ways, with the
 * flow-control windows of each hop (DATA is given back to its sender once written onward).
 */
export class RelayExchange implements StreamSink {
  readonly stream: RelayStream
  resStarted = false
  #owner: RelayOwner
  #ledger: StreamLedger
  #fields: string[]
  #tooLarge: boolean
  #clientIp: string
  #up: RelayStream | null = null
  /** Client DATA that arrived before the upstream stream was opened (queued in the breaker). */
  #early: Buffer[] | null = null
  /** The client has sent END_STREAM. */
  #clientEnded: boolean
  /** The request body sent upstream so far, while small enough to send again; null past that. */
  #kept: Buffer[] | null = []
  #keptBytes = 0
  #retried = false
  /** A local answer was sent: the body that still comes is dropped (given back at once). */
  #answered = false
  /** Request trailers that came before the upstream stream was opened. */
  #reqTrailers: string[] | null = null

  constructor (owner: RelayOwner, stream: RelayStream, fields: string[], end: boolean, tooLarge: boolean, clientIp: string) {
    this.#owner = owner
    this.#ledger = new StreamLedger(owner.ctx, owner.exchanges, this)
    this.stream = stream
    this.#fields = fields
    this.#tooLarge = tooLarge
    this.#clientIp = clientIp
    this.#clientEnded = end
    stream.sink = new ClientSide(this)
  }

  get method (): string { return field(this.#fields, ':method') }

  start (): void {
    const ctx = this.#owner.ctx
    const ledger = this.#ledger
    ledger.arrived(ctx.clock.now())
    if (this.#tooLarge) {
      // Go's http2 server (handleHeaderListTooLong): 431 without calling the handler, so not counted.
      this.#respond(431, '<h1>HTTP Error 431</h1><p>Request Header Field(s) Too Large</p>')
      return
    }
    const info = requestInfoOf(this.#fields)
    // knative/pkg network/handlers/drain.go: health checks first, then K-Network-Probe: probe; not counted.
    if (isProbe(info)) {
      // The body (if any) is not wanted meanwhile.
      this.#answered = true
      answerProbe(ctx, info, {
        respond: (status, body, hash) => { this.#respond(status, body, hash === undefined ? [] : ['k-network-hash', hash]) },
        answered: () => this.stream.closed || this.resStarted
      })
      return
    }
    ledger.countIn(info.proxied, () => {
      const tp = field(this.#fields, 'traceparent')
      return {
        method: this.method,
        target: field(this.#fields, ':path'),
        protocolVersion: '2',
        scheme: field(this.#fields, ':scheme') === 'https' ? 'https' : 'http',
        traceparent: tp === '' ? undefined : tp,
        routeTag: this.#routeTag()
      }
    })
    if (ledger.admit(() => { this.#dispatch() }, () => this.stream.closed) === 'full') this.#respond(503, BODY_QUEUE_FULL)
  }

  #routeTag (): string {
    return routeTagOf(field(this.#fields, 'knative-serving-tag'), field(this.#fields, 'knative-serving-default-route'))
  }

  #dispatch (): void {
    this.#owner.ctx.counters.forwarded++
    this.#openUpstream()
  }

  #openUpstream (): void {
    let up: RelayStream
    const sendBody = this.#kept !== null && this.#kept.length > 0
    const endNow = this.#clientEnded && !sendBody && (this.#early === null || this.#early.length === 0) && this.#reqTrailers === null
    try {
      const out = upstreamFields(this.#fields, this.#clientIp, this.#ledger.traceparent)
      up = this.#owner.upstream.request(out, endNow, this)
    } catch {
      this.#badGateway()
      return
    }
    this.#up = up
    up.source = this.stream
    this.stream.source = up
    const prev = this.#retried
    if (prev && sendBody) {
      // A retry: the kept body was given back to the client when it first went out.
      const kept = this.#kept as Buffer[]
      up.skipGrant = this.#keptBytes
      for (let i = 0; i < kept.length; i++) up.conn.sendData(up, kept[i] as Buffer, this.#clientEnded && i === kept.length - 1)
    }
    const early = this.#early
    if (early !== null) {
      this.#early = null
      const last = this.#clientEnded && this.#reqTrailers === null
      for (let i = 0; i < early.length; i++) this.#forward(early[i] as Buffer, last && i === early.length - 1)
    }
    const t = this.#reqTrailers
    if (t !== null) { this.#reqTrailers = null; up.conn.sendTrailers(up, t) }
  }

  // ---- client side ----

  clientData (data: Buffer, end: boolean): void {
    if (end) this.#clientEnded = true
    this.#ledger.traffic = true
    if (this.#answered || this.#ledger.settled) {
      // Not wanted: read and dropped so flow control does not stall the connection.
      this.stream.conn.grant(this.stream, data.length)
      return
    }
    const up = this.#up
    if (up === null) {
      if (this.resStarted) { this.stream.conn.grant(this.stream, data.length); return }
      (this.#early ??= []).push(data)
      return
    }
    this.#forward(data, end)
  }

  #forward (data: Buffer, end: boolean): void {
    const up = this.#up
    if (up === null) return
    if (this.#kept !== null) {
      this.#keptBytes += data.length
      if (this.#keptBytes <= RETRY_BODY_BYTES) this.#kept.push(data)
      else this.#kept = null
    }
    up.conn.sendData(up, data, end)
  }

  /** Request trailers: passed on after the body, and they end the request. */
  clientTrailers (fields: string[]): void {
    this.#clientEnded = true
    // Not kept for a retry: such a request is not sent again (as a body over the limit is not).
    this.#kept = null
    if (this.#answered || this.#ledger.settled) return
    const up = this.#up
    if (up === null) { this.#reqTrailers = fields; return }
    up.conn.sendTrailers(up, fields)
  }

  clientClosed (): void {
    const up = this.#up
    this.#up = null
    // RST_STREAM from the client (or its connection went away): cancel the upstream stream too.
    if (up !== null && !up.closed) up.conn.reset(up, E_CANCEL)
    this.#settle()
  }

  // ---- upstream side (StreamSink of the upstream stream) ----

  onHeaders (up: RelayStream, fields: string[], end: boolean): void {
    if (up !== this.#up) return
    const ds = this.stream
    this.#ledger.traffic = true
    if (up.conn.decoder.tooLarge) {
      // A response head over our limit (Go's transport: "response header list larger than advertised"): an error.
      this.#up = null
      up.conn.reset(up, E_CANCEL)
      if (!this.resStarted) this.#badGateway()
      else this.#abort(E_INTERNAL_ERROR)
      return
    }
    if (!this.resStarted) {
      const status = Number(field(fields, ':status'))
      if (status >= 100 && status < 200 && !end) {
        // 1xx (100-continue, 103 Early Hints): passed on before the final response.
        ds.conn.sendHeaders(ds, downstreamFields(fields), false)
        return
      }
      this.resStarted = true
      this.#kept = null
      this.#ledger.status = status
      ds.conn.sendHeaders(ds, downstreamFields(fields), end)
      return
    }
    // Trailers (grpc-status).
    ds.conn.sendTrailers(ds, downstreamFields(fields))
  }

  onData (up: RelayStream, data: Buffer, end: boolean): void {
    if (up !== this.#up) { up.conn.grant(up, data.length); return }
    this.#ledger.traffic = true
    const ds = this.stream
    if (ds.source !== up) ds.source = up
    ds.conn.sendData(ds, data, end)
  }

  onReset (up: RelayStream, code: number): void {
    if (up !== this.#up) return
    this.#up = null
    if (this.stream.closed) return
    if (!this.resStarted) {
      if (!this.#retried && this.#kept !== null && (code === E_REFUSED_STREAM || this.#owner.upstream.refused(up))) {
        // Not processed by the user container: safe to send again, once.
        this.#retried = true
        this.#owner.ctx.counters.retries++
        this.#openUpstream()
        return
      }
      // The connection failed, or the user container reset the stream before answering: 502, as Go's ReverseProxy.
      this.#badGateway()
      return
    }
    if (code !== E_NO_ERROR) { this.#abort(code); return }
    // RST_STREAM(NO_ERROR) before the response ended cuts it short: Go's ReverseProxy aborts the handler then.
    if (!up.remoteEnded) { this.#abort(E_INTERNAL_ERROR); return }
    this.#upstreamDone()
  }

  onClosed (up: RelayStream): void {
    if (up !== this.#up) return
    this.#up = null
    this.#upstreamDone()
  }

  /** The response ended; a client still sending is told to stop without error (RFC 9113 §8.1). */
  #upstreamDone (): void {
    const ds = this.stream
    if (ds.closed || this.#clientEnded) return
    ds.rstAfterEnd = true
    if (ds.localEnded) ds.conn.reset(ds, E_NO_ERROR)
    // The body still coming is not wanted any more.
    this.#answered = true
    if (ds.closed) this.#settle()
  }

  #badGateway (): void {
    this.#owner.ctx.counters.badGateway++
    this.#respond(502, '')
  }

  /** A local answer (probe, 431, 503, 504, 502). */
  #respond (status: number, body: string, extra: string[] = []): void {
    const ds = this.stream
    if (ds.closed) return
    if (this.resStarted) { this.#abort(E_INTERNAL_ERROR); return }
    this.resStarted = true
    this.#answered = true
    this.#ledger.status = status
    const b = Buffer.from(body, 'utf8')
    const h = [':status', String(status), ...extra, 'content-length', String(b.length)]
    if (body !== '') h.push('content-type', 'text/plain; charset=utf-8', 'x-content-type-options', 'nosniff')
    // The request body, if any, is not wanted: a client still sending is reset NO_ERROR after the answer.
    const early = this.#early
    this.#early = null
    if (early !== null) for (const c of early) ds.conn.grant(ds, c.length)
    if (!this.#clientEnded) ds.rstAfterEnd = true
    ds.conn.sendHeaders(ds, h, body === '')
    if (body !== '') ds.conn.sendData(ds, b, true)
    if (ds.closed) this.#settle()
  }

  /** Go's http2 server resets the stream (INTERNAL_ERROR) when a handler aborts mid-response. */
  #abort (code: number): void {
    const up = this.#up
    this.#up = null
    if (up !== null && !up.closed) up.conn.reset(up, E_CANCEL)
    const ds = this.stream
    if (!ds.closed) { ds.conn.reset(ds, code); this.#settle() }
  }

  /** Stat out and breaker slot back, once. */
  #settle (): void { this.#ledger.settle(this.method, () => this.#routeTag()) }

  /** The revision timeouts (serving pkg/http/handler/timeout.go), driven by the front's sweep. */
  sweep (nowMs: number): void {
    if (!this.#ledger.timedOut(nowMs, this.resStarted)) return
    if (this.resStarted) { this.#abort(E_INTERNAL_ERROR); return }
    const up = this.#up
    this.#up = null
    if (up !== null && !up.closed) up.conn.reset(up, E_CANCEL)
    this.#respond(504, BODY_TIMEOUT)
  }
}
