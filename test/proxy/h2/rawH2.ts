import net from 'node:net'
import { PREFACE } from '../../../proxy/h2/preface.js'

/** Hand-made HTTP/2 frames for the abuse tests: what a well-behaved client library will not send. */
export const T_DATA = 0
export const T_HEADERS = 1
export const T_RST_STREAM = 3
export const T_SETTINGS = 4
export const T_GOAWAY = 7
export const T_CONTINUATION = 9
export const F_END_STREAM = 0x1
export const F_END_HEADERS = 0x4
export const F_ACK = 0x1

export function frame (type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9)
  h.writeUIntBE(payload.length, 0, 3)
  h[3] = type
  h[4] = flags
  h.writeUInt32BE(stream & 0x7fffffff, 5)
  return Buffer.concat([h, payload])
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt (first: number, prefixBits: number, n: number): number[] {
  const max = (1 << prefixBits) - 1
  if (n < max) return [first | n]
  const out = [first | max]
  n -= max
  while (n >= 128) { out.push((n % 128) + 128); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

/** A header block of literals without indexing and without Huffman, so it leaves the HPACK tables alone. */
export function headerBlock (headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = []
  for (const [k, v] of headers) {
    const kb = Buffer.from(k, 'latin1')
    const vb = Buffer.from(v, 'latin1')
    parts.push(Buffer.from([0x00]), Buffer.from(hpackInt(0, 7, kb.length)), kb, Buffer.from(hpackInt(0, 7, vb.length)), vb)
  }
  return Buffer.concat(parts)
}

export function requestBlock (path: string, extra: Array<[string, string]> = []): Buffer {
  return headerBlock([[':method', 'GET'], [':scheme', 'http'], [':authority', 'x'], [':path', path], ...extra])
}

export function settingsFrame (entries: Array<[number, number]>): Buffer {
  const p = Buffer.alloc(entries.length * 6)
  entries.forEach(([id, v], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(v, i * 6 + 2) })
  return frame(T_SETTINGS, 0, 0, p)
}

export function rstFrame (stream: number, code: number): Buffer {
  const p = Buffer.alloc(4)
  p.writeUInt32BE(code, 0)
  return frame(T_RST_STREAM, 0, stream, p)
}

export interface RawResult {
  goaway: number | null
  goawayDebug: string
  /** stream id -> RST_STREAM code the server sent */
  resets: Map<number, number>
  /** stream ids the server sent HEADERS on */
  headers: Set<number>
  closed: boolean
  bytes: number
}

/**
 * Opens a TCP connection, sends the preface (unless `preface: false`) and `send`'s frames, and reads frames
 * back until the server closes or `idleMs` passes quietly. `send` may be called again through `more`.
 */
export function rawSession (port: number, opts: { preface?: boolean; idleMs?: number; maxMs?: number } = {}): { write: (b: Buffer) => boolean; done: Promise<RawResult>; socket: net.Socket } {
  const s = net.connect({ port, host: '127.0.0.1' })
  const res: RawResult = { goaway: null, goawayDebug: '', resets: new Map(), headers: new Set(), closed: false, bytes: 0 }
  let buf = Buffer.alloc(0)
  let timer: NodeJS.Timeout | undefined
  let resolveDone: (r: RawResult) => void = () => {}
  const done = new Promise<RawResult>((resolve) => { resolveDone = resolve })
  const finish = (): void => { clearTimeout(timer); clearTimeout(hard); s.destroy(); resolveDone(res) }
  const arm = (): void => { clearTimeout(timer); timer = setTimeout(finish, opts.idleMs ?? 500) }
  const hard = setTimeout(finish, opts.maxMs ?? 10_000)
  s.on('data', (d: Buffer) => {
    res.bytes += d.length
    buf = Buffer.concat([buf, d])
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3)
      if (buf.length < 9 + len) break
      const type = buf[3] as number
      const stream = buf.readUInt32BE(5) & 0x7fffffff
      const p = buf.subarray(9, 9 + len)
      if (type === T_GOAWAY && res.goaway === null) { res.goaway = p.readUInt32BE(4); res.goawayDebug = p.subarray(8).toString() }
      if (type === T_RST_STREAM) res.resets.set(stream, p.readUInt32BE(0))
      if (type === T_HEADERS) res.headers.add(stream)
      if (type === T_SETTINGS && ((buf[4] as number) & F_ACK) === 0) s.write(frame(T_SETTINGS, F_ACK, 0))
      buf = buf.subarray(9 + len)
    }
    arm()
  })
  s.on('close', () => { res.closed = true; finish() })
  s.on('error', () => {})
  if (opts.preface !== false) s.write(Buffer.concat([PREFACE, settingsFrame([])]))
  arm()
  return { write: (b) => s.write(b), done, socket: s }
}
