import net from 'node:net'

/** Client reads land here (one buffer for every client connection); each read is copied out at once. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

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
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        const chunk = Buffer.allocUnsafe(n)
        chunk.set(buf.subarray(0, n))
        onChunk(chunk)
        return true
      }
    }
  }
  return new net.Socket(opts)
}
