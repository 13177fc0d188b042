import { Duplex } from 'node:stream'
import type net from 'node:net'
import { PREFACE } from './preface.js'
import { H2_DROPPED_FIELDS } from '../hopByHop.js'

/**
 * The h2c upgrade (RFC 7540 §3.2, deprecated by RFC 9113 but accepted by Go's h2c.NewHandler, which the
 * queue-proxy uses): an HTTP/1.1 request with `Upgrade: h2c`, `Connection: Upgrade, HTTP2-Settings` and an
 * `HTTP2-Settings` header is answered `101 Switching Protocols`, and its response goes out as HTTP/2 stream 1.
 *
 * node:http2 has no API for a stream the server did not receive as HEADERS, so the request is turned into
 * one: a HEADERS frame for stream 1 (END_STREAM, literals without indexing, so the HPACK tables of both
 * sides stay as the client expects) is placed after the client's preface and first SETTINGS frame, and the
 * session sees an ordinary stream 1. A request body (Content-Length, up to MAX_UPGRADE_BODY, which fits the
 * default flow-control windows) is read first, as Go's h2c handler buffers it, and follows as DATA frames.
 * A chunked body, a larger one, or headers over one frame: not taken (served as HTTP/1.1).
 */
export const MAX_UPGRADE_BODY = 60_000

const HOP = new Set([...H2_DROPPED_FIELDS, 'host'])
const MAX_BLOCK = 16_000

function hpackInt (first: number, prefixBits: number, n: number, out: number[]): void {
  const max = (1 << prefixBits) - 1
  if (n < max) { out.push(first | n); return }
  out.push(first | max)
  n -= max
  while (n >= 128) { out.push((n % 128) + 128); n = Math.floor(n / 128) }
  out.push(n)
}

function literal (name: string, value: string, parts: Buffer[]): void {
  const nb = Buffer.from(name, 'latin1')
  const vb = Buffer.from(value, 'latin1')
  const a: number[] = [0x00]
  hpackInt(0, 7, nb.length, a)
  const b: number[] = []
  hpackInt(0, 7, vb.length, b)
  parts.push(Buffer.from(a), nb, Buffer.from(b), vb)
}

function tokens (v: string): string[] {
  return v.split(',').map((s) => s.trim().toLowerCase())
}

export interface H2cUpgrade {
  /** The HEADERS frame for stream 1. */
  headers: Buffer
  /** Where the request head ends in the bytes read so far. */
  headEnd: number
  /** Content-Length of the upgraded request, 0 for none. */
  bodyLength: number
}

/**
 * Recognises a bodiless h2c upgrade request at the start of `buf` (a connection's first bytes) and builds
 * its stream-1 HEADERS frame; null for anything else. Cheap for ordinary requests: one search for "h2c".
 */
export function parseH2cUpgrade (buf: Buffer): H2cUpgrade | null {
  if (buf.indexOf('h2c', 0, 'latin1') < 0 && buf.indexOf('H2C', 0, 'latin1') < 0) return null
  const end = buf.indexOf('\r\n\r\n', 0, 'latin1')
  if (end < 0) return null
  const lines = buf.toString('latin1', 0, end).split('\r\n')
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.1$/.exec(lines[0] ?? '')
  if (m === null) return null
  const method = m[1] as string
  const target = m[2] as string
  if (!target.startsWith('/') && target !== '*') return null
  const fields: Array<[string, string]> = []
  let upgrade = ''
  let connection = ''
  let host = ''
  let settings = false
  let bodyLength = 0
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    if (i <= 0 || /[\s]/.test(l.slice(0, i))) return null
    const name = l.slice(0, i).toLowerCase()
    const value = l.slice(i + 1).trim()
    if (name === 'upgrade') upgrade += ',' + value
    else if (name === 'connection') connection += ',' + value
    else if (name === 'host') host = value
    else if (name === 'http2-settings') settings = true
    else if (name === 'content-length') {
      if (!/^\d+$/.test(value) || Number(value) > MAX_UPGRADE_BODY || bodyLength > 0) return null
      bodyLength = Number(value)
    }
    else if (name === 'transfer-encoding') return null
    if (!HOP.has(name) && !(name === 'te' && value.toLowerCase() !== 'trailers') && name !== 'content-length') fields.push([name, name === 'te' ? 'trailers' : value])
  }
  // Go's isH2CUpgrade: Upgrade has h2c and Connection has HTTP2-Settings.
  if (!tokens(upgrade).includes('h2c') || !tokens(connection).includes('http2-settings') || !settings || host === '') return null
  const parts: Buffer[] = []
  literal(':method', method, parts)
  literal(':scheme', 'http', parts)
  literal(':authority', host, parts)
  literal(':path', target, parts)
  for (const [k, v] of fields) literal(k, v, parts)
  const block = Buffer.concat(parts)
  if (block.length > MAX_BLOCK) return null
  const h = Buffer.alloc(9)
  h.writeUIntBE(block.length, 0, 3)
  h[3] = 0x1
  h[4] = (bodyLength === 0 ? 0x1 : 0) | 0x4
  h.writeUInt32BE(1, 5)
  return { headers: Buffer.concat([h, block]), headEnd: end + 4, bodyLength }
}

