import type net from 'node:net'
import {
  DEFAULT_MAX_FRAME, DEFAULT_WINDOW, E_COMPRESSION_ERROR, E_ENHANCE_YOUR_CALM, E_FLOW_CONTROL_ERROR, E_FRAME_SIZE_ERROR,
  E_INTERNAL_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR, E_REFUSED_STREAM, E_STREAM_CLOSED, F_ACK, F_END_HEADERS, F_END_STREAM, F_PADDED, F_PRIORITY,
  goawayFrame, MAX_WINDOW, pingFrame, rstStreamFrame, S_ENABLE_PUSH, S_HEADER_TABLE_SIZE, S_INITIAL_WINDOW_SIZE,
  S_MAX_CONCURRENT_STREAMS, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE, SETTINGS_ACK, settingsFrame, T_CONTINUATION, T_DATA,
  T_GOAWAY, T_HEADERS, T_PING, T_PRIORITY, T_PUSH_PROMISE, T_RST_STREAM, T_SETTINGS, T_WINDOW_UPDATE, windowUpdateFrame,
  writeFrameHeader
} from './frames.js'
import { HpackDecoder, HpackError } from './hpackDecoder.js'
import { encodeHeaders } from './hpackEncoder.js'
import { RelayStream, type StreamSink } from './relayStream.js'

const PREFACE_LEN = 24
/** Header blocks are encoded here first (a larger one gets its own buffer). */
const SCRATCH = Buffer.allocUnsafe(64 * 1024)
/**
 * Go closes a connection whose peer does not read its control frames (maxQueuedControlFrames); this is our
 * bound on what waits in the socket, in bytes. DATA adds at most the senders' windows to it: grants stop
 * at SOCKET_HIGH_WATER.
 */
const MAX_QUEUED_OUT = 16 << 20
const SOCKET_HIGH_WATER = 256 * 1024
/** Rapid-reset bound (nghttp2's defaults, which node:http2 ran with): 1000 early resets at once, then 33 per second. */
const RESET_BURST = 1000
const RESET_RATE_PER_S = 33

export interface RelayConnOptions {
  /** Server role (a client connected to us) or client role (our connection to the user container). */
  server: boolean
  /** Our SETTINGS_INITIAL_WINDOW_SIZE, and the connection window we grant at start. */
  window: number
  /** Server role: SETTINGS_MAX_CONCURRENT_STREAMS we advertise. */
  maxConcurrentStreams: number
  /** Header lists larger than this are decoded and flagged (tooLarge), not kept. */
  maxHeaderListBytes: number
  /** Advertised SETTINGS_MAX_HEADER_LIST_SIZE (0: not sent). */
  advertisedHeaderListBytes: number
  /** A header block (HEADERS + CONTINUATION) larger than this ends the connection (CONTINUATION flood). */
  maxHeaderBlockBytes: number
  /** SETTINGS frames with more entries are refused (Go: 100). */
  maxSettings: number
  clock: () => number
}

export interface ConnOwner {
  /** Server role: a new stream, after its header block. `tooLarge`: over maxHeaderListBytes (fields cut). */
  onStream (s: RelayStream, fields: string[], end: boolean, tooLarge: boolean): void
  onClosed (c: RelayConn): void
  /** The peer's GOAWAY (client role: no new streams on this connection). */
  onGoaway (c: RelayConn, lastStreamId: number): void
}

/**
 * One HTTP/2 connection without node:http2: a frame parser over the socket's reads (one loop over a Buffer,
 * no per-frame objects), HPACK in and out, SETTINGS/PING/GOAWAY of this hop, and flow control both ways:
 * DATA we relay is given back to its sender (WINDOW_UPDATE) once it is written onward, and DATA for a peer
 * whose window is exhausted waits in its stream. Every frame produced while one read (or one timer, one
 * event) is handled goes out in one socket write, after it.
 */
