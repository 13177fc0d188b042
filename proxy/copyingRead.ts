import type net from 'node:net'

/**
 * Every socket's reads land in this one buffer (no 64 KiB allocation per read, no Readable machinery in between);
 * each read is copied out before the callback returns, so sharing it between sockets is safe.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/**
 * `onread` options for a net.Socket: each read is copied out of the shared buffer, small ones into Node's pooled
 * slab, before `onChunk` sees it, so a chunk may be kept or queued for writing.
 */
export function copyingRead (onChunk: (chunk: Buffer) => void): net.OnReadOpts {
  return {
    buffer: READ_BUFFER,
    callback: (n: number, buf: Uint8Array) => {
      const chunk = Buffer.allocUnsafe(n)
      chunk.set(buf.subarray(0, n))
      onChunk(chunk)
      return true
    }
  }
}
