import { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { MqttFrameMeter, type FrameVerdict } from './mqttFrameMeter.js'

/**
 * A client's socket as aedes sees it, with MQTT framing followed on the way in: a packet larger than
 * `maxPacketBytes` (aedes and mqtt-packet have no such limit and buffer up to 256 MB) closes this connection
 * as soon as its fixed header arrives, before any of it reaches the parser. Writes go straight through
 * (corked writes stay one TCP segment); backpressure both ways (the socket is paused while aedes does not read).
 */
export class MeteredConnection extends Duplex {
  readonly remoteAddress: string | undefined

  constructor (private readonly socket: Socket, maxPacketBytes: number, onRefused: (verdict: Exclude<FrameVerdict, { ok: true }>) => void) {
    super({ allowHalfOpen: false })
    this.remoteAddress = socket.remoteAddress
    const meter = new MqttFrameMeter(maxPacketBytes)
    socket.on('data', (chunk: Buffer) => {
      const verdict = meter.feed(chunk)
      if (!verdict.ok) {
        onRefused(verdict)
        this.destroy(new Error(verdict.reason === 'too-large' ? `packet of ${verdict.packetBytes} bytes is over the broker's maximum of ${maxPacketBytes}` : 'malformed remaining length'))
        return
      }
      if (!this.push(chunk)) socket.pause()
    })
    socket.on('end', () => this.push(null))
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => this.destroy())
  }

  override _read (): void { this.socket.resume() }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb()
    else this.socket.once('drain', () => cb())
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.socket.cork()
    let flushed = true
    for (const c of chunks) flushed = this.socket.write(c.chunk)
    this.socket.uncork()
    if (flushed) cb()
    else this.socket.once('drain', () => cb())
  }

  override _final (cb: (err?: Error | null) => void): void { this.socket.end(() => cb()) }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy()
    cb(err)
  }
}
