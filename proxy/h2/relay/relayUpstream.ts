import net from 'node:net'
import { RelayConn, type ConnOwner } from './relayConn.js'
import type { RelayStream, StreamSink } from './relayStream.js'
import { copyingRead } from '../../copyingRead.js'

export interface RelayUpstreamOptions {
  host: string
  port: number
  idleTimeoutMs: number
  /** Our receive windows toward the user container (stream and connection). */
  window: number
  /** Response header lists larger than this end their stream (the user container's own limit is the client's). */
  maxHeaderListBytes: number
  clock: () => number
}

/**
 * h2c connections to the user container for the relay engine, multiplexed like H2Upstream: one connection
 * carries every stream until the peer's SETTINGS_MAX_CONCURRENT_STREAMS (until its SETTINGS arrive, the limit
 * an earlier connection was given, or 100 as Go's transport assumes), then another is opened. So the streams
 * a first burst loses to REFUSED_STREAM find room when they are sent again. One that got GOAWAY or closed takes no new streams.
 */
export class RelayUpstream implements ConnOwner {
  readonly opts: RelayUpstreamOptions
  readonly conns: RelayConn[] = []
  #idleSince = new Map<RelayConn, number>()
  /** SETTINGS_MAX_CONCURRENT_STREAMS the user container last sent; 100 (Go's transport's guess) before any. */
  #learnedMax = 100

  constructor (opts: RelayUpstreamOptions) {
    this.opts = opts
  }

  get sessions (): number { return this.conns.length }

  #open (): RelayConn {
    let conn: RelayConn | null = null
    const socket = net.connect({
      host: this.opts.host,
      port: this.opts.port,
      noDelay: true,
      onread: copyingRead((chunk) => conn?.onData(chunk))
    })
    conn = new RelayConn(socket, this, {
      server: false,
      window: this.opts.window,
      maxConcurrentStreams: 0,
      maxHeaderListBytes: this.opts.maxHeaderListBytes,
      advertisedHeaderListBytes: 0,
      maxHeaderBlockBytes: this.opts.maxHeaderListBytes + 64 * 1024,
      maxSettings: 100,
      clock: this.opts.clock
    })
    this.conns.push(conn)
    return conn
  }

  /** Opens a stream to the user container on a connection with room for it. */
  request (fields: readonly string[], end: boolean, sink: StreamSink): RelayStream {
    for (const c of this.conns) {
      if (c.closed || c.goawayReceived >= 0) continue
      // Until a connection's SETTINGS arrive, the limit its siblings were given (the same server), else 100.
      let max = this.#learnedMax
      if (c.peerSettingsSeen) { max = c.peerMaxConcurrent; this.#learnedMax = max }
      if (c.streams.size < max) {
        const s = c.request(fields, end, sink)
        if (s !== null) { this.#idleSince.delete(c); return s }
      }
    }
    const s = this.#open().request(fields, end, sink)
    if (s === null) throw new Error('a new upstream connection refused a stream')
    return s
  }

  /** True when the user container never processed this stream (see H2Upstream.refused). */
  refused (s: RelayStream): boolean {
    return s.refused || (s.conn.goawayReceived >= 0 && s.id > s.conn.goawayReceived)
  }

  onStream (s: RelayStream): void {
    // A server-initiated stream (push): we sent ENABLE_PUSH 0, so RelayConn refuses PUSH_PROMISE first.
    s.conn.reset(s, 0x1)
  }

  onGoaway (c: RelayConn): void { this.#drop(c) }
  onClosed (c: RelayConn): void { this.#drop(c) }

  #drop (c: RelayConn): void {
    const i = this.conns.indexOf(c)
    if (i >= 0) this.conns.splice(i, 1)
    this.#idleSince.delete(c)
  }

  /** Closes connections without streams for longer than idleTimeoutMs; PINGs are not needed upstream. */
  sweep (nowMs: number): void {
    for (const c of this.conns.slice()) {
      if (c.streams.size > 0) { this.#idleSince.delete(c); continue }
      const since = this.#idleSince.get(c)
      if (since === undefined) { this.#idleSince.set(c, nowMs); continue }
      if (nowMs - since >= this.opts.idleTimeoutMs) {
        this.#drop(c)
        c.goaway(0)
      }
    }
  }

  closeAll (): void {
    for (const c of this.conns.slice()) c.destroy()
    this.conns.length = 0
  }
}
