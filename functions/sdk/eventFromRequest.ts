import { CloudEvent } from 'cloudevents'
import { fromBinaryHeaders, isJsonContentType } from '../../core/cloudEventHttp.js'

export class BadEventError extends Error {}

/**
 * Rebuilds the CloudEvent from a binary-mode request. JSON data is parsed; anything else, or JSON that
 * does not parse, is handed to the function as bytes (a Buffer). An event without the Distributed Tracing
 * extension takes its `traceparent` and `tracestate` from the W3C Trace Context headers (the adapter's
 * knative target sends the context only there; a broker's delivery keeps `ce-traceparent`, which wins).
 */
export function eventFromRequest (headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): CloudEvent<unknown> {
  const attrs = fromBinaryHeaders(headers)
  if (attrs === undefined) throw new BadEventError('not a binary-mode CloudEvent: ce-specversion, ce-id, ce-source and ce-type are required')
  if (attrs.traceparent === undefined && typeof headers.traceparent === 'string') {
    attrs.traceparent = headers.traceparent
    if (attrs.tracestate === undefined && typeof headers.tracestate === 'string') attrs.tracestate = headers.tracestate
  }
  let data: unknown = body
  if (body.length > 0 && isJsonContentType(attrs.datacontenttype)) {
    try {
      data = JSON.parse(body.toString('utf8'))
    } catch {
      data = body
    }
  }
  if (body.length === 0) data = undefined
  // strict=false: the adapter already produced a valid event; this only avoids re-validating per call.
  return new CloudEvent<unknown>({ ...attrs, data }, false)
}
