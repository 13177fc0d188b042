import type { CloudEventAttributes } from '../../core/cloudEventHttp.js'

export const DEAD_LETTER_EVENT_TYPE = 'dev.iotless.deadletter'

export interface DeadLetterInfo {
  /** The event as it was sent (or would have been), when one was built. */
  attributes?: CloudEventAttributes | undefined
  /** The MQTT message's topic and payload, exactly as received; no payload: too large to copy (size only). */
  topic: string
  payload: Buffer | undefined
  payloadBytes: number
  route: string
  function: string
  /** A stable error code (core/errors.ts), e.g. TARGET_HTTP_STATUS, PAYLOAD_NOT_JSON. */
  code: string
  reason: string
  attempts: number
  httpStatus?: number | undefined
  /** Where it was going, e.g. the target kind and function. */
  destination: string
  source: string
  id: string
  now: Date
}

/**
 * A dead letter is a structured-mode CloudEvent (JSON, so any MQTT 3.1.1 client can read it) that carries
 * the original message's bytes in `data_base64` (not for PAYLOAD_TOO_LARGE: then only its size) and why it
 * failed in extension attributes: `iotlesspayloadbytes`,
 * `iotlesserrorcode`, `iotlesserrorreason`, `iotlessattempts`, `iotlesstopic`, `iotlessroute`,
 * `iotlessfunction`, and, as Knative Eventing writes to its dead-letter sinks, `knativeerrordest` and
 * `knativeerrorcode` (the HTTP status, when there was one).
 */
export function deadLetterEvent (info: DeadLetterInfo): Buffer {
  const a = info.attributes
  const ev: Record<string, string | number> = {
    specversion: '1.0',
    id: info.id,
    source: info.source,
    type: DEAD_LETTER_EVENT_TYPE,
    subject: info.topic,
    time: info.now.toISOString(),
    datacontenttype: a?.datacontenttype ?? 'application/octet-stream',
    iotlesserrorcode: info.code,
    iotlesserrorreason: info.reason,
    iotlessattempts: info.attempts,
    iotlesstopic: info.topic,
    iotlessroute: info.route,
    iotlessfunction: info.function,
    iotlesspayloadbytes: info.payloadBytes,
    knativeerrordest: info.destination
  }
  if (a !== undefined) {
    ev.iotlessoriginaltype = a.type
    ev.iotlessoriginalid = a.id
    if (a.traceparent !== undefined) ev.traceparent = a.traceparent
  }
  if (info.httpStatus !== undefined) ev.knativeerrorcode = String(info.httpStatus)
  if (info.payload !== undefined) ev.data_base64 = info.payload.toString('base64')
  return Buffer.from(JSON.stringify(ev))
}
