/**
 * The HTTP/2 client connection preface (RFC 9113 §3.4) and how the serving port tells it from HTTP/1.1.
 * Pure: no I/O. The first bytes of each connection are checked against it once; nothing after that.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
/** `PRI * HTTP/2.0\r\n`: a connection that got this far meant HTTP/2, so a mismatch later is a bad preface. */
const REQUEST_LINE_LEN = 16

export const SNIFF_HTTP1 = 0
export const SNIFF_H2 = 1
/** Too few bytes to tell; wait for more. */
export const SNIFF_MORE = 2
/** It began as the preface and then differed: a connection error of type PROTOCOL_ERROR. */
export const SNIFF_BAD = 3
export type SniffResult = typeof SNIFF_HTTP1 | typeof SNIFF_H2 | typeof SNIFF_MORE | typeof SNIFF_BAD

/** Classifies the first bytes a client sent. The common HTTP/1.1 case is decided on the first byte. */
export function sniffPreface (buf: Uint8Array): SniffResult {
  const n = Math.min(buf.length, PREFACE.length)
  for (let i = 0; i < n; i++) {
    if (buf[i] !== PREFACE[i]) return i < REQUEST_LINE_LEN ? SNIFF_HTTP1 : SNIFF_BAD
  }
  return n === PREFACE.length ? SNIFF_H2 : SNIFF_MORE
}

export const H2_NO_ERROR = 0x0
export const H2_PROTOCOL_ERROR = 0x1
export const H2_INTERNAL_ERROR = 0x2
export const H2_REFUSED_STREAM = 0x7
export const H2_CANCEL = 0x8
export const H2_ENHANCE_YOUR_CALM = 0xb

/** An empty SETTINGS frame: the server preface (RFC 9113 §3.4) must come before a GOAWAY. */
export const EMPTY_SETTINGS_FRAME = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])

/** A GOAWAY frame (RFC 9113 §6.8) on stream 0, for connections that never became an HTTP/2 session. */
export function goawayFrame (lastStreamId: number, code: number, debug = ''): Buffer {
  const dbg = Buffer.from(debug, 'utf8')
  const f = Buffer.alloc(9 + 8 + dbg.length)
  f.writeUIntBE(8 + dbg.length, 0, 3)
  f[3] = 0x7
  f[4] = 0
  f.writeUInt32BE(0, 5)
  f.writeUInt32BE(lastStreamId & 0x7fffffff, 9)
  f.writeUInt32BE(code, 13)
  dbg.copy(f, 17)
  return f
}
