import type { OutgoingEvent } from '../target.js'
import { derivedId } from './derivedId.js'

/** What the dedup window keeps for one route's share of a message, and whether it is looked up first. */
export interface DedupKey {
  key: string
  /** False: recorded when done, but not looked up before dispatch (a first delivery of a plain message). */
  lookup: boolean
}

/**
 * The id a dedup window may trust (docs/effects.md, "Which ids the window trusts"):
 * - a CloudEvent the device sent (MQTT 5 binary mode or structured): its (source, id), which CloudEvents
 *   requires to be unique per distinct event; looked up on every delivery, so a publisher's own resend is
 *   caught too;
 * - a plain message: its stable id (stableEventId: topic, packet id, payload), looked up only when the broker
 *   marks it as a redelivery (DUP = 1, [MQTT-3.3.1-1]). A first delivery (DUP = 0) is never taken for a
 *   duplicate, so two identical readings that happen to get the same recycled packet id are both dispatched.
 * QoS 0 messages have no acknowledgement to hold and no key. Keys are per route: a message two routes take
 * is recorded for each, so a redelivery re-runs only the routes that had not succeeded.
 */
export function dedupKey (route: string, msg: { qos: 0 | 1 | 2; dup?: boolean | undefined }, mode: 'wrapped' | 'binary' | 'structured', event: OutgoingEvent): DedupKey | undefined {
  if (msg.qos === 0) return undefined
  const a = event.attributes
  if (mode !== 'wrapped') return { key: derivedId('ce', route, a.source, a.id), lookup: true }
  return { key: derivedId('mqtt', route, a.id), lookup: msg.dup === true }
}
