/** HTTP/2 frame types, flags, settings and error codes (RFC 9113 §6, §7), and builders of small frames. */
export const T_DATA = 0x0
export const T_HEADERS = 0x1
export const T_PRIORITY = 0x2
export const T_RST_STREAM = 0x3
export const T_SETTINGS = 0x4
export const T_PUSH_PROMISE = 0x5
export const T_PING = 0x6
export const T_GOAWAY = 0x7
export const T_WINDOW_UPDATE = 0x8
export const T_CONTINUATION = 0x9

export const F_END_STREAM = 0x1
export const F_ACK = 0x1
export const F_END_HEADERS = 0x4
export const F_PADDED = 0x8
export const F_PRIORITY = 0x20

export const S_HEADER_TABLE_SIZE = 0x1
export const S_ENABLE_PUSH = 0x2
export const S_MAX_CONCURRENT_STREAMS = 0x3
export const S_INITIAL_WINDOW_SIZE = 0x4
export const S_MAX_FRAME_SIZE = 0x5
export const S_MAX_HEADER_LIST_SIZE = 0x6

export const E_NO_ERROR = 0x0
export const E_PROTOCOL_ERROR = 0x1
export const E_INTERNAL_ERROR = 0x2
export const E_FLOW_CONTROL_ERROR = 0x3
export const E_SETTINGS_TIMEOUT = 0x4
export const E_STREAM_CLOSED = 0x5
export const E_FRAME_SIZE_ERROR = 0x6
export const E_REFUSED_STREAM = 0x7
export const E_CANCEL = 0x8
export const E_COMPRESSION_ERROR = 0x9
export const E_ENHANCE_YOUR_CALM = 0xb

export const DEFAULT_WINDOW = 65535
export const DEFAULT_MAX_FRAME = 16384
export const MAX_WINDOW = 0x7fffffff

/** Writes a 9-octet frame header at `at`. */
export function writeFrameHeader (b: Buffer, at: number, length: number, type: number, flags: number, stream: number): void {
  b[at] = (length >>> 16) & 0xff
  b[at + 1] = (length >>> 8) & 0xff
  b[at + 2] = length & 0xff
  b[at + 3] = type
  b[at + 4] = flags
  b.writeUInt32BE(stream & 0x7fffffff, at + 5)
}

export function frameHeader (length: number, type: number, flags: number, stream: number): Buffer {
  const b = Buffer.allocUnsafe(9)
  writeFrameHeader(b, 0, length, type, flags, stream)
  return b
}

export function settingsFrame (entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const b = Buffer.allocUnsafe(9 + 6 * entries.length)
  writeFrameHeader(b, 0, 6 * entries.length, T_SETTINGS, 0, 0)
  entries.forEach(([id, v], i) => { b.writeUInt16BE(id, 9 + 6 * i); b.writeUInt32BE(v, 11 + 6 * i) })
  return b
}

export const SETTINGS_ACK = frameHeader(0, T_SETTINGS, F_ACK, 0)

export function windowUpdateFrame (stream: number, increment: number): Buffer {
  const b = Buffer.allocUnsafe(13)
  writeFrameHeader(b, 0, 4, T_WINDOW_UPDATE, 0, stream)
  b.writeUInt32BE(increment & 0x7fffffff, 9)
  return b
}

export function rstStreamFrame (stream: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(13)
  writeFrameHeader(b, 0, 4, T_RST_STREAM, 0, stream)
  b.writeUInt32BE(code >>> 0, 9)
  return b
}

export function pingFrame (ack: boolean, opaque: Buffer): Buffer {
  const b = Buffer.allocUnsafe(17)
  writeFrameHeader(b, 0, 8, T_PING, ack ? F_ACK : 0, 0)
  opaque.copy(b, 9, 0, 8)
  return b
}

export function goawayFrame (lastStreamId: number, code: number, debug = ''): Buffer {
  const dbg = Buffer.from(debug, 'utf8')
  const b = Buffer.allocUnsafe(17 + dbg.length)
  writeFrameHeader(b, 0, 8 + dbg.length, T_GOAWAY, 0, 0)
  b.writeUInt32BE(lastStreamId & 0x7fffffff, 9)
  b.writeUInt32BE(code >>> 0, 13)
  dbg.copy(b, 17)
  return b
}
