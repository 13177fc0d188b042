import http2 from 'node:http2'
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import { SWITCHING_PROTOCOLS, UpgradedConnection, type H2cUpgrade } from './h2cUpgrade.js'
import type { ProxyContext } from '../proxyContext.js'
import { H2Exchange, type H2Owner } from './h2Exchange.js'
import { H2Upstream } from './h2Upstream.js'

const { HTTP2_HEADER_METHOD } = http2.constants

/** Go's http2.Server defaults (golang.org/x/net/http2 server.go), which the queue-proxy runs with. */
export const H2_MAX_CONCURRENT_STREAMS = 250
/** Go: MaxUploadBufferPerStream and MaxUploadBufferPerConnection default to 1 MiB. */
export const H2_WINDOW = 1 << 20
/** See maxHeaderListSize below. */
export const H2_HEADER_LIST_MARGIN = 64 * 1024
/** Go refuses a SETTINGS frame with more than 100 entries (processSettings: PROTOCOL_ERROR). */
export const H2_MAX_SETTINGS = 100

export interface H2ServerOptions {
  /** Largest header list a client may send (SETTINGS_MAX_HEADER_LIST_SIZE); Go: MaxHeaderBytes + 320. */
  maxHeaderBytes: number
  userHost: string
  userPort: number
  upstreamIdleMs: number
  /**
   * A session idle this long is sent a PING, and destroyed if no answer comes within the same time. nghttp2
   * ends a session it refuses (a SETTINGS flood, a rapid-reset flood, a CONTINUATION flood) with GOAWAY but
   * node:http2 neither tells us nor closes the socket; an unanswered PING is how we find out.
   */
  pingMs: number
  sweepMs?: number
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
  readonly maxHeaderListBytes: number
  readonly pingMs: number
  /** Sessions closed because a PING went unanswered (refused by nghttp2, or a dead peer). */
  deadSessions = 0
  #pinging = new WeakSet<http2.Http2Session>()
  /** Client address per session: node:http2 wraps a non-socket connection (an upgrade) and loses it. */
  #ipOf = new WeakMap<http2.Http2Session, string>()
  #nextIp = ''
  /** Streams reset by their client before they were started: they cost the user container nothing. */
  resetBeforeStart = 0
  #sweeper: NodeJS.Timeout
  /** Streams opened in the current read, started together on the next turn of the event loop. */
  #starting: Array<{ ex: H2Exchange; session: http2.Http2Session | undefined }> = []

