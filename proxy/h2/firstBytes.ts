import type net from 'node:net'
import { parseH2cUpgrade, type H2cUpgrade } from './h2cUpgrade.js'
import { EMPTY_SETTINGS_FRAME, goawayFrame, H2_PROTOCOL_ERROR, sniffPreface, SNIFF_BAD, SNIFF_H2, SNIFF_HTTP1, SNIFF_MORE } from './preface.js'

export interface FirstBytesRoutes {
  /** Not HTTP/2: `buf` (everything read so far) goes to the HTTP/1.1 path. */
  http1 (buf: Buffer): void
  /** The HTTP/2 preface: the socket, with `buf` still unread, goes to node:http2. */
  h2 (buf: Buffer): void
  /** An HTTP/1.1 request that asks for the h2c upgrade (h2cUpgrade.ts); absent: served as HTTP/1.1. */
  h2Upgrade?: (u: H2cUpgrade, buf: Buffer) => void
}

/**
 * Reads the first bytes of a serving-port connection and decides, once, whether it speaks HTTP/1.1 or HTTP/2
 * with prior knowledge (Go's h2c.NewHandler makes the same choice from the request line `PRI * HTTP/2.0`).
 * Returns the reader for the connection's first chunks; after it routed, the caller stops calling it.
 * A preface that starts right and then differs gets SETTINGS + GOAWAY(PROTOCOL_ERROR) and a close
 * (RFC 9113 §3.4). One that stalls part-way, or a connection that sends nothing, is the caller's to bound:
 * sniffAccept.ts holds the socket in its QueueServer, which closes it at the header timeout from the accept.
 */
export function firstBytes (socket: net.Socket, routes: FirstBytesRoutes): (chunk: Buffer) => void {
  let held: Buffer | null = null
  return (chunk) => {
    const buf = held === null ? chunk : Buffer.concat([held, chunk])
    const r = sniffPreface(buf)
    if (r === SNIFF_MORE) { held = buf; return }
    held = null
    if (r === SNIFF_HTTP1) {
      const u = routes.h2Upgrade === undefined ? null : parseH2cUpgrade(buf)
      if (u !== null && routes.h2Upgrade !== undefined) routes.h2Upgrade(u, buf)
      else routes.http1(buf)
    }
    else if (r === SNIFF_H2) routes.h2(buf)
    else if (r === SNIFF_BAD) {
      socket.end(Buffer.concat([EMPTY_SETTINGS_FRAME, goawayFrame(0, H2_PROTOCOL_ERROR, 'invalid connection preface')]))
      const t = setTimeout(() => socket.destroy(), 1000)
      t.unref()
      socket.once('close', () => clearTimeout(t))
    }
  }
}
