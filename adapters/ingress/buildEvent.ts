import { randomUUID } from 'node:crypto'
import type { CloudEventAttributes } from '../../core/cloudEventHttp.js'
import type { OutgoingEvent } from '../target.js'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A payload is JSON if it parses as JSON; anything else reaches the function as bytes. */
export function sniffContentType (payload: Buffer): string {
  if (payload.length === 0) return 'application/octet-stream'
  const first = payload[0] as number
  // Cheap pre-check before parsing: JSON text starts with one of {["-0-9tfn or whitespace.
  if (!/[{["\-0-9tfn \t\r\n]/.test(String.fromCharCode(first))) return 'application/octet-stream'
  try {
    // fatal: JSON text is UTF-8 (RFC 8259 section 8.1); a lenient decode would turn bad bytes inside a string
    // into U+FFFD, call the payload JSON, and hand the function a string that is not what was sent.
    JSON.parse(utf8.decode(payload))
    return 'application/json'
  } catch {
    return 'application/octet-stream'
  }
}

export interface MessageInfo {
  topic: string
  payload: Buffer
  /** The MQTT 5 Content Type property, when the publisher set one. */
  contentType?: string | undefined
}

/**
 * Wraps a raw MQTT message as a CloudEvent: subject = topic, type from the route, source = broker and client.
 * `id` defaults to a random UUID; the adapter passes a stable one for QoS 1/2 messages (stableEventId).
 */
export function buildEvent (msg: MessageInfo, routeType: string, source: string, now: Date, id: string = randomUUID()): OutgoingEvent {
  const attributes: CloudEventAttributes = {
    specversion: '1.0',
    id,
    source,
    type: routeType,
    subject: msg.topic,
    time: now.toISOString(),
    datacontenttype: msg.contentType ?? sniffContentType(msg.payload)
  }
  return { attributes, data: msg.payload }
}
