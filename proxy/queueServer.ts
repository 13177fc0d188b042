import net from 'node:net'
import { listen, type ListenHint } from '../core/listen.js'
import { adoptSocket } from './adoptSocket.js'
import { ClientConn } from './clientConnection.js'
import type { ProxyContext } from './proxyContext.js'

/**
 * Decides what serves each connection accepted on QUEUE_SERVING_PORT. The socket arrives paused (accepted
 * with pauseOnConnect), nothing read yet. The default is `(s, q) => q.serveHttp1(s)`, the HTTP/1.1 fast path.
 * A protocol sniffer (HTTP/2 prior knowledge) reads the first bytes itself, then either takes the socket or
 * hands it back with `q.serveHttp1(s, { first })`.
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
  #sweeper: NodeJS.Timeout | undefined

  constructor (ctx: ProxyContext, opts: { sweepMs?: number; onAccept?: AcceptHandler } = {}) {
    this.ctx = ctx
    this.sweepMs = opts.sweepMs ?? 100
    const onAccept = opts.onAccept
    // pauseOnConnect: nothing is read before adoptSocket() moves the handle to an `onread` socket.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true },
      onAccept === undefined ? (accepted) => { this.serveHttp1(accepted) } : (accepted) => onAccept(accepted, this))
  }

  /**
   * Serves a connection as HTTP/1.1. `adopt` (default true) moves a plain TCP handle to a socket that reads
   * with `onread` (adoptSocket.ts), the fast path; pass false for a socket that must be read as it is (TLS).
   * `first`: bytes a sniffer already read from it, served before anything else.
   */
  serveHttp1 (accepted: net.Socket, opts: { adopt?: boolean; first?: Buffer } = {}): ClientConn {
    // Reads arrive from the event loop, after `conn` is set below.
    let conn: ClientConn | null = null
    const socket = opts.adopt === false ? accepted : adoptSocket(accepted, true, (chunk) => { if (conn !== null) conn.onData(chunk) })
    const c = new ClientConn(socket, this.ctx)
    conn = c
    this.connections.add(c)
    socket.once('close', () => this.connections.delete(c))
    if (opts.first !== undefined && opts.first.length > 0) c.onData(opts.first)
    if (socket === accepted) socket.resume()
    return c
  }

  /** Listens through core/listen.ts, so a taken port is PORT_IN_USE naming `hint.envVar`. */
  async listen (port: number, host: string, hint: ListenHint = { setting: 'QUEUE_SERVING_PORT', envVar: 'QUEUE_SERVING_PORT', inConfigFile: false }): Promise<number> {
    const bound = await listen(this.server, port, host, hint)
    this.#sweeper = setInterval(() => this.sweep(this.ctx.clock.now()), this.sweepMs)
    this.#sweeper.unref()
    return bound
  }

  sweep (nowMs: number): void {
    for (const c of this.connections) c.sweep(nowMs)
    this.ctx.pool.sweep(nowMs)
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
    clearInterval(this.#sweeper)
    this.ctx.pool.closeAll()
  }
}