export class RelayConn {
  readonly socket: net.Socket
  readonly server: boolean
  readonly streams = new Map<number, RelayStream>()
  readonly opts: RelayConnOptions
  owner: ConnOwner
  readonly decoder: HpackDecoder
  peerMaxFrame = DEFAULT_MAX_FRAME
  peerInitialWindow = DEFAULT_WINDOW
  peerMaxConcurrent: number
  /** Connection-level windows. */
  sendWindow = DEFAULT_WINDOW
  recvWindow: number
  #connUnacked = 0
  /** Server role: highest stream id the peer opened; client role: the next id we use. */
  lastPeerStreamId = 0
  nextStreamId = 1
  /** Peer-initiated streams open now. */
  peerStreams = 0
  goawaySent = false
  /** Last stream id of the peer's GOAWAY, or -1. */
  goawayReceived = -1
  closed = false
  /** The peer's SETTINGS arrived (client role: peerMaxConcurrent is real from then on). */
  peerSettingsSeen = false
  #unackedSettings = 1
  #buf: Buffer | null = null
  #needPreface: boolean
  #out: Buffer[] = []
  #outBytes = 0
  /** Grants held back while the socket is over SOCKET_HIGH_WATER: [stream, bytes, stream, bytes, ...]. */
  #deferred: Array<RelayStream | number> = []
  /** The socket connected (client role): a stream of a connection that never did reached nobody. */
  #connected = false
  #outScheduled = false
  #blocked = new Set<RelayStream>()
  #contStream = 0
  #contFlags = 0
  #contParts: Buffer[] = []
  #contBytes = 0
  #resetTokens = RESET_BURST
  #resetAtMs = 0
  #readSinceSweep = true
  #lastReadMs: number
  #pingSentMs = -1
  #ownerTold = false
  /** Closed because a PING went unanswered. */
  diedSilent = false

