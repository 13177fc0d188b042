import type { InboundMessage } from './messagePipeline.js'

/** The keys looked for, as bytes once (Buffer#indexOf of a string converts it on every call). */
const TRACEPARENT_KEY = Buffer.from('"traceparent"')
const SPECVERSION_KEY = Buffer.from('"specversion"')

/**
 * The W3C traceparent a message arrives with, for its receive span's parent: the MQTT 5 User Property
 * `traceparent` (binary mode), else the `traceparent` attribute of a structured CloudEvent (content type
 * `application/cloudevents+json`, or, without a content type as on MQTT 3.1.1, a JSON object naming
 * `specversion`: the CloudEvents MQTT binding and the Distributed Tracing extension). Only called with a
 * tracer; a payload that names no "traceparent" is not parsed.
 */
export function incomingTraceparent (msg: InboundMessage): string | undefined {
  const v = msg.properties?.userProperties?.traceparent
  const prop = Array.isArray(v) ? v[0] : v
  if (prop !== undefined) return prop
  const ct = msg.properties?.contentType
  if (ct !== undefined && (ct.split(';')[0] as string).trim().toLowerCase() !== 'application/cloudevents+json') return undefined
  const p = msg.payload
  if (p.length < 2 || p[0] !== 0x7b /* { */ || p.indexOf(TRACEPARENT_KEY) === -1 || (ct === undefined && p.indexOf(SPECVERSION_KEY) === -1)) return undefined
  try {
    const o = JSON.parse(p.toString('utf8')) as { traceparent?: unknown }
    return typeof o.traceparent === 'string' ? o.traceparent : undefined
  } catch {
    return undefined
  }
}
