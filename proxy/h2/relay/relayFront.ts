import type net from 'node:net'
import type { ProxyContext } from '../../proxyContext.js'
import { H2_HEADER_LIST_MARGIN, H2_MAX_CONCURRENT_STREAMS, H2_MAX_SETTINGS, H2_WINDOW, type H2ServerOptions } from '../h2Server.js'
import { E_INTERNAL_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR } from './frames.js'
import { RelayConn, type ConnOwner } from './relayConn.js'
import { RelayExchange, type RelayOwner } from './relayExchange.js'
import { field, malformedRequest } from './relayHeaders.js'
import type { RelayStream } from './relayStream.js'
import { RelayUpstream } from './relayUpstream.js'

/**
 * The relay engine's side of the serving port (IOTLESS_PROXY_H2_ENGINE=relay): HTTP/2 with prior knowledge,
 * framed by RelayConn instead of node:http2 on both hops. The h2c upgrade and TLS (ALPN h2) stay on H2Front
 * (node:http2). Same settings as H2Front (Go's http2.Server defaults), same exchange rules (RelayExchange),
 * same counters (deadSessions, resetBeforeStart).
 */
export class RelayFront implements ConnOwner, RelayOwner {
  readonly ctx: ProxyContext
  readonly upstream: RelayUpstream
  readonly sessions = new Set<RelayConn>()
  readonly exchanges = new Set<RelayExchange>()
  readonly maxHeaderListBytes: number
  readonly pingMs: number
  deadSessions = 0
  resetBeforeStart = 0
  #ipOf = new WeakMap<RelayConn, string>()
  #starting: RelayExchange[] = []
  #sweeper: NodeJS.Timeout

  constructor (ctx: ProxyContext, opts: H2ServerOptions) {
    this.ctx = ctx
    this.maxHeaderListBytes = opts.maxHeaderBytes + 320
    this.pingMs = opts.pingMs
    const clock = (): number => ctx.clock.now()
    this.upstream = new RelayUpstream({
      host: opts.userHost,
      port: opts.userPort,
      idleTimeoutMs: opts.upstreamIdleMs,
      window: H2_WINDOW,
      // Go's transport sends what the peer sends; response heads as large as a client could send us.
      maxHeaderListBytes: this.maxHeaderListBytes + H2_HEADER_LIST_MARGIN,
      clock
    })
    this.#sweeper = setInterval(() => this.sweep(ctx.clock.now()), opts.sweepMs ?? 100)
    this.#sweeper.unref()
  }

  /**
   * Takes a connection whose first bytes (`head`, the preface at least) are HTTP/2 with prior knowledge.
   * Returns where the socket's later reads go.
   */
  handle (socket: net.Socket, head: Buffer): (chunk: Buffer) => void {
    socket.setNoDelay(true)
    const conn = new RelayConn(socket, this, {
      server: true,
      window: H2_WINDOW,
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListBytes: this.maxHeaderListBytes,
      // Advertised with the margin H2Front advertises; within it the answer is 431 (RelayExchange).
      advertisedHeaderListBytes: this.maxHeaderListBytes + H2_HEADER_LIST_MARGIN,
      maxHeaderBlockBytes: this.maxHeaderListBytes + H2_HEADER_LIST_MARGIN,
      maxSettings: H2_MAX_SETTINGS,
      clock: () => this.ctx.clock.now()
    })
    let ip = socket.remoteAddress ?? ''
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    this.#ipOf.set(conn, ip)
    this.sessions.add(conn)
    // The peer's FIN: Go's server ends the connection at EOF.
    socket.once('end', () => conn.destroy())
    // A connection that arrives while draining is told at once that no new streams will be served.
    if (this.ctx.closing) conn.goaway(E_NO_ERROR)
    if (head.length > 0) conn.onData(head)
    return (chunk) => conn.onData(chunk)
  }

  onStream (s: RelayStream, fields: string[], end: boolean, tooLarge: boolean): void {
    if (!tooLarge && malformedRequest(fields)) { s.conn.reset(s, E_PROTOCOL_ERROR); return }
    if (field(fields, ':method') === 'CONNECT') {
      // Neither extended CONNECT nor tunnels are proxied; Go's ReverseProxy would fail these too.
      if (!end) s.rstAfterEnd = true
      s.conn.sendHeaders(s, [':status', '501'], true)
      return
    }
    const ex = new RelayExchange(this, s, fields, end, tooLarge, this.#ipOf.get(s.conn) ?? '')
    // Started after every frame of this read was handled: a stream its client reset in the same read
    // (rapid reset, CVE-2023-44487) is closed by then and never reaches the user container.
    if (this.#starting.push(ex) === 1) setImmediate(() => this.#startAll())
  }

  #startAll (): void {
    const list = this.#starting
    this.#starting = []
    for (const ex of list) {
      if (ex.stream.closed) { this.resetBeforeStart++; continue }
      try {
        ex.start()
      } catch {
        // A fault of ours costs this stream (Go's server answers a panicking handler with RST_STREAM INTERNAL_ERROR).
        ex.stream.conn.reset(ex.stream, E_INTERNAL_ERROR)
        ex.clientClosed()
      }
    }
  }

  onGoaway (): void { /* the connection closes once its streams are done (RelayConn) */ }

  onClosed (c: RelayConn): void {
    this.sessions.delete(c)
    if (c.diedSilent) this.deadSessions++
  }

  sweep (nowMs: number): void {
    for (const ex of this.exchanges) ex.sweep(nowMs)
    for (const c of this.sessions) c.sweep(nowMs, this.pingMs)
    this.upstream.sweep(nowMs)
  }

  /** Drain: GOAWAY (NO_ERROR, last stream id) on every connection; streams already open run to the end. */
  shutdown (): void {
    for (const c of this.sessions) c.goaway(E_NO_ERROR)
  }

  async drained (deadlineMs: number): Promise<void> {
    while (this.sessions.size > 0 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  get busy (): boolean { return this.exchanges.size > 0 }

  destroyAll (): void {
    clearInterval(this.#sweeper)
    for (const c of [...this.sessions]) c.destroy()
    this.upstream.closeAll()
  }
}
