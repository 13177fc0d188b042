import net from 'node:net'
import { copyingRead } from './copyingRead.js'

/**
 * Re-wraps an accepted connection (accepted with `pauseOnConnect`, so nothing was read yet) in a
 * net.Socket that reads with `onread`: no 64 KiB allocation per read and no Readable machinery
 * ('data' events) in between. net.Server has no `onread` option, so the handle moves to a new
 * Socket; the accepted one is let go without its handle (its destroy() closes nothing).
 * Each read is copied out of the shared buffer before `onChunk` sees it, small ones into Node's
 * pooled slab, so a chunk may be kept or queued for writing.
 */
export function adoptSocket (accepted: net.Socket, allowHalfOpen: boolean, onChunk: (chunk: Buffer) => void): net.Socket {
  const handle: unknown = Reflect.get(accepted, '_handle')
  if (handle === null || handle === undefined) return accepted
  Reflect.set(accepted, '_handle', null)
  accepted.destroy()
  // `handle` and `onread` are net.Socket constructor options that @types/node does not list there.
  const opts: net.SocketConstructorOpts & { handle: unknown, onread: net.OnReadOpts } = {
    handle,
    allowHalfOpen,
    readable: true,
    writable: true,
    onread: copyingRead(onChunk)
  }
  return new net.Socket(opts)
}
