import type net from 'node:net'
import {
  BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE, ChunkedFramer, findHeadEnd, HEAD_TOO_LARGE, PARSE_ERROR, PARSE_MORE,
  RequestHead, ResponseHead, withConnectionClose, type BodyKind
} from './http1.js'
import type { Breaker } from '../core/breaker.js'
import type { ProxyContext } from './proxyContext.js'
import { routeTagOf } from './routeTag.js'
import type { RequestSpan, RequestTracer } from '../core/tracing/requestTracer.js'
import type { UpstreamConn, UpstreamOwner } from './upstreamPool.js'
import { writeDirect } from './directWrite.js'

/** Unparsed client bytes we hold (pipelined requests, a body waiting for a slot) before pausing the socket. */
const PENDING_HIGH_WATER = 256 * 1024
/** Largest response head we accept from the user container. */
const MAX_RESPONSE_HEAD_BYTES = 128 * 1024
/** After we send FIN, how long we keep reading (and dropping) before destroying: a lingering close. */
export const LINGER_MS = 2000

// ---- the state of a connection, as three small enumerations ---------------------------------------
// Numbers, as http1.ts's BODY_* are, so the hot path compares small integers.

/** Between requests: waiting for, or reading, the next request head. */
export const PHASE_IDLE = 0
/** A counted request waits for a breaker slot; its body, if any, waits unread in the pending buffer. */
export const PHASE_QUEUED = 1
/** A health-check request waits for the readiness prober; it is not counted. */
export const PHASE_PROBING = 2
/** A request is exchanged with the upstream, or was answered here and its body is still being drained. */
export const PHASE_EXCHANGE = 3
/** Upgraded (101): bytes move both ways unparsed until either side ends. */
export const PHASE_TUNNEL = 4
/** We sent FIN after our last response: input is read and dropped until the client closes or LINGER_MS passes. */
export const PHASE_ENDING = 5
export const PHASE_CLOSED = 6
export type Phase = typeof PHASE_IDLE | typeof PHASE_QUEUED | typeof PHASE_PROBING | typeof PHASE_EXCHANGE |
  typeof PHASE_TUNNEL | typeof PHASE_ENDING | typeof PHASE_CLOSED
export const PHASE_NAMES = ['idle', 'queued', 'probing', 'exchange', 'tunnel', 'ending', 'closed'] as const

/** The current request's body: nothing (more) to read. */
const REQ_DONE = 0
/** Body bytes go to the upstream; they wait in the pending buffer while there is none yet (queued). */
const REQ_FORWARD = 1
/** The request was answered here: its body is read and dropped, so the next request can be found. */
const REQ_DISCARD = 2
type ReqBody = typeof REQ_DONE | typeof REQ_FORWARD | typeof REQ_DISCARD

/** The current response: nothing sent to the client yet (interim 1xx aside), so a local answer is still possible. */
const RES_NONE = 0
/** The upstream's head went to the client; its body is being moved. */
const RES_BODY = 1
/** The whole response went to the client. */
const RES_DONE = 2
type ResState = typeof RES_NONE | typeof RES_BODY | typeof RES_DONE

const SLOT_NONE = 0
/** In the breaker's queue; #cancelWait takes it out. */
const SLOT_QUEUED = 1
const SLOT_HELD = 2
type Slot = typeof SLOT_NONE | typeof SLOT_QUEUED | typeof SLOT_HELD

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 431: 'Request Header Fields Too Large', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported'
}

function localResponse (status: number, body: string, close: boolean, extraHeaders = ''): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n` +
    (body === '' ? '' : 'Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n') +
    extraHeaders +
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n` +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n' + body
}

// Bodies as Knative writes them: http.Error appends a newline; the timeout handler writes its text as is.
const BODY_QUEUE_FULL = 'pending request queue full\n'
const BODY_TIMEOUT = 'request timeout'
const BODY_SHUTTING_DOWN = 'shutting down\n'