  constructor (socket: net.Socket, owner: ConnOwner, opts: RelayConnOptions) {
    this.socket = socket
    this.owner = owner
    this.opts = opts
    this.server = opts.server
    this.#needPreface = opts.server
    this.peerMaxConcurrent = opts.server ? Infinity : 100
    this.recvWindow = opts.window
    this.decoder = new HpackDecoder(4096, opts.maxHeaderListBytes)
    this.#lastReadMs = opts.clock()
    const settings: Array<[number, number]> = []
    if (opts.server) settings.push([S_MAX_CONCURRENT_STREAMS, opts.maxConcurrentStreams])
    else settings.push([S_ENABLE_PUSH, 0])
    settings.push([S_INITIAL_WINDOW_SIZE, opts.window])
    if (opts.advertisedHeaderListBytes > 0) settings.push([S_MAX_HEADER_LIST_SIZE, opts.advertisedHeaderListBytes])
    if (!opts.server) this.#queue(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'))
    this.#queue(settingsFrame(settings))
    if (opts.window > DEFAULT_WINDOW) this.#queue(windowUpdateFrame(0, opts.window - DEFAULT_WINDOW))
    this.recvWindow = opts.window
    socket.on('error', () => { /* 'close' follows */ })
    socket.once('close', () => this.#onSocketClose())
    if (opts.server || !socket.connecting) this.#connected = true
    else socket.once('connect', () => { this.#connected = true })
  }

  // ---- output ----

  #deferGrant (src: RelayStream, n: number): void {
    if (this.#deferred.length === 0) this.socket.once('drain', () => this.#grantDeferred())
    this.#deferred.push(src, n)
  }

  #grantDeferred (): void {
    const d = this.#deferred
    this.#deferred = []
    for (let i = 0; i < d.length; i += 2) {
      const src = d[i] as RelayStream
      src.conn.grant(src, d[i + 1] as number)
    }
  }

  #queue (b: Buffer): void {
    this.#outBytes += b.length
    this.#out.push(b)
    if (!this.#outScheduled) {
      this.#outScheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Writes every queued frame in one socket write. */
  flush (): void {
    this.#outScheduled = false
    const out = this.#out
    if (out.length === 0) return
    this.#out = []
    this.#outBytes = 0
    if (this.socket.destroyed) return
    this.socket.write(out.length === 1 ? out[0] as Buffer : Buffer.concat(out))
    if (this.socket.writableLength > MAX_QUEUED_OUT) {
      // The peer does not read what we send (a SETTINGS or PING flood): Go closes such a connection.
      this.socket.destroy()
    }
  }

  // ---- input ----

  /** Feeds bytes read from the socket. A fault of ours while handling them ends this connection, not the process. */
  onData (chunk: Buffer): void {
    if (this.closed) return
    try {
      this.#read(chunk)
    } catch {
      this.goaway(E_INTERNAL_ERROR, 'internal error')
    }
  }

  #read (chunk: Buffer): void {
    this.#readSinceSweep = true
    const b = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk])
    this.#buf = null
    let p = 0
    if (this.#needPreface) {
      if (b.length < PREFACE_LEN) { this.#buf = b; return }
      // The serving port's sniffer checked these bytes already (sniffAccept.ts).
      p = PREFACE_LEN
      this.#needPreface = false
    }
    const maxFrame = DEFAULT_MAX_FRAME
    while (b.length - p >= 9) {
      const len = ((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number)
      if (len > maxFrame) { this.goaway(E_FRAME_SIZE_ERROR, 'frame too large'); return }
      if (b.length - p < 9 + len) break
      const type = b[p + 3] as number
      const flags = b[p + 4] as number
      const id = b.readUInt32BE(p + 5) & 0x7fffffff
      const start = p + 9
      p = start + len
      if (this.#contStream !== 0 && type !== T_CONTINUATION) { this.goaway(E_PROTOCOL_ERROR, 'expected CONTINUATION'); return }
      if (!this.peerSettingsSeen && type !== T_SETTINGS && this.server) { this.goaway(E_PROTOCOL_ERROR, 'first frame is not SETTINGS'); return }
      switch (type) {
        case T_DATA: this.#onDataFrame(b, start, len, flags, id); break
        case T_HEADERS: this.#onHeadersFrame(b, start, len, flags, id); break
        case T_CONTINUATION: this.#onContinuation(b, start, len, flags, id); break
        case T_PRIORITY: if (id === 0) this.goaway(E_PROTOCOL_ERROR, 'PRIORITY on stream 0'); else if (len !== 5) this.#streamError(id, E_FRAME_SIZE_ERROR); break
        case T_RST_STREAM: this.#onRst(b, start, len, id); break
        case T_SETTINGS: this.#onSettings(b, start, len, flags, id); break
        case T_PUSH_PROMISE: this.goaway(E_PROTOCOL_ERROR, 'PUSH_PROMISE'); break
        case T_PING: this.#onPing(b, start, len, flags, id); break
        case T_GOAWAY: this.#onGoaway(b, start, len, id); break
        case T_WINDOW_UPDATE: this.#onWindowUpdate(b, start, len, id); break
        default: break // unknown frame types are ignored (RFC 9113 §4.1)
      }
      if (this.closed) return
    }
    if (p < b.length) this.#buf = b.subarray(p)
  }

  /** An idle stream id: one the peer could open next (not yet used). */
  #idle (id: number): boolean {
    return this.server ? (id > this.lastPeerStreamId && (id & 1) === 1) : id >= this.nextStreamId
  }

  #onDataFrame (b: Buffer, start: number, len: number, flags: number, id: number): void {
    if (id === 0) { this.goaway(E_PROTOCOL_ERROR, 'DATA on stream 0'); return }
    this.recvWindow -= len
    if (this.recvWindow < 0) { this.goaway(E_FLOW_CONTROL_ERROR, 'connection window exceeded'); return }
    let pad = 0
    let off = start
    if ((flags & F_PADDED) !== 0) {
      if (len < 1) { this.goaway(E_PROTOCOL_ERROR, 'bad padding'); return }
      pad = (b[start] as number) + 1
      off++
      if (pad > len) { this.goaway(E_PROTOCOL_ERROR, 'bad padding'); return }
    }
    const s = this.streams.get(id)
    if (s === undefined) {
      if (this.#idle(id)) { this.goaway(E_PROTOCOL_ERROR, 'DATA on an idle stream'); return }
      // A stream closed or reset already (frames in flight): ignored, its bytes given back to the connection.
      this.#grantConn(len)
      return
    }
    if (s.remoteEnded) {
      // DATA after END_STREAM (RFC 9113 §5.1, half-closed remote): a stream error STREAM_CLOSED.
      this.#grantConn(len)
      this.#streamError(id, E_STREAM_CLOSED)
      return
    }
    s.recvWindow -= len
    if (s.recvWindow < 0) { this.#grantConn(len); this.#streamError(id, E_FLOW_CONTROL_ERROR); return }
    // Padding is nobody's to relay: given back at once.
    if (pad > 0) this.grant(s, pad)
    const end = (flags & F_END_STREAM) !== 0
    if (end) s.remoteEnded = true
    const payload = b.subarray(off, start + len - (pad > 0 ? pad - 1 : 0))
    s.sink?.onData(s, payload, end)
    if (end) this.#maybeClosed(s)
  }

  #onHeadersFrame (b: Buffer, start: number, len: number, flags: number, id: number): void {
    if (id === 0) { this.goaway(E_PROTOCOL_ERROR, 'HEADERS on stream 0'); return }
    let off = start
    let end = start + len
    if ((flags & F_PADDED) !== 0) {
      const pad = b[off] as number
      off++
      end -= pad
    }
    if ((flags & F_PRIORITY) !== 0) off += 5
    if (off > end) { this.goaway(E_PROTOCOL_ERROR, 'bad HEADERS padding'); return }
    if ((flags & F_END_HEADERS) === 0) {
      this.#contStream = id
      this.#contFlags = flags
      this.#contParts = [b.subarray(off, end)]
      this.#contBytes = end - off
      return
    }
    this.#onHeaderBlock(id, flags, b, off, end)
  }

  #onContinuation (b: Buffer, start: number, len: number, flags: number, id: number): void {
    if (this.#contStream === 0 || id !== this.#contStream) { this.goaway(E_PROTOCOL_ERROR, 'unexpected CONTINUATION'); return }
    this.#contBytes += len
    if (this.#contBytes > this.opts.maxHeaderBlockBytes) { this.goaway(E_ENHANCE_YOUR_CALM, 'header block too large'); return }
    this.#contParts.push(b.subarray(start, start + len))
    if ((flags & F_END_HEADERS) === 0) return
    const block = Buffer.concat(this.#contParts)
    this.#contParts = []
    this.#contStream = 0
    this.#onHeaderBlock(id, this.#contFlags, block, 0, block.length)
  }

  #onHeaderBlock (id: number, flags: number, b: Buffer, off: number, end: number): void {
    let fields: string[]
    try {
      fields = this.decoder.decode(b, off, end)
    } catch (err) {
      if (err instanceof HpackError) { this.goaway(E_COMPRESSION_ERROR, err.message); return }
      throw err
    }
    const endStream = (flags & F_END_STREAM) !== 0
    let s = this.streams.get(id)
    if (s !== undefined) {
      s.blocks++
      if (s.remoteEnded) { this.#streamError(id, E_STREAM_CLOSED); return }
      // Trailers (or, client role, the response after 1xx): a request's second block must end the stream.
      if (this.server && !endStream) { this.#streamError(id, E_PROTOCOL_ERROR); return }
      if (endStream) s.remoteEnded = true
      s.sink?.onHeaders(s, fields, endStream)
      if (endStream) this.#maybeClosed(s)
      return
    }
    if (!this.server) {
      if (this.#idle(id)) this.goaway(E_PROTOCOL_ERROR, 'HEADERS on an idle stream')
      // Else a stream we reset: ignored.
      return
    }
    if ((id & 1) === 0 || id <= this.lastPeerStreamId) { this.goaway(E_PROTOCOL_ERROR, 'HEADERS on a closed stream'); return }
    this.lastPeerStreamId = id
    if (this.goawaySent) { this.#queue(rstStreamFrame(id, E_REFUSED_STREAM)); return }
    if (this.peerStreams >= this.opts.maxConcurrentStreams) {
      // Go answers a stream over the limit with a stream error (REFUSED_STREAM while our SETTINGS are
      // unacknowledged, PROTOCOL_ERROR after); nghttp2, which node:http2 ran, ends the connection. A client
      // that knows the limit and opens more is not one to keep serving: GOAWAY, as before.
      if (this.#unackedSettings > 0) { this.#queue(rstStreamFrame(id, E_REFUSED_STREAM)); return }
      this.goaway(E_PROTOCOL_ERROR, 'max concurrent streams exceeded')
      return
    }
    s = new RelayStream(this, id, this.peerInitialWindow, this.opts.window)
    s.blocks = 1
    s.remoteEnded = endStream
    this.streams.set(id, s)
    this.peerStreams++
    this.owner.onStream(s, fields, endStream, this.decoder.tooLarge)
  }

  #onRst (b: Buffer, start: number, len: number, id: number): void {
    if (len !== 4) { this.goaway(E_FRAME_SIZE_ERROR, 'RST_STREAM size'); return }
    if (id === 0) { this.goaway(E_PROTOCOL_ERROR, 'RST_STREAM on stream 0'); return }
    const s = this.streams.get(id)
    if (s === undefined) {
      if (this.#idle(id)) this.goaway(E_PROTOCOL_ERROR, 'RST_STREAM on an idle stream')
      return
    }
    const code = b.readUInt32BE(start)
    if (this.server && !s.localEnded) {
      // A reset of a stream we had not answered yet: rapid reset (CVE-2023-44487) is many of these.
      const now = this.opts.clock()
      this.#resetTokens = Math.min(RESET_BURST, this.#resetTokens + (now - this.#resetAtMs) * RESET_RATE_PER_S / 1000)
      this.#resetAtMs = now
      this.#resetTokens--
      if (this.#resetTokens < 0) {
        this.#close(s)
        s.sink?.onReset(s, code)
        this.goaway(E_ENHANCE_YOUR_CALM, 'too many resets')
        return
      }
    }
    this.#close(s)
    s.sink?.onReset(s, code)
  }

  #onSettings (b: Buffer, start: number, len: number, flags: number, id: number): void {
    if (id !== 0) { this.goaway(E_PROTOCOL_ERROR, 'SETTINGS on a stream'); return }
    if ((flags & F_ACK) !== 0) {
      if (len !== 0) { this.goaway(E_FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload'); return }
      if (this.#unackedSettings > 0) this.#unackedSettings--
      return
    }
    if (len % 6 !== 0) { this.goaway(E_FRAME_SIZE_ERROR, 'SETTINGS size'); return }
    if (len / 6 > this.opts.maxSettings) { this.goaway(E_PROTOCOL_ERROR, 'too many settings'); return }
    this.peerSettingsSeen = true
    for (let p = start; p < start + len; p += 6) {
      const k = b.readUInt16BE(p)
      const v = b.readUInt32BE(p + 2)
      if (k === S_ENABLE_PUSH) {
        if (v > 1) { this.goaway(E_PROTOCOL_ERROR, 'ENABLE_PUSH'); return }
      } else if (k === S_MAX_CONCURRENT_STREAMS) {
        this.peerMaxConcurrent = v
      } else if (k === S_INITIAL_WINDOW_SIZE) {
        if (v > MAX_WINDOW) { this.goaway(E_FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE'); return }
        const delta = v - this.peerInitialWindow
        this.peerInitialWindow = v
        for (const s of this.streams.values()) s.sendWindow += delta
      } else if (k === S_MAX_FRAME_SIZE) {
        if (v < DEFAULT_MAX_FRAME || v > 0xffffff) { this.goaway(E_PROTOCOL_ERROR, 'MAX_FRAME_SIZE'); return }
        this.peerMaxFrame = v
      } else if (k === S_HEADER_TABLE_SIZE || k === S_MAX_HEADER_LIST_SIZE) {
        // Our encoder never indexes, so the peer's table size does not matter to it.
      }
    }
    this.#queue(SETTINGS_ACK)
    this.#flushBlocked()
  }

  #onPing (b: Buffer, start: number, len: number, flags: number, id: number): void {
    if (id !== 0) { this.goaway(E_PROTOCOL_ERROR, 'PING on a stream'); return }
    if (len !== 8) { this.goaway(E_FRAME_SIZE_ERROR, 'PING size'); return }
    if ((flags & F_ACK) !== 0) { this.#pingSentMs = -1; return }
    this.#queue(pingFrame(true, b.subarray(start, start + 8)))
  }

  #onGoaway (b: Buffer, start: number, len: number, id: number): void {
    if (id !== 0) { this.goaway(E_PROTOCOL_ERROR, 'GOAWAY on a stream'); return }
    if (len < 8) { this.goaway(E_FRAME_SIZE_ERROR, 'GOAWAY size'); return }
    const last = b.readUInt32BE(start) & 0x7fffffff
    this.goawayReceived = last
    this.owner.onGoaway(this, last)
    if (!this.server) {
      // Streams past `last` were never processed: the exchange may send them again elsewhere.
      for (const s of [...this.streams.values()]) {
        if (s.id <= last) continue
        s.refused = true
        this.#close(s)
        s.sink?.onReset(s, E_REFUSED_STREAM)
      }
    }
    if (this.streams.size === 0) this.#end()
  }

  #onWindowUpdate (b: Buffer, start: number, len: number, id: number): void {
    if (len !== 4) { this.goaway(E_FRAME_SIZE_ERROR, 'WINDOW_UPDATE size'); return }
    const inc = b.readUInt32BE(start) & 0x7fffffff
    if (id === 0) {
      if (inc === 0) { this.goaway(E_PROTOCOL_ERROR, 'WINDOW_UPDATE of 0'); return }
      this.sendWindow += inc
      if (this.sendWindow > MAX_WINDOW) { this.goaway(E_FLOW_CONTROL_ERROR, 'connection window over 2^31-1'); return }
      this.#flushBlocked()
      return
    }
    const s = this.streams.get(id)
    if (s === undefined) return
    if (inc === 0) { this.#streamError(id, E_PROTOCOL_ERROR); return }
    s.sendWindow += inc
    if (s.sendWindow > MAX_WINDOW) { this.#streamError(id, E_FLOW_CONTROL_ERROR); return }
    if (s.pending.length > 0 || s.pendingTrailers !== null) this.#flushStream(s)
  }

  // ---- flow control given back ----

  #grantConn (n: number): void {
    this.#connUnacked += n
    if (this.#connUnacked >= this.opts.window >> 1) {
      this.recvWindow += this.#connUnacked
      this.#queue(windowUpdateFrame(0, this.#connUnacked))
      this.#connUnacked = 0
    }
  }

  /** `n` DATA bytes received on `s` were written onward: the peer may send as many more. */
  grant (s: RelayStream, n: number): void {
    if (this.closed || n <= 0) return
    this.#grantConn(n)
    if (s.remoteEnded || s.closed) return
    s.unacked += n
    if (s.unacked >= this.opts.window >> 1) {
      s.recvWindow += s.unacked
      this.#queue(windowUpdateFrame(s.id, s.unacked))
      s.unacked = 0
    }
  }

  // ---- sending ----

  /** Client role: opens a stream with this header block. null when the connection takes no new streams. */
  request (fields: readonly string[], end: boolean, sink: StreamSink): RelayStream | null {
    if (this.closed || this.goawayReceived >= 0 || this.goawaySent) return null
    const id = this.nextStreamId
    this.nextStreamId += 2
    const s = new RelayStream(this, id, this.peerInitialWindow, this.opts.window)
    s.sink = sink
    this.streams.set(id, s)
    this.sendHeaders(s, fields, end)
    return s
  }

  sendHeaders (s: RelayStream, fields: readonly string[], end: boolean): void {
    if (s.closed || s.localEnded) return
    let buf = SCRATCH
    let n = encodeHeaders(fields, buf, 9)
    if (n < 0) {
      let est = 64
      for (const f of fields) est += f.length + 6
      buf = Buffer.allocUnsafe(est + 9)
      n = encodeHeaders(fields, buf, 9)
      if (n < 0) throw new Error('header block estimate too small')
    }
    const blockLen = n - 9
    const endFlag = end ? F_END_STREAM : 0
    if (blockLen <= this.peerMaxFrame) {
      writeFrameHeader(buf, 0, blockLen, T_HEADERS, F_END_HEADERS | endFlag, s.id)
      this.#queue(Buffer.from(buf.subarray(0, n)))
    } else {
      // HEADERS then CONTINUATION frames, back to back (nothing may come between them).
      let p = 9
      let first = true
      while (p < n) {
        const take = Math.min(this.peerMaxFrame, n - p)
        const last = p + take >= n
        const f = Buffer.allocUnsafe(9 + take)
        writeFrameHeader(f, 0, take, first ? T_HEADERS : T_CONTINUATION, (first ? endFlag : 0) | (last ? F_END_HEADERS : 0), s.id)
        buf.copy(f, 9, p, p + take)
        this.#queue(f)
        p += take
        first = false
      }
    }
    if (end) this.#localEnd(s)
  }

  /** DATA on `s`; what the peer's windows do not take now waits in the stream, in order. */
  sendData (s: RelayStream, data: Buffer, end: boolean): void {
    if (s.closed || s.localEnded) return
    if (s.pending.length > 0 || s.pendingTrailers !== null) {
      s.pending.push(data)
      if (end) s.pendingEnd = true
      return
    }
    const room = Math.min(this.sendWindow, s.sendWindow)
    if (data.length <= room) { this.#writeData(s, data, end); return }
    if (room > 0) { this.#writeData(s, data.subarray(0, room), false); data = data.subarray(room) }
    s.pending.push(data)
    if (end) s.pendingEnd = true
    this.#blocked.add(s)
  }

  /** Trailers: sent after the DATA still waiting, and they end the stream. */
  sendTrailers (s: RelayStream, fields: string[]): void {
    if (s.closed || s.localEnded) return
    if (s.pending.length > 0) { s.pendingTrailers = fields; return }
    this.sendHeaders(s, fields, true)
  }

  #writeData (s: RelayStream, data: Buffer, end: boolean): void {
    const max = this.peerMaxFrame
    let p = 0
    do {
      const take = Math.min(max, data.length - p)
      const last = p + take >= data.length
      const flags = last && end ? F_END_STREAM : 0
      const h = Buffer.allocUnsafe(9)
      writeFrameHeader(h, 0, take, T_DATA, flags, s.id)
      this.#queue(h)
      if (take > 0) this.#queue(take === data.length ? data : data.subarray(p, p + take))
      p += take
    } while (p < data.length)
    const n = data.length
    this.sendWindow -= n
    s.sendWindow -= n
    s.sentBytes += n
    const src = s.source
    if (src !== null && n > 0) {
      let g = n
      if (s.skipGrant > 0) { const k = Math.min(s.skipGrant, g); s.skipGrant -= k; g -= k }
      if (g > 0) {
        // Given back once the bytes are on their way: while our socket holds more than SOCKET_HIGH_WATER
        // unsent, the sender waits for its drain (so a slow reader holds up its sender, hop by hop).
        if (this.socket.writableLength + this.#outBytes <= SOCKET_HIGH_WATER) src.conn.grant(src, g)
        else this.#deferGrant(src, g)
      }
    }
    if (end) this.#localEnd(s)
  }

  #flushStream (s: RelayStream): void {
    while (s.pending.length > 0) {
      const room = Math.min(this.sendWindow, s.sendWindow)
      const c = s.pending[0] as Buffer
      const isLast = s.pending.length === 1
      if (c.length <= room) {
        s.pending.shift()
        this.#writeData(s, c, isLast && s.pendingEnd)
        if (s.closed) return
        continue
      }
      if (room > 0) {
        this.#writeData(s, c.subarray(0, room), false)
        s.pending[0] = c.subarray(room)
      }
      this.#blocked.add(s)
      return
    }
    this.#blocked.delete(s)
    const t = s.pendingTrailers
    if (t !== null) { s.pendingTrailers = null; this.sendHeaders(s, t, true) }
  }

  #flushBlocked (): void {
    if (this.#blocked.size === 0) return
    for (const s of [...this.#blocked]) {
      if (this.sendWindow <= 0) return
      this.#flushStream(s)
    }
  }

  #localEnd (s: RelayStream): void {
    s.localEnded = true
    if (s.rstAfterEnd && !s.remoteEnded) {
      this.#queue(rstStreamFrame(s.id, E_NO_ERROR))
      this.#close(s)
      s.sink?.onClosed(s)
      return
    }
    this.#maybeClosed(s)
  }

  /** Resets a stream from our side (the sink is not told: it asked). */
  reset (s: RelayStream, code: number): void {
    if (s.closed) return
    this.#queue(rstStreamFrame(s.id, code))
    this.#close(s)
  }

  /** A stream error of ours: RST_STREAM to the peer, and the sink is told. */
  #streamError (id: number, code: number): void {
    const s = this.streams.get(id)
    this.#queue(rstStreamFrame(id, code))
    if (s === undefined) return
    this.#close(s)
    s.sink?.onReset(s, code)
  }

  #maybeClosed (s: RelayStream): void {
    if (!s.closed && s.localEnded && s.remoteEnded) {
      this.#close(s)
      s.sink?.onClosed(s)
    }
  }

  #close (s: RelayStream): void {
    if (s.closed) return
    s.closed = true
    s.localEnded = true
    const src = s.source
    if (src !== null && s.pending.length > 0) {
      // DATA relayed here that will never be written: given back to its sender, or its connection window shrinks.
      let n = 0
      for (const c of s.pending) n += c.length
      const k = Math.min(s.skipGrant, n)
      s.skipGrant -= k
      src.conn.grant(src, n - k)
    }
    s.pending = []
    s.pendingTrailers = null
    this.streams.delete(s.id)
    this.#blocked.delete(s)
    if (this.server) this.peerStreams--
    if (this.streams.size === 0 && (this.goawaySent || this.goawayReceived >= 0)) this.#end()
  }

  // ---- connection ----

  /**
   * GOAWAY with the last stream id we took. NO_ERROR (drain): open streams run to their end, then the
   * connection closes. Any other code: the connection ends now, and every open stream with it.
   */
  goaway (code: number, debug = ''): void {
    if (this.closed) return
    if (!this.goawaySent || code !== E_NO_ERROR) this.#queue(goawayFrame(this.lastPeerStreamId, code, debug))
    this.goawaySent = true
    if (code !== E_NO_ERROR) { this.#fail(); return }
    if (this.streams.size === 0) this.#end()
  }

  /** Flushes what is queued and closes the socket; open streams are reset toward their sinks. */
  #fail (): void {
    this.flush()
    this.#end()
  }

  #end (): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.socket.end()
    const t = setTimeout(() => this.socket.destroy(), 1000)
    t.unref()
    this.socket.once('close', () => clearTimeout(t))
    this.#resetAll()
  }

  /** Closes now, without GOAWAY. */
  destroy (): void {
    this.socket.destroy()
    this.#onSocketClose()
  }

  #resetAll (): void {
    if (this.streams.size === 0) return
    const list = [...this.streams.values()]
    for (const s of list) {
      // A request stream whose HEADERS never left us reached nobody.
      if (!this.#connected) s.refused = true
      this.#close(s)
      s.sink?.onReset(s, E_CANCEL_OR_CLOSED)
    }
  }

  #onSocketClose (): void {
    this.closed = true
    this.#out = []
    this.#resetAll()
    if (!this.#ownerTold) { this.#ownerTold = true; this.owner.onClosed(this) }
  }

  /** Liveness, driven by the owner's sweep: an idle connection is PINGed, one that does not answer is closed. */
  sweep (nowMs: number, pingMs: number): void {
    if (this.closed) return
    // Anything read proves the peer alive, a PING's answer or not.
    if (this.#readSinceSweep) { this.#readSinceSweep = false; this.#lastReadMs = nowMs; this.#pingSentMs = -1 }
    if (this.#pingSentMs >= 0) {
      if (nowMs - this.#pingSentMs >= pingMs) { this.diedSilent = true; this.destroy() }
      return
    }
    if (nowMs - this.#lastReadMs >= pingMs) {
      this.#pingSentMs = nowMs
      this.#queue(pingFrame(false, Buffer.alloc(8)))
    }
  }

  get idle (): boolean { return this.streams.size === 0 }
}

/** The code an open stream sees when its connection went away (Go's ReverseProxy sees an error either way). */
const E_CANCEL_OR_CLOSED = 0x8
