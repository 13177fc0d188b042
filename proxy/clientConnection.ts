import type net from 'node:net'
import {
  BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE, ChunkedFramer, findHeadEnd, HEAD_TOO_LARGE, PARSE_ERROR, PARSE_MORE,
  RequestHead, ResponseHead, withConnectionClose, type BodyKind
} from './http1.js'
import type { ProxyContext } from './proxyContext.js'
import type { UpstreamConn, UpstreamOwner } from './upstreamPool.js'

/** Unparsed client bytes we hold (pipelined requests, a body waiting for a slot) before pausing the socket. */
const PENDING_HIGH_WATER = 256 * 1024
/** Largest response head we accept from the user container. */
const MAX_RESPONSE_HEAD_BYTES = 128 * 1024
/** After we send FIN, how long we keep reading (and dropping) before destroying: a lingering close. */
export const LINGER_MS = 2000

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
 * The order of checks per request is Knative's handler chain (pkg/queue/sharedmain/handlers.go):
 * health-check probes and K-Network-Probe: probe are answered here and not counted; every other request
 * resets the drain timer, is counted in the autoscaler stats, passes the breaker, and is proxied under
 * the revision timeouts.
 */
export class ClientConn implements UpstreamOwner {
  readonly socket: net.Socket
  closed = false
  /** We sent FIN (or will once the current response is written) and now only drop what arrives. */
  ending = false
  endingSinceMs = 0
  headStartedMs = 0
  active = false
  tunnel = false
  startedMs = 0
  lastWriteMs = 0
  resStarted = false

  #ctx: ProxyContext
  #xffLine: string
  /** #xffLine and the head's final CRLF, as bytes: appended to each request head on the common path. */
  #xffTail: Buffer
  #pending: Buffer | null = null
  #off = 0
  #paused = false
  #upstreamBlocked = false
  #inProcess = false
  #corked: UpstreamConn | null = null
  #seq = 0
  /** Bytes of an incomplete request head (from #off) already scanned. */
  #headChecked = 0
  /**
   * Response (or tunnel) bytes moved since the last sweep; the sweep turns it into lastWriteMs, so the hot
   * path reads no clock per chunk (the idle timeout is then up to one sweep late, never early).
   */
  #traffic = false
  /** When the response ended (read once, for the pool and the stats), 0 until then. */
  #doneMs = 0

  #head = new RequestHead()
  #res = new ResponseHead()
  #reqFramer = new ChunkedFramer()
  #resFramer = new ChunkedFramer()
  #reqDone = true
  #reqRemaining = 0
  #discard = false
  #resDone = true
  #resInBody = false
  #resPending: Buffer | null = null
  #resRemaining = 0
  #resBodyKind: BodyKind = BODY_NONE
  #up: UpstreamConn | null = null
  #upBroken = false
  #counted = false
  #proxied = false
  #holdsSlot = false
  /** Takes this exchange out of the breaker's queue while it waits for a slot. */
  #cancelWait: (() => void) | null = null
  #closeAfter = false
  #isHead = false
  #upgrade = false
  #headOut: Buffer | string = ''
  #retried = false
  #status = 0