/**
 * One client connection to QUEUE_SERVING_PORT: reads requests in order, sends each to a pooled upstream
 * connection, frames the response so it knows when the next request may start, and moves bytes both ways
 * without parsing bodies beyond chunk framing. Requests on one connection are served one at a time, so
 * keep-alive and pipelined requests keep their order (RFC 9112 §9.3.2): later pipelined bytes simply wait.
 *
 * Its state is a phase (PHASE_*), and, within an exchange, where the request body goes (REQ_*), how far
 * the response is (RES_*) and what it holds of the breaker (SLOT_*). A request goes through these steps:
 *
 *   #readHead -> #admit (probes, drain timer, stats, breaker: Knative's handler order) -> [#enqueue] ->
 *   #dispatch (head to a pooled upstream) -> #forwardBody ... -> #readResponseHead -> #forwardResponseBody ...
 *   -> #finishResponse -> #endExchange (#release: stats out, slot back) -> #readHead of the next one.
 *
 * The order of checks per request is Knative's handler chain (pkg/queue/sharedmain/handlers.go):
 * health-check probes and K-Network-Probe: probe are answered here and not counted; every other request
 * resets the drain timer, is counted in the autoscaler stats, passes the breaker, and is proxied under
 * the revision timeouts.
 *
 * A client that goes away gives back what it held: the upstream request is cancelled (that connection is
 * destroyed, never pooled), the breaker slot or queue place is released. Go's net/http does the same when its
 * connection reads EOF (connReader.backgroundRead cancels the request context, which the queue-proxy's
 * ReverseProxy turns into a cancelled upstream request); see #onEnd for the one case kept open.
 */
export class ClientConn implements UpstreamOwner {
  readonly socket: net.Socket

  #ctx: ProxyContext
  #phase: Phase = PHASE_IDLE
  #reqBody: ReqBody = REQ_DONE
  #res: ResState = RES_NONE
  #slot: Slot = SLOT_NONE
  /** Takes this exchange out of the breaker's queue while #slot is SLOT_QUEUED. */
  #cancelWait: (() => void) | null = null
  /** Bumped at each request's start and end, so a late callback (breaker, prober) can tell it is stale. */
  #seq = 0

  // -- the client's bytes
  #xffLine: string
  /** #xffLine and the head's final CRLF, as bytes: appended to each request head on the common path. */
  #xffTail: Buffer
  #pending: Buffer | null = null
  #off = 0
  /** Bytes of an incomplete request head (from #off) already scanned. */
  #headChecked = 0
  #paused = false
  #upstreamBlocked = false
  #inProcess = false
  #corked: UpstreamConn | null = null
  /** The client half-closed after pipelining requests: serve what it sent, then close. */
  #clientEnded = false

  // -- clocks (ms); 0 = not running
  /** Since the accept (first request) or the first byte of a head (later ones): Go's ReadHeaderTimeout. */
  #headSinceMs: number
  /** Set by the sweep that first sees the connection idle, so the hot path reads no clock for it. */
  #idleSinceMs = 0
  #endingSinceMs = 0
  #startedMs = 0
  #lastWriteMs = 0
  /**
   * Response (or tunnel) bytes moved since the last sweep; the sweep turns it into #lastWriteMs, so the hot
   * path reads no clock per chunk (the idle timeout is then up to one sweep late, never early).
   */
  #traffic = false
  /** When the response ended (read once, for the pool and the stats), 0 until then. */
  #doneMs = 0

  // -- the current exchange
  #head = new RequestHead()
  #resHead = new ResponseHead()
  #reqFramer = new ChunkedFramer()
  #resFramer = new ChunkedFramer()
  #reqRemaining = 0
  #resPending: Buffer | null = null
  #resRemaining = 0
  #resBodyKind: BodyKind = BODY_NONE
  #up: UpstreamConn | null = null
  #headOut: Buffer | string = ''
  #status = 0
  /** Counted in the stats (every request but probes): #release takes it out. */
  #counted = false
  #proxied = false
  #closeAfter = false
  #isHead = false
  #upgrade = false
  #retried = false
  /** This request's span, when tracing is on. */
  #span: RequestSpan | null = null
  /** The client took the response bytes a direct write left queued: let the upstream send more. */
  readonly #onClientDrained = (): void => { if (this.#up !== null) this.#up.socket.resume() }
  /** Nothing to do when a head's direct write drains: the head does not hold anything back. */
  static readonly #noop = (): void => {}

