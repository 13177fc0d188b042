import fs from 'node:fs'
import net from 'node:net'
import type { AcceptPending } from './native/loadAcceptPending.js'

export interface MultiAcceptOptions {
  /** As the server's own options: accepted sockets arrive paused, without Nagle, half-open allowed. */
  pauseOnConnect: boolean
  noDelay: boolean
  allowHalfOpen: boolean
  /** Most connections taken from the queue per libuv accept; more wait for the next turn. Default 256. */
  max?: number
}

/** What multiAccept() took from the accept queue itself, beyond libuv's one per turn. */
export interface MultiAcceptState {
  accepted: number
}

function listeningFd (server: net.Server): number {
  const handle: unknown = Reflect.get(server, '_handle')
  const fd: unknown = handle === null || handle === undefined ? undefined : Reflect.get(handle, 'fd')
  return typeof fd === 'number' ? fd : -1
}

/**
 * Node (libuv >= 1.45) accepts one connection per event-loop turn. Under load a turn takes milliseconds,
 * so a burst of new connections waits in the kernel's queue, unread, for hundreds of milliseconds. After
 * each connection libuv accepts, this takes the rest that are already queued (acceptPending, native)
 * and emits each on the server as 'connection' (the documented way to hand a server a socket), so they
 * are served in the same turn. Register it after the server's own 'connection' listener.
 */
export function multiAccept (server: net.Server, acceptPending: AcceptPending, opts: MultiAcceptOptions): MultiAcceptState {
  const state: MultiAcceptState = { accepted: 0 }
  const max = opts.max ?? 256
  let draining = false
  server.on('connection', () => {
    // The sockets emitted below come back through this listener too.
    if (draining) return
    const fd = listeningFd(server)
    if (fd < 0) return
    draining = true
    try {
      for (const c of acceptPending(fd, max)) {
        let socket: net.Socket
        try {
          // pauseOnCreate is what net.Server passes for pauseOnConnect; @types/node does not list it.
          socket = new net.Socket({ fd: c, readable: true, writable: true, allowHalfOpen: opts.allowHalfOpen, pauseOnCreate: opts.pauseOnConnect } as net.SocketConstructorOpts)
        } catch {
          fs.closeSync(c)
          continue
        }
        if (opts.noDelay) socket.setNoDelay(true)
        state.accepted++
        server.emit('connection', socket)
      }
    } finally {
      draining = false
    }
  })
  return state
}
