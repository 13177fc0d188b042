import { randomUUID } from 'node:crypto'
import type { CloudEventAttributes } from '../../core/cloudEventHttp.js'
import type { OutgoingEvent } from '../target.js'

/** A payload is JSON if it parses as JSON; anything else reaches the function as bytes. */
export function sniffContentType (payload: Buffer): string {
  if (payload.length === 0) return 'application/octet-stream'
  const first = payload[0] as number
  // Cheap pre-check before parsing: JSON text starts with one of {["-0-9tfn or whitespace.
  if (!/[{["\-0-9tfn \t\r\n]/.test(String.fromCharCode(first))) return 'application/octet-stream'
  try {
    JSON.parse(payload.toString('utf8'))
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

/** Wraps a raw MQTT message as a CloudEvent: subject = topic, type from the route, source = broker. */
export function buildEvent (msg: MessageInfo, routeType: string, source: string, now: Date): OutgoingEvent {
  const attributes: CloudEventAttributes = {
    specversion: '1.0',
    id: randomUUID(),
    source,
    type: routeType,
    subject: msg.topic,
    time: now.toISOString(),
    datacontenttype: msg.contentType ?? sniffContentType(msg.payload)
  }
  return { attributes, data: msg.payload }
}
