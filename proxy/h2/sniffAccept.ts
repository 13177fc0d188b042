import { adoptSocket } from '../adoptSocket.js'
import type { ClientConn } from '../clientConnection.js'
import type { AcceptHandler } from '../queueServer.js'
import { firstBytes } from './firstBytes.js'
import type { H2Front } from './h2Server.js'
import type { RelayFront } from './relay/relayFront.js'

/**
 * The serving port's accept handler when HTTP/2 is on (QueueServer's onAccept seam). The accepted socket
 * is adopted for `onread` reads at once, as serveHttp1 would adopt it, and held by the QueueServer (header
 * timeout from the accept, closed on shutdown) until firstBytes() has routed it, once: HTTP/1.1 goes to
 * serveHttp1 with the bytes read so far, the preface to the relay engine (RelayFront.handle) or to node:http2
 * (H2Front.handle), an h2c upgrade
 * request to H2Front.upgrade. After an HTTP/1.1 routing each read is passed on with the same one test that
 * serveHttp1's own read callback makes, so the HTTP/1.1 path costs nothing more per request.
 */
export function sniffAccept (h2: H2Front, relay: RelayFront | null = null): AcceptHandler {
  return (accepted, queue) => {
    let conn: ClientConn | null = null
    let route: ((chunk: Buffer) => void) | null = null
    // Reads arrive from the event loop, after `route` is set below.
    const socket = adoptSocket(accepted, true, (chunk) => {
      if (conn !== null) conn.onData(chunk)
      else if (route !== null) route(chunk)
    })
    queue.hold(socket)
    route = firstBytes(socket, {
      http1: (buf) => { route = null; conn = queue.serveHttp1(socket, { adopt: false, first: buf }) },
      // Prior knowledge: the relay engine when it is on (it reads through `route`), else node:http2.
      h2: (buf) => {
        queue.release(socket)
        if (relay !== null) { route = relay.handle(socket, buf); return }
        route = null
        h2.handle(socket, buf)
      },
      h2Upgrade: (u, buf) => { queue.release(socket); route = h2.upgrade(socket, u, buf) }
    })
  }
}