  /** `acceptedMs`: when the connection was accepted, if a sniffer read from it before (the header timeout counts from then). */
  constructor (socket: net.Socket, ctx: ProxyContext, acceptedMs?: number) {
    this.socket = socket
    this.#ctx = ctx
    this.#headSinceMs = acceptedMs ?? ctx.clock.now()
    let ip = socket.remoteAddress ?? ''
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    // Go's httputil.ReverseProxy appends the client address to X-Forwarded-For.
    this.#xffLine = ip === '' ? '' : `X-Forwarded-For: ${ip}\r\n`
    this.#xffTail = Buffer.from(this.#xffLine + '\r\n', 'latin1')
    this.#head.takeTraceparent = ctx.tracer !== null
    // Sockets adopted by adoptSocket() read with `onread` and call onData() directly; 'data' covers the rest.
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('end', () => this.#onEnd())
    socket.on('close', () => { if (this.#phase !== PHASE_CLOSED) this.#abort() })
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('drain', () => { if (this.#up !== null) this.#up.socket.resume() })
  }

  get phase (): Phase { return this.#phase }
  get closed (): boolean { return this.#phase === PHASE_CLOSED }
  get tunnel (): boolean { return this.#phase === PHASE_TUNNEL }

  // ---- client input -------------------------------------------------------------------------------

  onData (chunk: Buffer): void {
    const ph = this.#phase
    if (ph >= PHASE_ENDING) return
    if (ph === PHASE_TUNNEL) {
      this.#traffic = true
      const up = this.#up
      if (up !== null && !up.socket.write(chunk)) { this.#upstreamBlocked = true; this.#pause() }
      return
    }
    if (this.#pending === null) {
      this.#pending = chunk
      this.#off = 0
    } else {
      this.#pending = Buffer.concat([this.#pending.subarray(this.#off), chunk])
      this.#off = 0
    }
    this.#process()
  }

  #process (): void {
    if (this.#inProcess) return
    this.#inProcess = true
    try {
      this.#loop()
    } finally {
      this.#inProcess = false
    }
    const corked = this.#corked
    if (corked !== null) { this.#corked = null; corked.socket.uncork() }
    const p = this.#pending
    if (p !== null && this.#off >= p.length) { this.#pending = null; this.#off = 0 }
    // The client half-closed: what it sent has been served, and no head can complete any more.
    if (this.#clientEnded && this.#phase === PHASE_IDLE) { this.#finishClient(); return }
    // An incomplete head is bounded by maxHeaderBytes instead: pausing would wait forever for its end.
    if (this.#phase !== PHASE_IDLE && this.#pending !== null && this.#pending.length - this.#off > PENDING_HIGH_WATER) this.#pause()
    else this.#maybeResume()
  }

  #loop (): void {
    for (;;) {
      const buf = this.#pending
      if (buf === null) return
      const ph = this.#phase
      if (ph === PHASE_IDLE) {
        if (!this.#readHead(buf)) return
        continue
      }
      if (ph >= PHASE_TUNNEL) return
      const rb = this.#reqBody
      if (rb === REQ_DONE) return
      // Held until a slot and an upstream are ours.
      if (rb === REQ_FORWARD && this.#up === null) return
      if (this.#off >= buf.length) return
      if (!this.#forwardBody(buf)) return
    }
  }

  /** Finds and parses the next request head in `buf`; true when a request was admitted. */
  #readHead (buf: Buffer): boolean {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line.
    while (this.#off + 1 < buf.length && buf[this.#off] === 13 && buf[this.#off + 1] === 10) { this.#off += 2; this.#headChecked = 0 }
    if (this.#off >= buf.length) return false
    const end = findHeadEnd(buf, this.#off, this.#ctx.maxHeaderBytes, this.#headChecked)
    if (end < 0) {
      if (end === PARSE_MORE) {
        this.#headChecked = buf.length - this.#off
        if (this.#headSinceMs === 0) this.#headSinceMs = this.#ctx.clock.now()
        return false
      }
      // Go's net/http (and so Knative's queue-proxy) answers an oversized head with exactly this.
      if (end === HEAD_TOO_LARGE) this.#reject(431, '431 Request Header Fields Too Large', '')
      else this.#reject(400, 'bare CR or LF, or a control character, in the head')
      return false
    }
    const start = this.#off
    this.#off = end
    this.#headChecked = 0
    this.#headSinceMs = 0
    if (this.#head.parseBuf(buf, start, end) !== 0) {
      this.#reject(this.#head.failure.status, this.#head.failure.reason)
      return false
    }
    this.#admit()
    return true
  }

  /** Moves request body bytes from `buf` to the upstream (or drops them). False when it ended the exchange. */
  #forwardBody (buf: Buffer): boolean {
    const start = this.#off
    const end = buf.length
    const forward = this.#reqBody === REQ_FORWARD
    let stop: number
    if (this.#head.bodyKind === BODY_LENGTH) {
      const n = Math.min(this.#reqRemaining, end - start)
      stop = start + n
      this.#reqRemaining -= n
      if (this.#reqRemaining === 0) this.#reqBody = REQ_DONE
    } else {
      const r = this.#reqFramer.feed(buf, start, end)
      if (r === PARSE_ERROR) { this.#requestBodyError(this.#reqFramer.error); return false }
      if (r === PARSE_MORE) {
        stop = end
      } else {
        stop = r
        this.#reqBody = REQ_DONE
      }
    }
    this.#off = stop
    const up = this.#up
    if (forward && up !== null && stop > start) {
      if (!up.socket.write(start === 0 && stop === end ? buf : buf.subarray(start, stop))) {
        this.#upstreamBlocked = true
        this.#pause()
      }
    }
    if (this.#reqBody === REQ_DONE) this.#maybeComplete()
    return true
  }

  /**
   * The client half-closed (FIN). Mid-request that is a client that left: a body it will never finish, or
   * (Go's and nginx's reading) an answer it no longer waits for. Either way the exchange is cancelled. The one
   * case kept open: a complete request with more requests pipelined after it, which is a client that said all
   * it had to say and waits for the answers (nginx's MSG_PEEK check sees those bytes and keeps going too).
   */
  #onEnd (): void {
    switch (this.#phase) {
      case PHASE_ENDING: this.socket.destroy(); return
      case PHASE_CLOSED: return
      case PHASE_TUNNEL: this.#up?.socket.end(); return
      case PHASE_IDLE: this.#finishClient(); return
    }
    const p = this.#pending
    if (this.#reqBody === REQ_DONE && p !== null && this.#off < p.length) { this.#clientEnded = true; return }
    // Answered here already, only the request body was left to drain: close after what we wrote.
    if (this.#res === RES_DONE) { this.#closeAfter = true; this.#maybeComplete(); return }
    this.#ctx.counters.clientGone++
    this.#abort()
  }

  #pause (): void {
    if (!this.#paused) { this.#paused = true; this.socket.pause() }
  }

  #maybeResume (): void {
    if (this.#paused && !this.#upstreamBlocked && (this.#pending === null || this.#pending.length - this.#off <= PENDING_HIGH_WATER)) {
      this.#paused = false
      this.socket.resume()
    }
  }

  // ---- one exchange -------------------------------------------------------------------------------

  /** Starts the exchange for the head just parsed: probes first, then the drain timer, stats and breaker. */
  #admit (): void {
    const h = this.#head
    const ctx = this.#ctx
    this.#seq++
    this.#phase = PHASE_EXCHANGE
    this.#reqBody = h.bodyKind === BODY_NONE ? REQ_DONE : REQ_FORWARD
    this.#reqRemaining = h.contentLength
    if (h.bodyKind === BODY_CHUNKED) this.#reqFramer.reset()
    this.#res = RES_NONE
    this.#resPending = null
    this.#closeAfter = !h.keepAlive || ctx.closing
    this.#upgrade = false
    this.#retried = false
    this.#isHead = h.method === 'HEAD'
    this.#status = 0
    this.#idleSinceMs = 0
    const now = ctx.clock.now()
    this.#startedMs = now
    this.#lastWriteMs = now
    this.#traffic = false
    this.#doneMs = 0

    // knative/pkg network/handlers/drain.go: health checks first, then K-Network-Probe: probe; neither
    // resets the drain timer, and ProxyHandler never sees them, so they are not counted.
    if (h.healthCheck) { this.#answerHealthCheck(); return }
    if (h.networkProbe === 'probe') {
      if (ctx.drainer.draining) this.#respond(503, BODY_SHUTTING_DOWN)
      else if (h.networkHash === '') this.#respond(400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
      else this.#respond(200, '', `K-Network-Hash: ${h.networkHash}\r\n`)
      return
    }
    ctx.drainer.lastRequestMs = now
    if (h.upgrade) {
      if (h.bodyKind !== BODY_NONE) { ctx.counters.badRequest++; this.#closeAfter = true; this.#respond(400, 'upgrade request with a body\n'); return }
      this.#upgrade = true
    }
    this.#counted = true
    this.#proxied = h.proxied
    ctx.stats.requestIn(now, h.proxied)
    if (ctx.tracer !== null) this.#beginSpan(ctx.tracer)
    const br = ctx.breaker
    if (br === null) { this.#dispatch(); return }
    if (br.tryAcquire()) { this.#slot = SLOT_HELD; this.#dispatch(); return }
    // pkg/queue/handler.go: ErrRequestQueueFull becomes a 503 at once.
    if (br.waiting >= br.queueDepth || !this.#enqueue(br)) { ctx.counters.queueFull++; this.#respond(503, BODY_QUEUE_FULL) }
  }

  /** Knative's otelhttp server span starts at the request's arrival, so it covers the breaker queue too. */
  #beginSpan (tracer: RequestTracer): void {
    const h = this.#head
    this.#span = tracer.begin({
      method: h.method,
      target: h.target,
      protocolVersion: h.minor === 1 ? '1.1' : '1.0',
      scheme: (this.socket as net.Socket & { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      traceparent: h.traceparent === '' ? undefined : h.traceparent,
      routeTag: routeTagOf(h.routeTag, h.defaultRoute)
    })
  }

  /** Waits for a slot without a Promise: the breaker calls back, synchronously, from the release that frees one. */
  #enqueue (br: Breaker): boolean {
    const seq = this.#seq
    const cancel = br.enqueue(() => {
      this.#cancelWait = null
      if (this.#phase !== PHASE_QUEUED || seq !== this.#seq) { br.release(); return }
      this.#slot = SLOT_HELD
      this.#dispatch()
      this.#process()
    })
    if (cancel === null) return false
    this.#phase = PHASE_QUEUED
    this.#slot = SLOT_QUEUED
    this.#cancelWait = cancel
    return true
  }

  #answerHealthCheck (): void {
    const ctx = this.#ctx
    const h = this.#head
    if (ctx.drainer.draining) { this.#respond(503, BODY_SHUTTING_DOWN); return }
    // serving pkg/queue/health/handler.go ProbeHandler: only K-Network-Probe: queue asks us to probe.
    if (h.networkProbe !== 'queue') { this.#respond(400, `unexpected probe header value: ${h.networkProbe}\n`); return }
    if (this.#reqBody !== REQ_DONE) this.#reqBody = REQ_DISCARD
    this.#phase = PHASE_PROBING
    const seq = this.#seq
    const answer = (ok: boolean): void => {
      if (this.#phase !== PHASE_PROBING || seq !== this.#seq) return
      if (ok && ctx.drainer.draining) this.#respond(503, BODY_SHUTTING_DOWN)
      else if (ok) this.#respond(200, 'queue')
      else this.#respond(503, '')
      this.#process()
    }
    ctx.prober.probe().then(answer, () => answer(false))
  }

  /** Sends the head to a pooled upstream connection; the body follows from #forwardBody. */
  #dispatch (): void {
    this.#phase = PHASE_EXCHANGE
    const up = this.#ctx.pool.acquire(this)
    this.#up = up
    this.#ctx.counters.forwarded++
    const span = this.#span
    // With tracing on, the incoming traceparent was dropped from the head and the proxy's span goes out instead.
    this.#headOut = span === null ? this.#head.rewriteBuf(this.#xffLine, this.#xffTail) : this.#head.rewrite('traceparent: ' + span.traceparent + '\r\n' + this.#xffLine)
    // Head and the first body bytes leave in one write when both are here.
    if (this.#head.bodyKind !== BODY_NONE && this.#corked === null) { up.socket.cork(); this.#corked = up }
    // When called from a breaker wake-up, the #process() call that follows uncorks.
    const out = this.#headOut
    if (typeof out === 'string') up.socket.write(out, 'latin1')
    else writeDirect(up.socket, out, ClientConn.#noop)
  }

  /** Answers the request here. Any upstream of this exchange is dropped; a body still arriving is drained. */
  #respond (status: number, body: string, extraHeaders = ''): void {
    if (this.#res !== RES_NONE) { this.#abort(); return }
    this.#leaveQueue()
    this.#dropUpstream()
    this.#phase = PHASE_EXCHANGE
    this.#res = RES_DONE
    this.#status = status
    if (this.#reqBody !== REQ_DONE) this.#reqBody = REQ_DISCARD
    this.socket.write(localResponse(status, body, this.#closeAfter, extraHeaders), 'latin1')
    this.#maybeComplete()
  }

  #maybeComplete (): void {
    if (this.#phase !== PHASE_EXCHANGE || this.#res !== RES_DONE) return
    if (this.#reqBody === REQ_DONE || this.#closeAfter) this.#endExchange()
  }

  #endExchange (): void {
    this.#release()
    this.#seq++
    this.#phase = PHASE_IDLE
    this.#reqBody = REQ_DONE
    if (this.#closeAfter || this.#ctx.closing) { this.#finishClient(); return }
    this.#process()
  }

  /** Stats out and breaker slot (or queue place) back; idempotent per exchange. Changes no phase. */
  #release (): void {
    const ctx = this.#ctx
    if (this.#counted) {
      this.#counted = false
      const now = this.#doneMs > 0 ? this.#doneMs : ctx.clock.now()
      ctx.stats.requestOut(now, this.#proxied)
      if (this.#status > 0) {
        const r = ctx.counters.responses
        const i = (this.#status / 100) | 0
        r[i] = (r[i] as number) + 1
      }
      const h = this.#head
      if (ctx.observeDurationMs !== null) ctx.observeDurationMs(now - this.#startedMs, this.#status, h.method, routeTagOf(h.routeTag, h.defaultRoute), h.minor === 1 ? '1.1' : '1.0')
      const span = this.#span
      if (span !== null) { this.#span = null; span.end(this.#status) }
    }
    this.#doneMs = 0
    this.#leaveQueue()
    if (this.#slot === SLOT_HELD) {
      this.#slot = SLOT_NONE
      ctx.breaker?.release()
    }
  }

  #leaveQueue (): void {
    if (this.#slot !== SLOT_QUEUED) return
    this.#slot = SLOT_NONE
    const cancel = this.#cancelWait
    this.#cancelWait = null
    cancel?.()
  }

  /**
   * Cuts this exchange's upstream connection: destroyed, never pooled, since it may hold half a request or
   * an unread response (for the user container, a cancelled request).
   */
  #dropUpstream (): void {
    const up = this.#up
    if (up === null) return
    this.#up = null
    up.destroy()
  }

  /** Ends the connection now: upstream cut, stats and slot released, client socket destroyed. */
  #abort (): void {
    this.#phase = PHASE_CLOSED
    this.#dropUpstream()
    this.#release()
    this.#pending = null
    this.#resPending = null
    this.socket.destroy()
  }

  /** Shutdown: close now if no request is in progress (Go's Shutdown closes idle connections). */
  closeIfIdle (): void {
    if (this.#phase === PHASE_IDLE) this.#finishClient()
  }

  /** FIN after what we wrote, then drop input until the client closes or LINGER_MS passes. */
  #finishClient (): void {
    if (this.#phase >= PHASE_ENDING) return
    this.#phase = PHASE_ENDING
    this.#endingSinceMs = this.#ctx.clock.now()
    this.#pending = null
    this.socket.end()
    this.socket.resume()
  }

  #reject (status: number, reason: string, eol = '\n'): void {
    this.#ctx.counters.badRequest++
    this.#closeAfter = true
    this.socket.write(localResponse(status, reason + eol, true), 'latin1')
    this.#finishClient()
  }

  #requestBodyError (reason: string): void {
    this.#ctx.counters.badRequest++
    this.#closeAfter = true
    this.#reqBody = REQ_DONE
    this.#dropUpstream()
    if (this.#res !== RES_NONE) { this.#abort(); return }
    this.#respond(400, reason + '\n')
  }

  // ---- upstream input -----------------------------------------------------------------------------

  onUpstreamDrain (): void {
    this.#upstreamBlocked = false
    this.#maybeResume()
  }

  onUpstreamData (up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.#up) { up.destroy(); return }
    if (this.#phase === PHASE_TUNNEL) {
      this.#traffic = true
      if (!this.socket.write(chunk)) up.socket.pause()
      return
    }
    if (this.#res === RES_BODY) { this.#forwardResponseBody(up, chunk, 0, 0); return }
    const pending = this.#resPending
    if (pending === null) this.#readResponseHead(up, chunk)
    else { this.#resPending = null; this.#readResponseHead(up, Buffer.concat([pending, chunk])) }
  }

  /** Reads interim (1xx) heads and the final head from `buf`, then hands the rest to #forwardResponseBody. */
  #readResponseHead (up: UpstreamConn, buf: Buffer): void {
    let start = 0
    let end: number
    for (;;) {
      end = findHeadEnd(buf, start, MAX_RESPONSE_HEAD_BYTES)
      if (end === PARSE_MORE) { this.#resPending = start === 0 ? buf : buf.subarray(start); return }
      if (end < 0) { this.#upstreamProtocolError(); return }
      if (this.#resHead.parseBuf(buf, start, end, this.#isHead) !== 0) { this.#upstreamProtocolError(); return }
      const status = this.#resHead.status
      if (status >= 200) break
      if (status === 101) {
        if (!this.#upgrade) { this.#upstreamProtocolError(); return }
        this.#startTunnel(up, buf, start)
        return
      }
      // 100 Continue, 103 Early Hints: pass on, then read the final head.
      this.socket.write(buf.subarray(start, end))
      start = end
      if (start >= buf.length) return
    }
    const res = this.#resHead
    this.#status = res.status
    this.#res = RES_BODY
    this.#resBodyKind = res.bodyKind
    this.#resRemaining = res.contentLength
    if (res.bodyKind === BODY_CHUNKED) this.#resFramer.reset()
    // A close-delimited body, or an upstream that says close, ends the client connection too.
    if (res.bodyKind === BODY_CLOSE || res.hasConnectionClose || this.#ctx.closing) this.#closeAfter = true
    // Hop-by-hop lines (Keep-Alive, Proxy-Authenticate, ...) out, in place: the head now starts at writeFrom.
    let writeFrom = res.compact(buf, start)
    if (this.#closeAfter && !res.hasConnectionClose) {
      this.socket.write(withConnectionClose(buf.toString('latin1', writeFrom, end)), 'latin1')
      writeFrom = end
    }
    this.#forwardResponseBody(up, buf, end, writeFrom)
  }

  /** Moves response bytes buf[writeFrom, ...) to the client, framing the body from `start`. */
  #forwardResponseBody (up: UpstreamConn, buf: Buffer, start: number, writeFrom: number): void {
    this.#traffic = true
    let stop: number
    let done = false
    switch (this.#resBodyKind) {
      case BODY_NONE:
        stop = start
        done = true
        break
      case BODY_LENGTH: {
        const n = Math.min(this.#resRemaining, buf.length - start)
        stop = start + n
        this.#resRemaining -= n
        done = this.#resRemaining === 0
        break
      }
      case BODY_CHUNKED: {
        const r = this.#resFramer.feed(buf, start, buf.length)
        if (r === PARSE_ERROR) {
          if (writeFrom < start) this.socket.write(buf.subarray(writeFrom, start))
          this.#upstreamProtocolError()
          return
        }
        if (r === PARSE_MORE) stop = buf.length
        else { stop = r; done = true }
        break
      }
      default:
        stop = buf.length
    }
    if (stop > writeFrom) {
      if (!writeDirect(this.socket, writeFrom === 0 && stop === buf.length ? buf : buf.subarray(writeFrom, stop), this.#onClientDrained)) up.socket.pause()
    }
    // Bytes after the end of the response answer nothing we asked: do not reuse that connection.
    if (done) this.#finishResponse(stop < buf.length)
  }

  onUpstreamClose (up: UpstreamConn, err: Error | undefined): void {
    if (up !== this.#up) return
    this.#up = null
    if (this.#phase === PHASE_TUNNEL) { this.socket.end(); return }
    if (this.#phase !== PHASE_EXCHANGE) return
    if (this.#res === RES_BODY && this.#resBodyKind === BODY_CLOSE && err === undefined) {
      this.#closeAfter = true
      this.#res = RES_DONE
      this.#maybeComplete()
      return
    }
    if (this.#res !== RES_NONE) { this.#abort(); return }
    // A keep-alive connection the upstream closed as we reused it: safe to retry once if nothing of the
    // request can have been consumed, which we can only know for a request without a body.
    if (up.reused && !this.#retried && this.#head.bodyKind === BODY_NONE && !this.#upgrade) {
      this.#retried = true
      this.#ctx.counters.retries++
      this.#ctx.counters.forwarded++
      const fresh = this.#ctx.pool.acquire(this, true)
      this.#up = fresh
      this.#resPending = null
      fresh.socket.write(this.#headOut, 'latin1')
      return
    }
    // knative/pkg network.ErrorHandler: 502 for an upstream we could not reach or that hung up.
    this.#ctx.counters.badGateway++
    if (this.#reqBody !== REQ_DONE) this.#closeAfter = true
    this.#respond(502, '')
    this.#process()
  }

  #upstreamProtocolError (): void {
    this.#dropUpstream()
    if (this.#res !== RES_NONE) { this.#abort(); return }
    this.#ctx.counters.badGateway++
    this.#closeAfter = true
    this.#respond(502, '')
  }

  #finishResponse (broken: boolean): void {
    this.#res = RES_DONE
    const up = this.#up
    this.#up = null
    if (up !== null) {
      if (this.#resHead.reusable && this.#reqBody === REQ_DONE && !broken) {
        this.#doneMs = this.#ctx.clock.now()
        this.#ctx.pool.release(up, this.#doneMs)
      } else {
        up.destroy()
      }
    }
    // The upstream answered before the request body ended (e.g. 413): we cannot find the next request.
    if (this.#reqBody !== REQ_DONE) this.#closeAfter = true
    this.#maybeComplete()
  }

  #startTunnel (up: UpstreamConn, buf: Buffer, start: number): void {
    this.#phase = PHASE_TUNNEL
    this.#res = RES_BODY
    this.#status = 101
    this.#lastWriteMs = this.#ctx.clock.now()
    this.#ctx.counters.upgrades++
    this.socket.write(start === 0 ? buf : buf.subarray(start))
    const p = this.#pending
    if (p !== null && this.#off < p.length) up.socket.write(this.#off === 0 ? p : p.subarray(this.#off))
    this.#pending = null
    this.#off = 0
    if (this.#paused) { this.#paused = false; this.socket.resume() }
  }

  // ---- timers, driven by QueueServer's sweep ------------------------------------------------------

  /** Applies the revision timeouts (serving pkg/http/handler/timeout.go) and the header, idle and linger bounds. */
  sweep (nowMs: number): void {
    switch (this.#phase) {
      case PHASE_CLOSED: return
      case PHASE_ENDING:
        if (nowMs - this.#endingSinceMs >= LINGER_MS) this.socket.destroy()
        return
      case PHASE_IDLE: this.#sweepIdle(nowMs); return
      case PHASE_TUNNEL: this.#sweepTunnel(nowMs); return
      default: this.#sweepExchange(nowMs)
    }
  }

  /**
   * Go's http.Server as the queue-proxy sets it up (knative/pkg network.NewServer: ReadHeaderTimeout one
   * minute, no IdleTimeout): a head must arrive within headerTimeoutMs of the accept, or of its first byte
   * on a kept-alive connection. An idle keep-alive connection is closed after keepAliveIdleMs (ours; Go has none there).
   */
  #sweepIdle (nowMs: number): void {
    const ctx = this.#ctx
    if (this.#headSinceMs > 0) {
      if (nowMs - this.#headSinceMs >= ctx.headerTimeoutMs) { ctx.counters.headerTimeouts++; this.#abort() }
      return
    }
    if (ctx.keepAliveIdleMs <= 0) return
    if (this.#idleSinceMs === 0) this.#idleSinceMs = nowMs
    else if (nowMs - this.#idleSinceMs >= ctx.keepAliveIdleMs) this.#finishClient()
  }

  #sweepExchange (nowMs: number): void {
    const ctx = this.#ctx
    if (!this.#counted) return
    if (this.#traffic) { this.#traffic = false; this.#lastWriteMs = nowMs }
    const fired =
      (ctx.totalTimeoutMs > 0 && nowMs - this.#startedMs >= ctx.totalTimeoutMs) ||
      (ctx.responseStartTimeoutMs > 0 && this.#res === RES_NONE && nowMs - this.#startedMs >= ctx.responseStartTimeoutMs) ||
      (ctx.idleTimeoutMs > 0 && nowMs - this.#lastWriteMs >= ctx.idleTimeoutMs)
    if (!fired) return
    ctx.counters.timeouts++
    // Knative's timeout handler aborts the connection once the response has begun.
    if (this.#res !== RES_NONE) { this.#abort(); return }
    // A queued request leaves the queue here, so it is never dispatched after its answer.
    this.#closeAfter = true
    this.#respond(504, BODY_TIMEOUT)
  }

  /**
   * An upgraded connection stays under the revision timeouts, as in Knative, where the tunnel runs inside
   * the timeout handler and its end cancels the request context, which closes the backend connection
   * (Go's ReverseProxy handleUpgradeResponse). REVISION_TIMEOUT_SECONDS bounds its whole life;
   * REVISION_IDLE_TIMEOUT_SECONDS closes it after that long without a byte in either direction (Knative
   * sees no writes through a hijacked connection, so there it fires that long after the upgrade whatever
   * the traffic; counting traffic both ways is the intent of an idle timeout). Both sides are closed.
   */
  #sweepTunnel (nowMs: number): void {
    const ctx = this.#ctx
    if (this.#traffic) { this.#traffic = false; this.#lastWriteMs = nowMs }
    const fired =
      (ctx.totalTimeoutMs > 0 && nowMs - this.#startedMs >= ctx.totalTimeoutMs) ||
      (ctx.idleTimeoutMs > 0 && nowMs - this.#lastWriteMs >= ctx.idleTimeoutMs)
    if (!fired) return
    ctx.counters.timeouts++
    this.#abort()
  }
}
