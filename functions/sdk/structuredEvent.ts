import { randomUUID } from 'node:crypto'
import { CloudEvent } from 'cloudevents'
import { isJsonContentType } from '../../core/cloudEventHttp.js'
import { BadEventError } from './eventFromRequest.js'
import type { EncodedReply } from './encodeReply.js'

/** CloudEvents JSON format (json-format.md): one event, or a batch (an array of them). */
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json'
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json'

export function mediaType (ct: string | undefined): string {
  return (ct ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

const REQUIRED = ['specversion', 'id', 'source', 'type'] as const

/**
 * One event in the JSON format. `data_base64` becomes a Buffer; `data` is kept as the JSON value it is
 * (a JSON string with a non-JSON datacontenttype is handed over as that string).
 */
export function eventFromJson (value: unknown, where = 'event'): CloudEvent<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadEventError(`${where} is not a JSON object`)
  const o = value as Record<string, unknown>
  for (const k of REQUIRED) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new BadEventError(`${where}: "${k}" is required and must be a non-empty string`)
  }
  const attrs: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    if (k === 'data' || k === 'data_base64') continue
    if (v === null || v === undefined) continue
    attrs[k] = typeof v === 'string' ? v : String(v)
  }
  let data: unknown
  if (typeof o.data_base64 === 'string') {
    if ('data' in o) throw new BadEventError(`${where}: "data" and "data_base64" are mutually exclusive`)
    data = Buffer.from(o.data_base64, 'base64')
  } else if ('data' in o) {
    data = o.data
  }
  return new CloudEvent<unknown>({ ...attrs, data } as ConstructorParameters<typeof CloudEvent<unknown>>[0], false)
}

/** Parses a structured (one event) or batch (array) request body. */
export function eventsFromJsonBody (body: Buffer, batch: boolean): Array<CloudEvent<unknown>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new BadEventError(`body is not JSON: ${(err as Error).message}`)
  }
  if (!batch) return [eventFromJson(parsed)]
  if (!Array.isArray(parsed)) throw new BadEventError('a cloudevents-batch+json body must be a JSON array')
  return parsed.map((e, i) => eventFromJson(e, `event [${i}]`))
}

/** The attributes of the reply event to `inEvent`. */
export function replyAttributes (fnName: string, inEvent: CloudEvent<unknown> | undefined, type: string, extensions: Record<string, string> | undefined): Record<string, string> {
  const attrs: Record<string, string> = {
    specversion: '1.0',
    id: randomUUID(),
    source: `/iotless/functions/${fnName}`,
    type,
    time: new Date().toISOString()
  }
  if (inEvent?.subject !== undefined) attrs.subject = inEvent.subject
  if (inEvent !== undefined) attrs.inreplyto = inEvent.id
  for (const [k, v] of Object.entries(extensions ?? {})) {
    if (/^[a-z0-9]{1,20}$/.test(k) && !(k in attrs)) attrs[k] = v
  }
  return attrs
}

/** A reply as one event in the JSON format (for batch replies). */
export function structuredReply (attrs: Record<string, string>, reply: NonNullable<EncodedReply>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...attrs, datacontenttype: reply.contentType }
  if (isJsonContentType(reply.contentType)) out.data = JSON.parse(reply.body.toString('utf8')) as unknown
  else if (mediaType(reply.contentType).startsWith('text/')) out.data = reply.body.toString('utf8')
  else out.data_base64 = reply.body.toString('base64')
  return out
}
