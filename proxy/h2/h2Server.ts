import http2 from 'node:http2'
import type net from 'node:net'
import type { ProxyContext } from '../proxyContext.js'
import { H2Exchange, type H2Owner } from './h2Exchange.js'
import { H2Upstream } from './h2Upstream.js'

const { NGHTTP2_ENHANCE_YOUR_CALM, HTTP2_HEADER_METHOD } = http2.constants

/** Go's http2.Server defaults (golang.org/x/net/http2 server.go), which the queue-proxy runs with. */
export const H2_MAX_CONCURRENT_STREAMS = 250
/** Go: MaxUploadBufferPerStream and MaxUploadBufferPerConnection default to 1 MiB. */
export const H2_WINDOW = 1 << 20
/** Go refuses a SETTINGS frame with more than 100 entries (processSettings: PROTOCOL_ERROR). */
export const H2_MAX_SETTINGS = 100
/**
 * Rapid reset (CVE-2023-44487): Go runs at most MaxConcurrentStreams handlers and queues up to 4x that many
 * more, and a client whose resets outrun that gets GOAWAY ENHANCE_YOUR_CALM ("too_many_early_resets").
 * Here a stream's work ends the moment its client resets it, so the same bound is kept as a budget of
 * early resets (RST_STREAM before the response began): 4 x MaxConcurrentStreams at once, earning one back
 * per response completed and EARLY_RESET_REFILL_PER_S per second.
 */
export const EARLY_RESET_BUDGET = 4 * H2_MAX_CONCURRENT_STREAMS
export const EARLY_RESET_REFILL_PER_S = 100

export interface H2ServerOptions {
  /** Largest header list a client may send (SETTINGS_MAX_HEADER_LIST_SIZE); Go: MaxHeaderBytes + 320. */
  maxHeaderBytes: number
  userHost: string
  userPort: number
  upstreamIdleMs: number
  sweepMs?: number
}

interface SessionState {
  budget: number
  refilledMs: number
}

/**
 * The HTTP/2 side of the serving port (h2c, prior knowledge or upgrade) and of the TLS port (ALPN h2).
 * node:http2 (nghttp2) does the framing, HPACK and flow control; it never listens itself: the serving
 * port's accept path hands it each socket whose first bytes are the HTTP/2 preface, and the TLS listener
 * each connection that negotiated h2. Every stream becomes an H2Exchange.
 */
export class H2Front implements H2Owner {
  readonly ctx: ProxyContext
  readonly upstream: H2Upstream
  readonly server: http2.Http2Server
  readonly sessions = new Set<http2.ServerHttp2Session>()
  readonly exchanges = new Set<H2Exchange>()
  /** Sessions ended with GOAWAY ENHANCE_YOUR_CALM for resetting too many streams early. */
  rapidResetRefusals = 0
  #sweeper: NodeJS.Timeout
  #state = new WeakMap<http2.Http2Session, SessionState>()

  constructor (ctx: ProxyContext, opts: H2ServerOptions) {
    this.ctx = ctx
    this.upstream = new H2Upstream({ host: opts.userHost, port: opts.userPort, idleTimeoutMs: opts.upstreamIdleMs })
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
        initialWindowSize: H2_WINDOW,
        maxHeaderListSize: opts.maxHeaderBytes + 320,
        enablePush: false
      },
      maxSettings: H2_MAX_SETTINGS,
      // Go bounds a header list by its size only; 32 bytes of overhead per field makes that ~32k fields.
      maxHeaderListPairs: 32768,
      // MB of buffered frames per session before nghttp2 refuses new streams.
      maxSessionMemory: 32
    })
    this.server.on('session', (session) => this.#onSession(session))
    this.server.on('stream', (stream, headers) => this.#onStream(stream, headers))
    this.#sweeper = setInterval(() => this.sweep(ctx.clock.now()), opts.sweepMs ?? 100)
    this.#sweeper.unref()
  }

  /** Hands a connection to HTTP/2. `head` is what was read from it already (the preface, part of it, more). */
  handle (socket: net.Socket, head: Buffer | null): void {
    socket.setNoDelay(true)
    if (head !== null && head.length > 0) socket.unshift(head)
    this.server.emit('connection', socket)
  }

  #onSession (session: http2.ServerHttp2Session): void {
    this.sessions.add(session)
    this.#state.set(session, { budget: EARLY_RESET_BUDGET, refilledMs: this.ctx.clock.now() })
    session.on('error', () => { /* 'close' follows */ })
    session.once('close', () => this.sessions.delete(session))
    session.once('connect', () => { try { session.setLocalWindowSize(H2_WINDOW) } catch { /* closed */ } })
    // A connection that arrives while draining is told at once that no new streams will be served.
    if (this.ctx.closing) session.close()
  }

  #onStream (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const session = stream.session
    let ip = session?.socket?.remoteAddress ?? ''
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    const ex = new H2Exchange(this, stream, headers, ip)
    if (session !== undefined) {
      stream.once('close', () => this.#countReset(session, stream, ex))
    }
    if (headers[HTTP2_HEADER_METHOD] === 'CONNECT') {
      // Neither extended CONNECT nor tunnels are proxied; Go's ReverseProxy would fail these too.
      try { stream.respond({ ':status': 501 }, { endStream: true }) } catch { /* gone */ }
      return
    }
    ex.start()
  }

  #countReset (session: http2.Http2Session, stream: http2.ServerHttp2Stream, ex: H2Exchange): void {
    const st = this.#state.get(session)
    if (st === undefined) return
    const now = this.ctx.clock.now()
    const refill = ((now - st.refilledMs) / 1000) * EARLY_RESET_REFILL_PER_S
    if (refill >= 1) { st.budget = Math.min(EARLY_RESET_BUDGET, st.budget + Math.floor(refill)); st.refilledMs = now }
    // rstCode on a stream the client reset; our own resets and normal ends do not count.
    const clientReset = stream.rstCode !== undefined && stream.rstCode !== 0 && !ex.resStarted && !stream.sentHeaders
    if (!clientReset) { if (st.budget < EARLY_RESET_BUDGET) st.budget++; return }
    if (--st.budget > 0) return
    if (session.destroyed) return
    this.rapidResetRefusals++
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM)
    session.destroy()
  }

  sweep (nowMs: number): void {
    for (const ex of this.exchanges) ex.sweep(nowMs)
    this.upstream.sweep(Date.now())
  }

  /** Drain: GOAWAY (NO_ERROR, last stream id) on every session; streams already open run to the end. */
  shutdown (): void {
    for (const s of this.sessions) { try { s.close() } catch { /* destroyed */ } }
  }

  get busy (): boolean { return this.exchanges.size > 0 }

  destroyAll (): void {
    clearInterval(this.#sweeper)
    for (const s of this.sessions) s.destroy()
    this.upstream.closeAll()
  }
}