/** The upgraded request's body as DATA frames on stream 1, the last with END_STREAM. */
export function bodyFrames (body: Buffer): Buffer {
  const out: Buffer[] = []
  for (let at = 0; at < body.length; at += 16_384) {
    const part = body.subarray(at, Math.min(body.length, at + 16_384))
    const h = Buffer.alloc(9)
    h.writeUIntBE(part.length, 0, 3)
    h[3] = 0x0
    h[4] = at + 16_384 >= body.length ? 0x1 : 0
    h.writeUInt32BE(1, 5)
    out.push(h, part)
  }
  return Buffer.concat(out)
}

export const SWITCHING_PROTOCOLS = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'

/**
 * The connection as node:http2 sees it after the upgrade: what the client sends, with the stream-1 HEADERS
 * frame placed after its preface and first frame (SETTINGS); what the session writes goes to the socket.
 * Bytes reach it through `feed`, from the serving port's read callback.
 */
export class UpgradedConnection extends Duplex {
  readonly socket: net.Socket
  #inject: Buffer | null
  #held: Buffer = Buffer.alloc(0)
  /** Body bytes of the upgraded request still to come, before the preface. */
  #bodyLeft: number
  #body: Buffer[] = []

  constructor (socket: net.Socket, stream1: Buffer, bodyLength = 0) {
    super({ allowHalfOpen: false })
    this.socket = socket
    this.#inject = stream1
    this.#bodyLeft = bodyLength
    socket.on('end', () => this.push(null))
    socket.on('close', () => this.destroy())
    socket.on('drain', () => this.emit('drained'))
    socket.on('error', () => {})
  }

  // node:http2 asks a non-socket stream for these.
  get remoteAddress (): string | undefined { return this.socket.remoteAddress }
  get remotePort (): number | undefined { return this.socket.remotePort }

  feed (chunk: Buffer): void {
    if (this.#inject === null) { this.push(chunk); return }
    if (this.#bodyLeft > 0) {
      const n = Math.min(this.#bodyLeft, chunk.length)
      this.#body.push(chunk.subarray(0, n))
      this.#bodyLeft -= n
      if (this.#bodyLeft === 0) this.#inject = Buffer.concat([this.#inject, bodyFrames(Buffer.concat(this.#body))])
      if (n === chunk.length) return
      chunk = chunk.subarray(n)
    }
    const buf = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk])
    // Preface, then one frame header and its payload.
    if (buf.length < PREFACE.length + 9) { this.#held = buf; return }
    const len = buf.readUIntBE(PREFACE.length, 3)
    const cut = PREFACE.length + 9 + len
    if (buf.length < cut) { this.#held = buf; return }
    const inject = this.#inject
    this.#inject = null
    this.#held = Buffer.alloc(0)
    this.push(buf.subarray(0, cut))
    this.push(inject)
    if (buf.length > cut) this.push(buf.subarray(cut))
  }

  override _read (): void { /* pushed from feed() */ }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb()
    else this.socket.once('drain', () => cb())
  }

  override _final (cb: (err?: Error | null) => void): void { this.socket.end(); cb() }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void { this.socket.destroy(); cb(err) }
}
