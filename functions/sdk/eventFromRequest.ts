import { CloudEvent } from 'cloudevents'
import { fromBinaryHeaders, isJsonContentType } from '../../core/cloudEventHttp.js'

export class BadEventError extends Error {}

/**
 * Rebuilds the CloudEvent from a binary-mode request. JSON data is parsed; anything else, or JSON that
 * does not parse, is handed to the function as bytes (a Buffer).
 */
export function eventFromRequest (headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): CloudEvent<unknown> {
  const attrs = fromBinaryHeaders(headers)
  if (attrs === undefined) throw new BadEventError('not a binary-mode CloudEvent: ce-specversion, ce-id, ce-source and ce-type are required')
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