  constructor (ctx: ProxyContext, opts: H2ServerOptions) {
    this.ctx = ctx
    this.maxHeaderListBytes = opts.maxHeaderBytes + 320
    this.pingMs = opts.pingMs
    this.upstream = new H2Upstream({ host: opts.userHost, port: opts.userPort, idleTimeoutMs: opts.upstreamIdleMs })
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
        initialWindowSize: H2_WINDOW,
        // Advertised with a margin over what we accept: node:http2 resets a stream over the advertised size
        // with ENHANCE_YOUR_CALM, while Go answers 431; within the margin the 431 is ours (H2Exchange).
        maxHeaderListSize: this.maxHeaderListBytes + H2_HEADER_LIST_MARGIN,
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
  handle (socket: net.Socket | Duplex, head: Buffer | null): void {
    if ('setNoDelay' in socket) socket.setNoDelay(true)
    if (head !== null && head.length > 0) socket.unshift(head)
    this.server.emit('connection', socket)
  }

  /**
   * Takes an HTTP/1.1 connection whose first request is an h2c upgrade (h2cUpgrade.ts): answers 101 and
   * runs the connection as HTTP/2 with that request as stream 1. `buf` is what was read so far. Returns
   * where later reads from the socket must go.
   */
  upgrade (socket: net.Socket, u: H2cUpgrade, buf: Buffer): (chunk: Buffer) => void {
    socket.setNoDelay(true)
    socket.write(SWITCHING_PROTOCOLS)
    const conn = new UpgradedConnection(socket, u.headers, u.bodyLength)
    // The 'session' event comes synchronously from this emit.
    this.#nextIp = socket.remoteAddress ?? ''
    this.server.emit('connection', conn)
    this.#nextIp = ''
    if (buf.length > u.headEnd) conn.feed(buf.subarray(u.headEnd))
    return (chunk) => conn.feed(chunk)
  }

  #onSession (session: http2.ServerHttp2Session): void {
    this.sessions.add(session)
    let ip = this.#nextIp !== '' ? this.#nextIp : (session.socket?.remoteAddress ?? '')
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    this.#ipOf.set(session, ip)
    session.on('error', () => { /* 'close' follows */ })
    session.once('close', () => this.sessions.delete(session))
    session.once('connect', () => { try { session.setLocalWindowSize(H2_WINDOW) } catch { /* closed */ } })
    session.setTimeout(this.pingMs, () => this.#checkAlive(session))
    session.on('frameError', () => this.#checkAlive(session))
    // A connection that arrives while draining is told at once that no new streams will be served.
    if (this.ctx.closing) session.close()
  }

  #onStream (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const session = stream.session
    const ip = session === undefined ? '' : (this.#ipOf.get(session) ?? '')
    const ex = new H2Exchange(this, stream, headers, ip)
    if (headers[HTTP2_HEADER_METHOD] === 'CONNECT') {
      // Neither extended CONNECT nor tunnels are proxied; Go's ReverseProxy would fail these too.
      try { stream.respond({ ':status': 501 }, { endStream: true }) } catch { /* gone */ }
      return
    }
    // Started after every frame of this read was processed: a stream its client reset in the same read
    // (rapid reset, CVE-2023-44487) is already closed then and never reaches the user container. This also
    // keeps our work out of nghttp2's callbacks.
    if (this.#starting.push({ ex, session }) === 1) setImmediate(() => this.#startAll())
  }

  /** PINGs the peer; no answer within pingMs destroys the session (it may be one nghttp2 has ended). */
  #checkAlive (session: http2.Http2Session): void {
    if (this.#pinging.has(session)) return
    this.#pinging.add(session)
    const t = setTimeout(() => {
      this.#pinging.delete(session)
      this.deadSessions++
      session.destroy()
      // A session nghttp2 has ended can be left with its socket open by node:http2: close it ourselves.
      session.socket?.destroy()
    }, this.pingMs)
    t.unref()
    try {
      session.ping((err) => {
        if (err !== null) return
        this.#pinging.delete(session)
        clearTimeout(t)
      })
    } catch {
      // Not connected yet, or destroyed: the timer decides.
    }
  }

  #startAll (): void {
    const list = this.#starting
    this.#starting = []
    for (const { ex, session } of list) {
      if (!ex.stream.closed && !ex.stream.destroyed) { ex.start(); continue }
      this.resetBeforeStart++
      // Resets in bulk are what nghttp2's rapid-reset limit ends a session for: check it is still alive.
      // (The session is kept from the 'stream' event: a closed stream no longer knows it.)
      if (session !== undefined) this.#checkAlive(session)
    }
  }

  sweep (nowMs: number): void {
    for (const ex of this.exchanges) ex.sweep(nowMs)
    this.upstream.sweep(Date.now())
  }

  /** Drain: GOAWAY (NO_ERROR, last stream id) on every session; streams already open run to the end. */
  shutdown (): void {
    for (const s of this.sessions) { try { s.close() } catch { /* destroyed */ } }
  }

  /** Resolves once every session has closed (after shutdown(), when their open streams ended), or at `deadlineMs` (Date.now() time). */
  async drained (deadlineMs: number): Promise<void> {
    while (this.sessions.size > 0 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  get busy (): boolean { return this.exchanges.size > 0 }

  destroyAll (): void {
    clearInterval(this.#sweeper)
    for (const s of this.sessions) s.destroy()
    this.upstream.closeAll()
  }
}
