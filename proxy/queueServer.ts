import net from 'node:net'
import { listen, type ListenHint } from '../core/listen.js'
import { adoptSocket } from './adoptSocket.js'
import { ClientConn } from './clientConnection.js'
import { multiAccept, type MultiAcceptState } from './multiAccept.js'
import type { AcceptPending } from './native/loadAcceptPending.js'
import type { ProxyContext } from './proxyContext.js'

/**
 * Decides what serves each connection accepted on QUEUE_SERVING_PORT. The socket arrives paused (accepted
 * with pauseOnConnect), nothing read yet. The default is `(s, q) => q.serveHttp1(s)`, the HTTP/1.1 fast path.
 * A protocol sniffer (HTTP/2 prior knowledge, h2/sniffAccept.ts) reads the first bytes itself, then either
 * takes the socket or hands it back with `q.serveHttp1(s, { first })`. While it reads, `q.hold(s)` puts the
 * socket under the header timeout from the accept and under shutdown, as a ClientConn would be.
 */
export type AcceptHandler = (accepted: net.Socket, queue: QueueServer) => void

/**
 * The listener on QUEUE_SERVING_PORT and the one sweep timer that enforces every per-connection deadline
 * (revision timeouts, slow request heads, lingering closes, idle upstream connections). One coarse
 * timer instead of timers per request keeps the hot path free of timer churn; deadlines are in whole
 * seconds in Knative, so a sweep every `sweepMs` is precise enough.
 */
export class QueueServer {
  readonly ctx: ProxyContext
  readonly server: net.Server
  readonly connections = new Set<ClientConn>()
  readonly sweepMs: number
  /** Sockets an AcceptHandler holds (hold()) before it routed them, with their accept time. */
  readonly unrouted = new Map<net.Socket, number>()
  #sweeper: NodeJS.Timeout | undefined
  #acceptPending: AcceptPending | null
  #multi: MultiAcceptState | null = null

  /**
   * `acceptPending`: the native helper (native/loadAcceptPending.ts); with it, every connection already
   * queued is accepted in the turn libuv accepts one (multiAccept.ts). Without it, one per turn, as Node does.
   */
  constructor (ctx: ProxyContext, opts: { sweepMs?: number; onAccept?: AcceptHandler; acceptPending?: AcceptPending | null } = {}) {
    this.ctx = ctx
    this.sweepMs = opts.sweepMs ?? 100
    this.#acceptPending = opts.acceptPending ?? null
    const onAccept = opts.onAccept
    // pauseOnConnect: nothing is read before adoptSocket() moves the handle to an `onread` socket.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true },
      onAccept === undefined ? (accepted) => { this.serveHttp1(accepted) } : (accepted) => onAccept(accepted, this))
  }

  /**
   * Serves a connection as HTTP/1.1. `adopt` (default true) moves a plain TCP handle to a socket that reads
   * with `onread` (adoptSocket.ts), the fast path; pass false for a socket that must be read as it is (TLS).
   * (A sniffer that adopted the socket itself also passes false, and forwards its reads to the ClientConn's
   * onData.) `first`: bytes a sniffer already read from it, served before anything else. A held socket
   * (hold()) leaves `unrouted` here, and its header timeout still counts from the accept.
   */
  serveHttp1 (accepted: net.Socket, opts: { adopt?: boolean; first?: Buffer } = {}): ClientConn {
    // Reads arrive from the event loop, after `conn` is set below.
    let conn: ClientConn | null = null
    const socket = opts.adopt === false ? accepted : adoptSocket(accepted, true, (chunk) => { if (conn !== null) conn.onData(chunk) })
    let acceptedMs: number | undefined
    if (this.unrouted.size > 0) {
      acceptedMs = this.unrouted.get(accepted)
      this.unrouted.delete(accepted)
    }
    const c = new ClientConn(socket, this.ctx, acceptedMs)
    conn = c
    this.connections.add(c)
    socket.once('close', () => this.connections.delete(c))
    // Resumed before `first` is served: 'data' flows from the next tick, after it, and a pause that serving
    // `first` asks for (backpressure) holds.
    if (socket === accepted) socket.resume()
    if (opts.first !== undefined && opts.first.length > 0) c.onData(opts.first)
    return c
  }

  /**
   * For an AcceptHandler that reads a socket's first bytes before routing it: until serveHttp1() or
   * release() takes it out, the socket is closed once the header timeout has passed since the accept (a
   * connection that sends nothing, a preface that stalls), when it ends before it was routed, and on
   * shutdown. Call it in the accept callback, with the socket the handler reads from.
   */
  hold (socket: net.Socket): void {
    this.unrouted.set(socket, this.ctx.clock.now())
    socket.once('close', () => this.unrouted.delete(socket))
    socket.once('end', () => { if (this.unrouted.has(socket)) socket.destroy() })
    socket.on('error', () => { /* 'close' follows */ })
  }

  /** The handler routed a held socket elsewhere (HTTP/2): its own timeouts apply from now on. */
  release (socket: net.Socket): void {
    this.unrouted.delete(socket)
  }

  /** Listens through core/listen.ts, so a taken port is PORT_IN_USE naming `hint.envVar`. */
  async listen (port: number, host: string, hint: ListenHint = { setting: 'QUEUE_SERVING_PORT', envVar: 'QUEUE_SERVING_PORT', inConfigFile: false }): Promise<number> {
    const bound = await listen(this.server, port, host, hint)
    if (this.#acceptPending !== null && this.#multi === null) {
      this.#multi = multiAccept(this.server, this.#acceptPending, { pauseOnConnect: true, noDelay: true, allowHalfOpen: true })
    }
    this.#sweeper = setInterval(() => this.sweep(this.ctx.clock.now()), this.sweepMs)
    this.#sweeper.unref()
    return bound
  }

  sweep (nowMs: number): void {
    for (const c of this.connections) c.sweep(nowMs)
    if (this.unrouted.size > 0) this.#sweepUnrouted(nowMs)
    this.ctx.pool.sweep(nowMs)
  }

  #sweepUnrouted (nowMs: number): void {
    const limit = this.ctx.headerTimeoutMs
    for (const [s, since] of this.unrouted) {
      if (nowMs - since < limit) continue
      this.ctx.counters.headerTimeouts++
      this.unrouted.delete(s)
      s.destroy()
    }
  }

  /** Connections the native helper accepted beyond libuv's one per turn; null when it is not in use. */
  get batchAccepted (): number | null {
    return this.#multi === null ? null : this.#multi.accepted
  }

  get tunnels (): number {
    let n = 0
    for (const c of this.connections) if (c.tunnel) n++
    return n
  }

  /**
   * Stops accepting, closes idle keep-alive connections, and makes every other one close after its
   * current response (Go's http.Server.Shutdown). Resolves when only upgraded connections are left, or
   * after `timeoutMs`.
   */
  async shutdown (timeoutMs: number): Promise<void> {
    this.ctx.closing = true
    this.server.close()
    for (const c of this.connections) c.closeIfIdle()
    for (const s of this.unrouted.keys()) s.destroy()
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      let busy = false
      for (const c of this.connections) if (!c.tunnel && !c.closed) { busy = true; break }
      if (!busy) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Waits up to `graceMs` for upgraded connections to end on their own, then cuts what is left. */
  async closeTunnels (graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs
    while (this.tunnels > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    for (const c of this.connections) c.socket.destroy()
    for (const s of this.unrouted.keys()) s.destroy()
    clearInterval(this.#sweeper)
    this.ctx.pool.closeAll()
  }
}
