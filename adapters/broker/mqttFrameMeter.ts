import { TextDecoder } from 'node:util'

/**
 * Follows MQTT framing on a byte stream without buffering it: the fixed header's first byte, the Remaining
 * Length (a variable byte integer of at most 4 bytes [MQTT-1.5.5], MQTT 3.1.1 section 2.2.3), then skips that
 * many bytes. It sees a packet's size from its first 2 to 5 bytes, before the rest arrives, so an oversized
 * packet can be refused before anyone buffers it. On the way it checks that a PUBLISH topic name is well-formed
 * UTF-8 [MQTT-1.5.3-1], which nobody can tell later: mqtt-packet decodes ill-formed bytes into U+FFFD.
 * Pure: feed it chunks in order.
 */
export type FrameVerdict =
  | { ok: true }
  | { ok: false; reason: 'too-large'; packetBytes: number }
  | { ok: false; reason: 'malformed' }
  | { ok: false; reason: 'topic-not-utf8' }

const PUBLISH = 3

export class MqttFrameMeter {
  private state: 'header' | 'length' | 'body' = 'header'
  private type = 0
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private bodyLeft = 0
  /** PUBLISH only: bytes of the topic's 2-byte length still to read, then topic bytes still to check. */
  private topicLenBytesLeft = 0
  private topicLen = 0
  private topicLeft = 0
  private decoder: TextDecoder | undefined

  constructor (private maxPacketBytes: number) {}

  /** From the next packet on (the one whose header is being read counts against the new limit too). */
  setLimit (maxPacketBytes: number): void { this.maxPacketBytes = maxPacketBytes }

  feed (chunk: Uint8Array): FrameVerdict {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'body') {
        if (this.topicLenBytesLeft > 0) {
          this.topicLen = this.topicLen * 256 + (chunk[i++] as number)
          this.bodyLeft--
          if (--this.topicLenBytesLeft === 0) {
            this.topicLeft = Math.min(this.topicLen, this.bodyLeft)
            this.decoder = new TextDecoder('utf-8', { fatal: true })
          }
        } else if (this.topicLeft > 0) {
          const take = Math.min(this.topicLeft, chunk.length - i)
          try {
            this.decoder?.decode(chunk.subarray(i, i + take), { stream: this.topicLeft > take })
          } catch {
            return { ok: false, reason: 'topic-not-utf8' }
          }
          this.topicLeft -= take
          this.bodyLeft -= take
          i += take
        } else {
          const take = Math.min(this.bodyLeft, chunk.length - i)
          this.bodyLeft -= take
          i += take
        }
        if (this.bodyLeft === 0) { this.state = 'header'; this.topicLenBytesLeft = 0; this.topicLeft = 0 }
        continue
      }
      const byte = chunk[i++] as number
      if (this.state === 'header') {
        this.state = 'length'
        this.type = byte >> 4
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
      if (this.type === PUBLISH) { this.topicLenBytesLeft = 2; this.topicLen = 0 }
    }
    return { ok: true }
  }
}
