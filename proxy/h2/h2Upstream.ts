import http2 from 'node:http2'
import net from 'node:net'

/** Per-stream and per-connection receive windows, as Go's http2.Transport sizes them (4 MiB / 1 GiB is its default; 1 MiB keeps memory per pod small). */
export const UPSTREAM_WINDOW = 1 << 20

interface Entry {
  session: http2.ClientHttp2Session
  streams: number
  idleSinceMs: number
}

/**
 * HTTP/2 cleartext connections to the user container, for requests that came in as HTTP/2 (knative/pkg
 * network NewProxyAutoTransport: ProtoMajor 2 goes through an h2c http2.Transport). Like Go's transport, one
 * connection carries every stream until the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached, then another
 * is opened. A connection that errors, closes or sends GOAWAY takes no new streams; its streams finish or fail
 * on their own.
 */
export class H2Upstream {
  readonly authority: string
  readonly host: string
  readonly port: number
  readonly idleTimeoutMs: number
  #entries: Entry[] = []
  /** Last stream id of the GOAWAY each session got. */
  #goaway = new WeakMap<http2.ClientHttp2Session, number>()
  /** A closed stream forgets its session; this remembers it. */
  #sessionOf = new WeakMap<http2.ClientHttp2Stream, http2.ClientHttp2Session>()

  constructor (opts: { host: string; port: number; idleTimeoutMs: number }) {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
    this.authority = `http://${host}:${opts.port}`
    this.host = opts.host
    this.port = opts.port
    this.idleTimeoutMs = opts.idleTimeoutMs
  }

  get sessions (): number { return this.#entries.length }

  #open (): Entry {
    const session = http2.connect(this.authority, {
      settings: { enablePush: false, initialWindowSize: UPSTREAM_WINDOW },
      maxSessionMemory: 64,
      // Go's transport sends what the peer sends; header lists as large as the client could send us.
      maxHeaderListPairs: 32768,
      // Small frames must not wait for Nagle (node's http2.connect leaves it on).
      createConnection: () => net.connect({ host: this.host, port: this.port, noDelay: true })
    })
    const e: Entry = { session, streams: 0, idleSinceMs: 0 }
    const drop = (): void => {
      const i = this.#entries.indexOf(e)
      if (i >= 0) this.#entries.splice(i, 1)
    }
    session.once('connect', () => { try { session.setLocalWindowSize(UPSTREAM_WINDOW) } catch { /* destroyed meanwhile */ } })
    session.on('error', drop)
    session.once('goaway', (_code: number, lastStreamId: number) => { this.#goaway.set(session, lastStreamId); drop() })
    session.once('close', drop)
    this.#entries.push(e)
    return e
  }

  /** Opens a stream to the user container on a connection with room for it. */
  request (headers: http2.OutgoingHttpHeaders, endStream: boolean): http2.ClientHttp2Stream {
    let e: Entry | undefined
    for (const c of this.#entries) {
      const s = c.session
      if (s.destroyed || s.closed) continue
      // Before the peer's SETTINGS arrive node assumes 100, as Go's transport does.
      const max = s.remoteSettings.maxConcurrentStreams ?? 100
      if (c.streams < max) { e = c; break }
    }
    if (e === undefined) e = this.#open()
    const entry = e
    entry.streams++
    const stream = entry.session.request(headers, { endStream })
    this.#sessionOf.set(stream, entry.session)
    stream.once('close', () => {
      entry.streams--
      if (entry.streams === 0) entry.idleSinceMs = Date.now()
    })
    return stream
  }

  /**
   * True when the user container never processed this stream: it was never sent (its connection failed
   * first), or its id is past the last stream id of the GOAWAY its connection received.
   */
  refused (stream: http2.ClientHttp2Stream): boolean {
    if (stream.id === undefined) return true
    const session = this.#sessionOf.get(stream)
    const last = session === undefined ? undefined : this.#goaway.get(session)
    return last !== undefined && stream.id > last
  }

  /** Closes connections idle for longer than idleTimeoutMs (sweep-driven). */
  sweep (nowMs: number): void {
    for (const e of this.#entries.slice()) {
      if (e.streams === 0 && e.idleSinceMs > 0 && nowMs - e.idleSinceMs >= this.idleTimeoutMs) {
        const i = this.#entries.indexOf(e)
        if (i >= 0) this.#entries.splice(i, 1)
        e.session.close()
      }
    }
  }

  closeAll (): void {
    for (const e of this.#entries) e.session.destroy()
    this.#entries = []
  }
}