  constructor (socket: net.Socket, ctx: ProxyContext) {
    this.socket = socket
    this.#ctx = ctx
    let ip = socket.remoteAddress ?? ''
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    // Go's httputil.ReverseProxy appends the client address to X-Forwarded-For.
    this.#xffLine = ip === '' ? '' : `X-Forwarded-For: ${ip}\r\n`
    this.#xffTail = Buffer.from(this.#xffLine + '\r\n', 'latin1')
    // Sockets adopted by adoptSocket() read with `onread` and call onData() directly; 'data' covers the rest.
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('end', () => this.#onEnd())
    socket.on('close', () => this.#onClose())
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('drain', () => { if (this.#up !== null) this.#up.socket.resume() })
  }

  // ---- client input -------------------------------------------------------------------------------

  onData (chunk: Buffer): void {
    if (this.ending) return
    if (this.tunnel) {
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
    // An incomplete head is bounded by maxHeaderBytes instead: pausing would wait forever for its end.
    if (this.active && this.#pending !== null && this.#pending.length - this.#off > PENDING_HIGH_WATER) this.#pause()
    else this.#maybeResume()
  }

  #loop (): void {
    while (!this.closed && !this.ending) {
      const buf = this.#pending
      if (buf === null) return
      if (!this.active) {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line.
        while (this.#off + 1 < buf.length && buf[this.#off] === 13 && buf[this.#off + 1] === 10) { this.#off += 2; this.#headChecked = 0 }
        if (this.#off >= buf.length) return
        const end = findHeadEnd(buf, this.#off, this.#ctx.maxHeaderBytes, this.#headChecked)
        if (end < 0) {
          if (end === PARSE_MORE) {
            this.#headChecked = buf.length - this.#off
            if (this.headStartedMs === 0) this.headStartedMs = this.#ctx.clock.now()
            return
          }
          // Go's net/http (and so Knative's queue-proxy) answers an oversized head with exactly this.
          if (end === HEAD_TOO_LARGE) this.#reject(431, '431 Request Header Fields Too Large', '')
          else this.#reject(400, 'bare CR or LF, or a control character, in the head')
          return
        }
        const start = this.#off
        this.#off = end
        this.#headChecked = 0
        this.headStartedMs = 0
        if (this.#head.parseBuf(buf, start, end) !== 0) {
          this.#reject(this.#head.failure.status, this.#head.failure.reason)
          return
        }
        this.#begin()
        continue
      }
      if (this.#reqDone || this.tunnel) return
      if (this.#up === null && !this.#discard) return
      if (this.#off >= buf.length) return
      if (!this.#pumpBody(buf)) return
    }
  }

  /** Moves request body bytes from `buf` to the upstream (or drops them). False when it ended the exchange. */
  #pumpBody (buf: Buffer): boolean {
    const start = this.#off
    const end = buf.length
    let stop: number
    if (this.#head.bodyKind === BODY_LENGTH) {
      const n = Math.min(this.#reqRemaining, end - start)
      stop = start + n
      this.#reqRemaining -= n
      if (this.#reqRemaining === 0) this.#reqDone = true
    } else {
      const r = this.#reqFramer.feed(buf, start, end)
      if (r === PARSE_ERROR) { this.#requestBodyError(this.#reqFramer.error); return false }
      if (r === PARSE_MORE) {
        stop = end
      } else {
        stop = r
        this.#reqDone = true
      }
    }
    this.#off = stop
    const up = this.#up
    if (!this.#discard && up !== null && stop > start) {
      if (!up.socket.write(start === 0 && stop === end ? buf : buf.subarray(start, stop))) {
        this.#upstreamBlocked = true
        this.#pause()
      }
    }
    if (this.#reqDone) this.#maybeComplete()
    return true
  }

  #onEnd (): void {
    if (this.ending) { this.socket.destroy(); return }
    if (this.tunnel) { this.#up?.socket.end(); return }
    if (this.active) { this.#closeAfter = true; return }
    this.#finishClient()
  }

  #onClose (): void {
    if (this.closed) return
    this.closed = true
    this.#cancelWait?.()
    this.#cancelWait = null
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    if (this.active) this.#settle()
    this.#pending = null
    this.#resPending = null
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

  #begin (): void {
    const h = this.#head
    const ctx = this.#ctx
    this.active = true
    this.#seq++
    this.#reqDone = h.bodyKind === BODY_NONE
    this.#reqRemaining = h.contentLength
    if (h.bodyKind === BODY_CHUNKED) this.#reqFramer.reset()
    this.#resDone = false
    this.#resInBody = false
    this.#resPending = null
    this.resStarted = false
    this.#discard = false
    this.#closeAfter = !h.keepAlive || ctx.closing
    this.#upgrade = false
    this.#up = null
    this.#upBroken = false
    this.#retried = false
    this.#isHead = h.method === 'HEAD'
    this.#status = 0
    const now = ctx.clock.now()
    this.startedMs = now
    this.lastWriteMs = now
    this.#traffic = false
    this.#doneMs = 0

    // knative/pkg network/handlers/drain.go: health checks first, then K-Network-Probe: probe; neither
    // resets the drain timer, and ProxyHandler never sees them, so they are not counted.
    if (h.healthCheck) { this.#discard = true; this.#answerHealthCheck(); return }
    if (h.networkProbe === 'probe') {
      this.#discard = true
      if (ctx.drainer.draining) this.#respond(503, BODY_SHUTTING_DOWN)
      else if (h.networkHash === '') this.#respond(400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
      else this.#respond(200, '', `K-Network-Hash: ${h.networkHash}\r\n`)
      return
    }
    ctx.drainer.lastRequestMs = now
    if (h.upgrade) {
      if (h.bodyKind !== BODY_NONE) { ctx.counters.badRequest++; this.#discard = true; this.#closeAfter = true; this.#respond(400, 'upgrade request with a body\n'); return }
      this.#upgrade = true
    }
    this.#counted = true
    this.#proxied = h.proxied
    ctx.stats.requestIn(now, h.proxied)
    const br = ctx.breaker
    if (br === null) { this.#dispatch(); return }
    if (br.tryAcquire()) { this.#holdsSlot = true; this.#dispatch(); return }
    if (br.waiting >= br.queueDepth) {
      // pkg/queue/handler.go: ErrRequestQueueFull becomes a 503 at once.
      ctx.counters.queueFull++
      this.#discard = true
      this.#respond(503, BODY_QUEUE_FULL)
      return
    }
    // Queued without a Promise: the breaker calls back, synchronously, from the release that frees a slot.
    const seq = this.#seq
    const cancel = br.enqueue(() => {
      this.#cancelWait = null
      if (this.closed || seq !== this.#seq) { br.release(); return }
      this.#holdsSlot = true
      this.#dispatch()
      this.#process()
    })
    if (cancel === null) {
      ctx.counters.queueFull++
      this.#discard = true
      this.#respond(503, BODY_QUEUE_FULL)
      return
    }
    this.#cancelWait = cancel
  }

  #answerHealthCheck (): void {
    const ctx = this.#ctx
    const h = this.#head
    if (ctx.drainer.draining) { this.#respond(503, BODY_SHUTTING_DOWN); return }
    // serving pkg/queue/health/handler.go ProbeHandler: only K-Network-Probe: queue asks us to probe.
    if (h.networkProbe !== 'queue') { this.#respond(400, `unexpected probe header value: ${h.networkProbe}\n`); return }
    const seq = this.#seq
    ctx.prober.probe().then((ok) => {
      if (this.closed || seq !== this.#seq || this.resStarted) return
      if (ctx.drainer.draining) this.#respond(503, BODY_SHUTTING_DOWN)
      else if (ok) this.#respond(200, 'queue')
      else this.#respond(503, '')
      this.#process()
    }, () => {
      if (this.closed || seq !== this.#seq || this.resStarted) return
      this.#respond(503, '')
      this.#process()
    })
  }

  #dispatch (): void {
    const up = this.#ctx.pool.acquire(this)
    this.#up = up
    this.#ctx.counters.forwarded++
    this.#headOut = this.#head.rewriteBuf(this.#xffLine, this.#xffTail)
    // Head and the first body bytes leave in one write when both are here.
    if (this.#head.bodyKind !== BODY_NONE && this.#corked === null) { up.socket.cork(); this.#corked = up }
    // When called from a breaker wake-up, the #process() call that follows uncorks.
    up.socket.write(this.#headOut, 'latin1')
  }

  #respond (status: number, body: string, extraHeaders = ''): void {
    if (this.resStarted) { this.#abortClient(); return }
    this.resStarted = true
    this.#resDone = true
    this.#status = status
    if (!this.#reqDone && this.#up !== null) {
      // The upstream has part of a request it will never finish: it cannot be reused.
      this.#up.destroy()
      this.#up = null
    }
    this.#discard = true
    this.socket.write(localResponse(status, body, this.#closeAfter, extraHeaders), 'latin1')
    this.#maybeComplete()
  }

  #maybeComplete (): void {
    if (!this.active || !this.#resDone) return
    if (this.#reqDone || this.#closeAfter) this.#endExchange()
  }

  /** Stats out and breaker slot back; idempotent per exchange. */
  #settle (): void {
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
      if (ctx.observeDurationMs !== null) ctx.observeDurationMs(now - this.startedMs, this.#status)
    }
    this.#doneMs = 0
    if (this.#holdsSlot) {
      this.#holdsSlot = false
      ctx.breaker?.release()
    }
    this.active = false
    this.tunnel = false
  }

  #endExchange (): void {
    this.#settle()
    this.#seq++
    if (this.#closeAfter || this.#ctx.closing) { this.#finishClient(); return }
    this.#process()
  }

  /** Shutdown: close now if no request is in progress (Go's Shutdown closes idle connections). */
  closeIfIdle (): void {
    if (!this.active && !this.tunnel) this.#finishClient()
  }

  /** FIN after what we wrote, then drop input until the client closes or LINGER_MS passes. */
  #finishClient (): void {
    if (this.ending || this.closed) return
    this.ending = true
    this.endingSinceMs = this.#ctx.clock.now()
    this.#pending = null
    this.socket.end()
    this.socket.resume()
  }

  #abortClient (): void {
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    this.socket.destroy()
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
    this.#reqDone = true
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    if (this.resStarted) { this.#settle(); this.socket.destroy(); return }
    this.#status = 400
    this.#respond(400, reason + '\n')
  }

  // ---- upstream input -----------------------------------------------------------------------------

  onUpstreamDrain (): void {
    this.#upstreamBlocked = false
    this.#maybeResume()
  }

  onUpstreamData (up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.#up) { up.destroy(); return }
    if (this.tunnel) {
      this.#traffic = true
      if (!this.socket.write(chunk)) up.socket.pause()
      return
    }
    let buf = chunk
    let start = 0
    let writeFrom = 0
    if (!this.#resInBody) {
      if (this.#resPending !== null) { buf = Buffer.concat([this.#resPending, chunk]); this.#resPending = null }
      let headStart: number
      let bodyStart: number
      for (;;) {
        const end = findHeadEnd(buf, start, MAX_RESPONSE_HEAD_BYTES)
        if (end === PARSE_MORE) { this.#resPending = start === 0 ? buf : buf.subarray(start); return }
        if (end < 0) { this.#upstreamProtocolError(); return }
        if (this.#res.parseBuf(buf, start, end, this.#isHead) !== 0) { this.#upstreamProtocolError(); return }
        const status = this.#res.status
        if (status < 200) {
          if (status === 101) {
            if (!this.#upgrade) { this.#upstreamProtocolError(); return }
            this.#startTunnel(up, buf, start)
            return
          }
          // 100 Continue, 103 Early Hints: pass on, then read the final head.
          this.socket.write(buf.subarray(start, end))
          start = end
          if (start >= buf.length) return
          continue
        }
        headStart = start
        bodyStart = end
        break
      }
      const res = this.#res
      this.#status = res.status
      this.resStarted = true
      this.#resInBody = true
      this.#resBodyKind = res.bodyKind
      this.#resRemaining = res.contentLength
      if (res.bodyKind === BODY_CHUNKED) this.#resFramer.reset()
      // A close-delimited body, or an upstream that says close, ends the client connection too.
      if (res.bodyKind === BODY_CLOSE || res.hasConnectionClose || this.#ctx.closing) this.#closeAfter = true
      if (this.#closeAfter && !res.hasConnectionClose) {
        this.socket.write(withConnectionClose(buf.toString('latin1', headStart, bodyStart)), 'latin1')
        writeFrom = bodyStart
      } else {
        writeFrom = start
      }
      start = bodyStart
    }
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
      if (!this.socket.write(writeFrom === 0 && stop === buf.length ? buf : buf.subarray(writeFrom, stop))) up.socket.pause()
    }
    if (done) {
      // Bytes after the end of the response answer nothing we asked: do not reuse this connection.
      if (stop < buf.length) this.#upBroken = true
      this.#finishResponse()
    }
  }

  onUpstreamClose (up: UpstreamConn, err: Error | undefined): void {
    if (up !== this.#up) return
    this.#up = null
    if (this.tunnel) { this.socket.end(); return }
    if (!this.active) return
    if (this.#resInBody && this.#resBodyKind === BODY_CLOSE && err === undefined) {
      this.#closeAfter = true
      this.#resDone = true
      this.#maybeComplete()
      return
    }
    if (!this.resStarted) {
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
      if (!this.#reqDone) this.#closeAfter = true
      this.#respond(502, '')
      this.#process()
      return
    }
    this.#settle()
    this.socket.destroy()
  }

  #upstreamProtocolError (): void {
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    if (!this.resStarted) {
      this.#ctx.counters.badGateway++
      this.#closeAfter = true
      this.#respond(502, '')
      return
    }
    this.#settle()
    this.socket.destroy()
  }

  #finishResponse (): void {
    this.#resDone = true
    this.#resInBody = false
    const up = this.#up
    this.#up = null
    if (up !== null) {
      if (this.#res.reusable && this.#reqDone && !this.#upBroken) {
        this.#doneMs = this.#ctx.clock.now()
        this.#ctx.pool.release(up, this.#doneMs)
      }
      else up.destroy()
    }
    // The upstream answered before the request body ended (e.g. 413): we cannot find the next request.
    if (!this.#reqDone) this.#closeAfter = true
    this.#maybeComplete()
  }

  #startTunnel (up: UpstreamConn, buf: Buffer, start: number): void {
    this.tunnel = true
    this.resStarted = true
    this.#status = 101
    this.lastWriteMs = this.#ctx.clock.now()
    this.#ctx.counters.upgrades++
    this.socket.write(start === 0 ? buf : buf.subarray(start))
    const p = this.#pending
    if (p !== null && this.#off < p.length) up.socket.write(this.#off === 0 ? p : p.subarray(this.#off))
    this.#pending = null
    this.#off = 0
    if (this.#paused) { this.#paused = false; this.socket.resume() }
  }

  // ---- timers, driven by QueueServer's sweep ------------------------------------------------------

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
    if (this.#traffic) { this.#traffic = false; this.lastWriteMs = nowMs }
    const fired =
      (ctx.totalTimeoutMs > 0 && nowMs - this.startedMs >= ctx.totalTimeoutMs) ||
      (ctx.idleTimeoutMs > 0 && nowMs - this.lastWriteMs >= ctx.idleTimeoutMs)
    if (!fired) return
    ctx.counters.timeouts++
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    this.#settle()
    this.socket.destroy()
  }

  /** Applies the revision timeouts (serving pkg/http/handler/timeout.go) and the header and linger bounds. */
  sweep (nowMs: number): void {
    const ctx = this.#ctx
    if (this.closed) return
    if (this.ending) {
      if (nowMs - this.endingSinceMs >= LINGER_MS) this.socket.destroy()
      return
    }
    if (!this.active) {
      if (this.headStartedMs > 0 && nowMs - this.headStartedMs >= ctx.headerTimeoutMs) this.socket.destroy()
      return
    }
    if (this.tunnel) { this.#sweepTunnel(nowMs); return }
    if (!this.#counted) return
    if (this.#traffic) { this.#traffic = false; this.lastWriteMs = nowMs }
    const fired =
      (ctx.totalTimeoutMs > 0 && nowMs - this.startedMs >= ctx.totalTimeoutMs) ||
      (ctx.responseStartTimeoutMs > 0 && !this.resStarted && nowMs - this.startedMs >= ctx.responseStartTimeoutMs) ||
      (ctx.idleTimeoutMs > 0 && nowMs - this.lastWriteMs >= ctx.idleTimeoutMs)
    if (!fired) return
    ctx.counters.timeouts++
    this.#cancelWait?.()
    this.#cancelWait = null
    const up = this.#up
    this.#up = null
    if (up !== null) up.destroy()
    if (this.resStarted) {
      // Knative's timeout handler aborts the connection once the response has begun.
      this.#settle()
      this.socket.destroy()
      return
    }
    this.#closeAfter = true
    this.#respond(504, BODY_TIMEOUT)
  }
}
