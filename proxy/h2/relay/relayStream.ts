import type { RelayConn } from './relayConn.js'

/** What a stream tells the one that relays it (an exchange). */
export interface StreamSink {
  /** A header block: the response or a 1xx (client side), or trailers (`end` is then true). */
  onHeaders (s: RelayStream, fields: string[], end: boolean): void
  onData (s: RelayStream, data: Buffer, end: boolean): void
  /** RST_STREAM from the peer, a stream error, or the connection went away; `s.refused` when the peer never processed it. */
  onReset (s: RelayStream, code: number): void
  /** Both directions ended normally. */
  onClosed (s: RelayStream): void
}

/** One HTTP/2 stream on one hop: its state and flow-control windows, nothing else. */
export class RelayStream {
  readonly id: number
  readonly conn: RelayConn
  sink: StreamSink | null = null
  /** What we may still send (the peer's window for this stream). */
  sendWindow: number
  /** What the peer may still send us on this stream. */
  recvWindow: number
  /** DATA bytes received and passed on but not yet given back with WINDOW_UPDATE. */
  unacked = 0
  /** DATA waiting for the peer's window, in order; `pendingEnd`: the last of it ends the stream. */
  pending: Buffer[] = []
  pendingEnd = false
  /** Trailers to send once `pending` is written. */
  pendingTrailers: string[] | null = null
  /** We sent END_STREAM (or RST_STREAM). */
  localEnded = false
  /** The peer sent END_STREAM. */
  remoteEnded = false
  closed = false
  /** RST_STREAM(NO_ERROR) once our END_STREAM is written, if the peer is still sending (RFC 9113 §8.1). */
  rstAfterEnd = false
  /** The peer never processed this stream (past a GOAWAY's last stream id, or never sent). */
  refused = false
  /** The stream whose DATA this one carries onward: bytes written here are given back on it. */
  source: RelayStream | null = null
  /** Bytes written here that were given back on `source` already (a body sent again on a retry). */
  skipGrant = 0
  /** DATA bytes written on this stream. */
  sentBytes = 0
  /** Header blocks received (1: the request or response head; 2: trailers). */
  blocks = 0

  constructor (conn: RelayConn, id: number, sendWindow: number, recvWindow: number) {
    this.conn = conn
    this.id = id
    this.sendWindow = sendWindow
    this.recvWindow = recvWindow
  }
}
