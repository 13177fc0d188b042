import net from 'node:net'
import { copyingRead } from './copyingRead.js'

/** What an upstream connection reports to whoever is using it now (one client connection at a time). */
export interface UpstreamOwner {
  onUpstreamData (up: UpstreamConn, chunk: Buffer): void
  /** The upstream half-closed or closed; `err` is set when it failed (refused, reset). */
  onUpstreamClose (up: UpstreamConn, err: Error | undefined): void
  onUpstreamDrain (): void
}

/**
 * One keep-alive connection to the user container. The listeners are attached once, when the socket is
 * made, and forward to the current owner, so handing the connection to the next request allocates nothing.
 */
export class UpstreamConn {
  readonly socket: net.Socket
  owner: UpstreamOwner | null = null
  /** Has finished at least one exchange, so a failure before any response byte may be a stale keep-alive. */
  reused = false
  idleSinceMs = 0
  closed = false
  #pool: UpstreamPool
  #err: Error | undefined

  constructor (pool: UpstreamPool, port: number, host: string) {
    this.#pool = pool
    const s = net.connect({
      port,
      host,
      noDelay: true,
      onread: copyingRead((chunk) => {
        if (this.owner !== null) this.owner.onUpstreamData(this, chunk)
        // Bytes on an idle connection answer nothing we sent: the connection cannot be trusted.
        else s.destroy()
      })
    })
    this.socket = s
    s.on('drain', () => { if (this.owner !== null) this.owner.onUpstreamDrain() })
    s.on('error', (err) => { this.#err = err })
    s.on('end', () => this.#gone())
    s.on('close', () => this.#gone())
  }

  #gone (): void {
    if (this.closed) return
    this.closed = true
    const owner = this.owner
    this.owner = null
    this.#pool.forget(this)
    if (owner !== null) owner.onUpstreamClose(this, this.#err)
    this.socket.destroy()
  }

  destroy (): void {
    this.owner = null
    this.closed = true
    this.#pool.forget(this)
    this.socket.destroy()
  }
}

/**
 * Keep-alive connections to 127.0.0.1:$USER_PORT, last in first out so the warmest is reused.
 * Knative sizes its transport's idle pool as CONTAINER_CONCURRENCY, or 1000 when that is 0
 * (pkg/queue/sharedmain/main.go buildTransport); so do we.
 */
export class UpstreamPool {
  readonly port: number
  readonly host: string
  readonly maxIdle: number
  readonly idleTimeoutMs: number
  #idle: UpstreamConn[] = []
  #all = new Set<UpstreamConn>()
  /** Connections opened, for tests and metrics. */
  opened = 0

  constructor (opts: { port: number; host: string; maxIdle: number; idleTimeoutMs: number }) {
    this.port = opts.port
    this.host = opts.host
    this.maxIdle = opts.maxIdle
    this.idleTimeoutMs = opts.idleTimeoutMs
  }

  get idleCount (): number { return this.#idle.length }
  get size (): number { return this.#all.size }

  acquire (owner: UpstreamOwner, fresh = false): UpstreamConn {
    let up: UpstreamConn | undefined
    while (!fresh && (up = this.#idle.pop()) !== undefined) {
      if (!up.closed && !up.socket.destroyed) break
      up = undefined
    }
    if (up === undefined) {
      up = new UpstreamConn(this, this.port, this.host)
      this.#all.add(up)
      this.opened++
    }
    up.owner = owner
    // A previous owner may have paused it for backpressure and gone away before its client drained.
    if (up.socket.isPaused()) up.socket.resume()
    return up
  }

  release (up: UpstreamConn, nowMs: number): void {
    up.owner = null
    up.reused = true
    if (up.closed || this.#idle.length >= this.maxIdle) { up.destroy(); return }
    up.idleSinceMs = nowMs
    this.#idle.push(up)
  }

  forget (up: UpstreamConn): void {
    this.#all.delete(up)
    const i = this.#idle.indexOf(up)
    if (i >= 0) this.#idle.splice(i, 1)
  }

  /** Closes idle connections older than idleTimeoutMs, before the upstream's own keep-alive timeout can race a reuse. */
  sweep (nowMs: number): void {
    // The stack is oldest first.
    while (this.#idle.length > 0 && nowMs - (this.#idle[0] as UpstreamConn).idleSinceMs >= this.idleTimeoutMs) {
      (this.#idle[0] as UpstreamConn).destroy()
    }
  }

  closeAll (): void {
    for (const up of [...this.#all]) up.destroy()
    this.#idle.length = 0
  }
}
