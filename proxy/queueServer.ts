import net from 'node:net'
import { adoptSocket } from './adoptSocket.js'
import { ClientConn } from './clientConnection.js'
import { firstBytes } from './h2/firstBytes.js'
import type { H2Front } from './h2/h2Server.js'
import type { ProxyContext } from './proxyContext.js'

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
  /** HTTP/2 (h2c) for connections that open with the preface; null serves HTTP/1.1 only. */
  readonly h2: H2Front | null
  /** Accepted sockets that have not yet sent a byte (no ClientConn yet); closed on shutdown. */
  readonly unrouted = new Set<net.Socket>()
  #sweeper: NodeJS.Timeout | undefined

  constructor (ctx: ProxyContext, opts: { sweepMs?: number; h2?: H2Front | null } = {}) {
    this.ctx = ctx
    this.sweepMs = opts.sweepMs ?? 100
    this.h2 = opts.h2 ?? null
    // pauseOnConnect: nothing is read before adoptSocket() moves the handle to an `onread` socket.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (accepted) => {
      // Reads arrive from the event loop, after `socket` is set below.
      let conn: ClientConn | null = null
      let first: ((chunk: Buffer) => void) | null = null
      const socket = adoptSocket(accepted, true, (chunk) => {
        if (conn !== null) conn.onData(chunk)
        else if (first !== null) first(chunk)
      })
      const http1 = (buf: Buffer | null): void => {
        first = null
        this.unrouted.delete(socket)
        const c = new ClientConn(socket, ctx)
        conn = c
        this.connections.add(c)
        socket.once('close', () => this.connections.delete(c))
        if (buf !== null) c.onData(buf)
      }
      const h2 = this.h2
      if (h2 === null) { http1(null); return }
      // The HTTP/1.1 or HTTP/2 choice is made on the first bytes (proxy/h2/firstBytes.ts).
      this.unrouted.add(socket)
      socket.once('close', () => this.unrouted.delete(socket))
      socket.on('error', () => { /* 'close' follows */ })
      first = firstBytes(socket, {
        http1,
        h2: (buf) => { first = null; this.unrouted.delete(socket); h2.handle(socket, buf) },
        h2Upgrade: (u, buf) => { this.unrouted.delete(socket); first = h2.upgrade(socket, u, buf) }
      }, ctx.headerTimeoutMs)
      socket.once('end', () => { if (conn === null && this.unrouted.has(socket)) socket.destroy() })
    })
  }

  listen (port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        this.#sweeper = setInterval(() => this.sweep(this.ctx.clock.now()), this.sweepMs)
        this.#sweeper.unref()
        resolve((this.server.address() as net.AddressInfo).port)
      })
    })
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
    for (const s of this.unrouted) s.destroy()
    this.h2?.shutdown()
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      let busy = false
      for (const c of this.connections) if (!c.tunnel && !c.closed) { busy = true; break }
      if (this.h2 !== null && this.h2.sessions.size > 0) busy = true
      if (!busy) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Waits up to `graceMs` for upgraded connections to end on their own, then cuts what is left. */
  async closeTunnels (graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs
    while (this.tunnels > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    for (const c of this.connections) c.socket.destroy()
    for (const s of this.unrouted) s.destroy()
    this.h2?.destroyAll()
    clearInterval(this.#sweeper)
    this.ctx.pool.closeAll()
  }
}
