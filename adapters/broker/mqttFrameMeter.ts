/**
 * Follows MQTT framing on a byte stream without buffering it: the fixed header's first byte, the Remaining
 * Length (a variable byte integer of at most 4 bytes [MQTT-1.5.5], MQTT 3.1.1 section 2.2.3), then skips that
 * many bytes. It sees a packet's size from its first 2 to 5 bytes, before the rest arrives, so an oversized
 * packet can be refused before anyone buffers it. Pure: feed it chunks in order.
 */
export type FrameVerdict = { ok: true } | { ok: false; reason: 'too-large'; packetBytes: number } | { ok: false; reason: 'malformed' }

export class MqttFrameMeter {
  private state: 'header' | 'length' | 'body' = 'header'
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private bodyLeft = 0

  constructor (private readonly maxPacketBytes: number) {}

  feed (chunk: Uint8Array): FrameVerdict {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'body') {
        const take = Math.min(this.bodyLeft, chunk.length - i)
        this.bodyLeft -= take
        i += take
        if (this.bodyLeft === 0) this.state = 'header'
        continue
      }
      const byte = chunk[i++] as number
      if (this.state === 'header') {
        this.state = 'length'
        this.length = 0
        this.multiplier = 1
        this.lengthBytes = 0
        continue
      }
      this.length += (byte & 0x7f) * this.multiplier
      this.multiplier *= 128
      this.lengthBytes++
      if ((byte & 0x80) !== 0) {
        if (this.lengthBytes === 4) return { ok: false, reason: 'malformed' } // a 5th length byte [MQTT-1.5.5]
        continue
      }
      const packetBytes = 1 + this.lengthBytes + this.length
      if (packetBytes > this.maxPacketBytes) return { ok: false, reason: 'too-large', packetBytes }
      this.bodyLeft = this.length
      this.state = this.length === 0 ? 'header' : 'body'
    }
    return { ok: true }
  }
}
