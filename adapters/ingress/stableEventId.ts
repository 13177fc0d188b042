import { createHash } from 'node:crypto'

/**
 * A CloudEvent id that stays the same when the broker delivers the same QoS 1/2 message again.
 *
 * A broker resends an unacknowledged PUBLISH to a resumed session with its original packet identifier
 * [MQTT-4.4.0-1], so (source, topic, packet id, payload) names one message across redeliveries, across an
 * adapter restart too, since the id is computed, not remembered. Two different messages collide only if
 * they share topic and payload and reuse the same packet id (ids cycle every 65,535 messages of the
 * session); a publisher that needs its own ids sends a CloudEvent, whose id passes through.
 * The result is shaped as a UUID (version nibble 8, "custom", RFC 9562 section 5.8).
 */
export function stableEventId (source: string, topic: string, packetId: number, payload: Buffer): string {
  const h = createHash('sha256')
  h.update(source).update('\0').update(topic).update('\0').update(String(packetId)).update('\0').update(payload)
  const b = h.digest()
  b[6] = ((b[6] as number) & 0x0f) | 0x80
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  const hex = b.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
