import type net from 'node:net'

/**
 * Writes a Buffer straight to a socket's libuv handle when nothing is queued before it, instead of through
 * net.Socket's Writable (which, for every write, builds a WriteWrap, updates its state, and schedules a
 * process.nextTick for the write's callback). On the proxy's HTTP/1.1 path there are two writes per request
 * (the head upstream, the response to the client) and almost every one completes at once in libuv's
 * uv_try_write, so the Writable layer is pure overhead there.
 *
 * Order and shutdown stay right: a direct write is taken only when the Writable holds nothing (nothing
 * buffered, not corked, not connecting, not ended), and whatever goes through socket.write() or end() later
 * is queued by libuv behind the direct bytes (uv_shutdown waits for libuv's write queue). When libuv could
 * not take every byte at once it keeps the rest queued, holding the Buffer; `onDrained` is then called once
 * that queue is empty, which is when the caller resumes whatever it paused. A write error destroys the
 * socket with it, as net.Socket would ('error', then 'close').
 *
 * The handle API (writeBuffer, writeQueueSize, WriteWrap from process.binding('stream_wrap')) is Node's
 * internal stream_base interface, stable since Node 12; when it is not there, every write goes through
 * socket.write() and the proxy behaves exactly as before.
 */

interface StreamHandle {
  writeBuffer (req: WriteReq, data: Uint8Array): number
  readonly writeQueueSize: number
}

interface WriteReq {
  handle?: unknown
  buffer?: unknown
  oncomplete?: (status: number) => void
  async?: boolean
}

type WriteWrapCtor = new () => WriteReq
type Ctor = abstract new (...args: never[]) => unknown

function binding (name: string): Record<string, unknown> | null {
  try {
    return Reflect.apply(Reflect.get(process, 'binding') as (name: string) => unknown, process, [name]) as Record<string, unknown>
  } catch {
    return null
  }
}

function load (): { WriteWrap: WriteWrapCtor; TCP: Ctor } | null {
  const ww = binding('stream_wrap')?.WriteWrap
  const tcp = binding('tcp_wrap')?.TCP
  if (typeof ww !== 'function' || typeof tcp !== 'function') return null
  // Without a queue size there is no telling a queued write from a finished one (onDrained would never run).
  const proto = (tcp as { prototype: object }).prototype
  if (!('writeQueueSize' in proto) || typeof Reflect.get(proto, 'writeBuffer') !== 'function') return null
  return { WriteWrap: ww as WriteWrapCtor, TCP: tcp as Ctor }
}

const internals = load()
const WriteWrap: WriteWrapCtor | null = internals?.WriteWrap ?? null
/** Only plain TCP handles: a TLS socket's handle (TLSWrap) writes through OpenSSL and reports no queue size. */
const TCP: Ctor | null = internals?.TCP ?? null

/** A write request libuv did not keep: reusable for the next direct write (libuv keeps only queued ones). */
let spare: WriteReq | null = null

interface WritableInternals {
  _handle: StreamHandle | null
  connecting: boolean
  writableLength: number
  writableCorked: number
  writableEnded: boolean
  destroyed: boolean
}

/**
 * Writes `data` to `socket`. Returns true when every byte went to the kernel now; false when some wait,
 * queued in libuv or in the Writable (then `onDrained` runs once, when they have gone, for a direct write;
 * for a Writable write the socket's own 'drain' event follows, as before).
 */
export function writeDirect (socket: net.Socket, data: Buffer, onDrained: () => void): boolean {
  const s = socket as unknown as WritableInternals
  const handle = s._handle
  if (WriteWrap === null || handle === null || !(handle instanceof (TCP as Ctor)) || s.connecting || s.writableLength !== 0 || s.writableCorked !== 0 || s.writableEnded || s.destroyed) {
    return socket.write(data)
  }
  const req = spare ?? new WriteWrap()
  spare = null
  const err = handle.writeBuffer(req, data)
  if (err !== 0) {
    spare = req
    socket.destroy(errnoError(err))
    return false
  }
  if (handle.writeQueueSize === 0) {
    // Done at once: libuv made no write request of its own, so `req` was not kept.
    spare = req
    return true
  }
  // libuv queued the rest and holds `data` until it has written it.
  req.handle = handle
  req.buffer = data
  req.oncomplete = (status: number) => {
    req.buffer = null
    if (status < 0) { socket.destroy(errnoError(status)); return }
    if (handle.writeQueueSize === 0) onDrained()
  }
  return false
}

function errnoError (code: number): Error {
  const e = new Error(`write failed (${code})`) as Error & { errno: number; code: string }
  e.errno = code
  e.code = 'EWRITE'
  return e
}
