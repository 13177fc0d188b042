import type { CloudEventAttributes } from '../../core/cloudEventHttp.js'
import type { ErrorCode } from '../../core/errors.js'
import type { OutgoingEvent } from '../target.js'
import { buildEvent } from './buildEvent.js'

/** What the adapter knows of one MQTT message. */
export interface IncomingMessage {
  topic: string
  payload: Buffer
  /** MQTT 5 Content Type. */
  contentType?: string | undefined
  /** MQTT 5 User Properties (mqtt.js gives a repeated name as an array). */
  userProperties?: Readonly<Record<string, string | string[]>> | undefined
}

export type EventResult =
  | { ok: true; event: OutgoingEvent; mode: 'wrapped' | 'binary' | 'structured' }
  | { ok: false; code: ErrorCode; message: string }

const REQUIRED = ['id', 'source', 'type'] as const
/** Names a CloudEvents attribute may have: lower-case letters and digits (spec section 3.1.1). */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/
const JSON_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function firstValue (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function missing (attrs: Record<string, unknown>): string[] {
  return [...REQUIRED, 'specversion'].filter((k) => typeof attrs[k] !== 'string' || attrs[k] === '')
}

function isStructuredContentType (ct: string | undefined): boolean {
  if (ct === undefined) return false
  const base = (ct.split(';')[0] as string).trim().toLowerCase()
  return base === 'application/cloudevents+json'
}

/**
 * A payload sent with no content type (MQTT 3.1.1 has none) is taken as a structured CloudEvent when it is
 * a JSON object with string `specversion`, `id`, `source` and `type`: the CloudEvents MQTT binding allows
 * only structured mode on 3.1.1, and no plain sensor reading carries all four.
 */
function looksStructured (payload: Buffer): Record<string, unknown> | undefined {
  if (payload.length < 2 || payload[0] !== 0x7b /* { */) return undefined
  // Cheap pre-check before parsing: a structured event names "specversion".
  if (payload.indexOf('"specversion"') === -1) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(JSON_DECODER.decode(payload))
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const obj = parsed as Record<string, unknown>
  return missing(obj).length === 0 ? obj : undefined
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict RFC 4648 base64 (standard alphabet, padding required), as the CloudEvents JSON format asks. */
export function isBase64 (s: string): boolean {
  return BASE64.test(s)
}

function fromStructured (obj: Record<string, unknown>): EventResult {
  const miss = missing(obj)
  if (miss.length > 0) return { ok: false, code: 'CLOUDEVENT_INVALID', message: `structured CloudEvent lacks ${miss.join(', ')}` }
  if (obj.specversion !== '1.0') return { ok: false, code: 'CLOUDEVENT_INVALID', message: `specversion ${String(obj.specversion)} is not supported (1.0 is)` }
  const attributes: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'data' || k === 'data_base64') continue
    if (!ATTRIBUTE_NAME.test(k)) return { ok: false, code: 'CLOUDEVENT_INVALID', message: `"${k}" is not a valid attribute name (lower-case letters and digits, at most 20)` }
    if (v === null || v === undefined) continue
    if (typeof v === 'object') return { ok: false, code: 'CLOUDEVENT_INVALID', message: `attribute "${k}" must be a string, number or boolean` }
    attributes[k] = String(v)
  }
  let data: Buffer
  if (obj.data_base64 !== undefined && obj.data !== undefined) {
    return { ok: false, code: 'CLOUDEVENT_INVALID', message: 'a structured CloudEvent has data or data_base64, not both (CloudEvents JSON format 3.1)' }
  }
  if (obj.data_base64 !== undefined) {
    // Buffer.from(s, 'base64') skips what is not base64 and decodes the rest: garbage to the function.
    if (typeof obj.data_base64 !== 'string' || !isBase64(obj.data_base64)) {
      return { ok: false, code: 'CLOUDEVENT_INVALID', message: 'data_base64 is not valid base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, padded with = to a multiple of 4)' }
    }
    data = Buffer.from(obj.data_base64, 'base64')
  } else if (obj.data === undefined) {
    data = Buffer.alloc(0)
  } else {
    const ct = attributes.datacontenttype
    const isJson = ct === undefined || /^application\/json|\+json(;|$)|^text\/json/i.test(ct)
    if (ct === undefined) attributes.datacontenttype = 'application/json'
    data = isJson || typeof obj.data !== 'string' ? Buffer.from(JSON.stringify(obj.data)) : Buffer.from(obj.data)
  }
  return { ok: true, event: { attributes: attributes as CloudEventAttributes, data }, mode: 'structured' }
}

/**
 * Turns one MQTT message into the CloudEvent a route sends:
 * - MQTT 5 binary mode (User Properties `specversion`, `id`, `source`, `type`, ...): passed through;
 * - structured mode (`application/cloudevents+json`, or a JSON CloudEvent sent without content type): passed through;
 * - anything else is wrapped (buildEvent), with the given id.
 * A W3C `traceparent` (and `tracestate`) User Property becomes the Distributed Tracing extension.
 */
export function eventFromMessage (msg: IncomingMessage, routeType: string, source: string, now: Date, id: string): EventResult {
  const props = msg.userProperties ?? {}
  let result: EventResult
  if (props.specversion !== undefined) {
    const attributes: Record<string, string> = {}
    for (const [k, v] of Object.entries(props)) {
      const value = firstValue(v)
      if (value !== undefined && ATTRIBUTE_NAME.test(k)) attributes[k] = value
    }
    const miss = missing(attributes)
    if (miss.length > 0) return { ok: false, code: 'CLOUDEVENT_INVALID', message: `binary-mode CloudEvent (MQTT 5 user properties) lacks ${miss.join(', ')}` }
    if (attributes.specversion !== '1.0') return { ok: false, code: 'CLOUDEVENT_INVALID', message: `specversion ${attributes.specversion} is not supported (1.0 is)` }
    if (msg.contentType !== undefined) attributes.datacontenttype = msg.contentType
    result = { ok: true, event: { attributes: attributes as CloudEventAttributes, data: msg.payload }, mode: 'binary' }
  } else if (isStructuredContentType(msg.contentType)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(JSON_DECODER.decode(msg.payload))
    } catch (err) {
      return { ok: false, code: 'CLOUDEVENT_INVALID', message: `application/cloudevents+json payload is not JSON: ${(err as Error).message}` }
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, code: 'CLOUDEVENT_INVALID', message: 'application/cloudevents+json payload is not a JSON object' }
    }
    result = fromStructured(parsed as Record<string, unknown>)
  } else {
    const structured = msg.contentType === undefined ? looksStructured(msg.payload) : undefined
    result = structured === undefined
      ? { ok: true, event: buildEvent(msg, routeType, source, now, id), mode: 'wrapped' }
      : fromStructured(structured)
  }
  if (!result.ok) return result
  const attrs = result.event.attributes
  const traceparent = firstValue(props.traceparent)
  if (attrs.traceparent === undefined && traceparent !== undefined) {
    attrs.traceparent = traceparent
    const tracestate = firstValue(props.tracestate)
    if (tracestate !== undefined) attrs.tracestate = tracestate
  }
  return result
}
