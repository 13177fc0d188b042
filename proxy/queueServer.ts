import net from 'node:net'
import { adoptSocket } from './adoptSocket.js'
import { ClientConn } from './clientConnection.js'
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
  #sweeper: NodeJS.Timeout | undefined

  constructor (ctx: ProxyContext, opts: { sweepMs?: number } = {}) {
    this.ctx = ctx
    this.sweepMs = opts.sweepMs ?? 100
    // pauseOnConnect: nothing is read before adoptSocket() moves the handle to an `onread` socket.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (accepted) => {
      // Reads arrive from the event loop, after `conn` is set below.
      let conn: ClientConn | null = null
      const socket = adoptSocket(accepted, true, (chunk) => { if (conn !== null) conn.onData(chunk) })
      const c = new ClientConn(socket, ctx)
      conn = c
      this.connections.add(c)
      socket.once('close', () => this.connections.delete(c))
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
