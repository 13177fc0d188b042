import { derivedId } from './derivedId.js'
import type { OutgoingEvent, ReplyPayload } from '../target.js'

/**
 * Attributes for a batch sent to a target that has no batch call of its own (the body says it all). Its id
 * derives from its events' ids, so the same batch sent again has the same id.
 */
export function batchAttributes (events: OutgoingEvent[], source: string): OutgoingEvent['attributes'] {
  const first = events[0]
  return { specversion: '1.0', id: derivedId('batch', ...events.map((e) => `${e.attributes.source}\0${e.attributes.id}`)), source, type: first?.attributes.type ?? 'io.iotless.batch', datacontenttype: 'application/cloudevents-batch+json' }
}

/**
 * A batch's reply is split per message only when it is a CloudEvents batch (or a JSON array) with exactly
 * one element per message; element k answers message k. Anything else is not published.
 */
export function splitBatchReply (reply: ReplyPayload, n: number): Array<ReplyPayload | undefined> | undefined {
  const ct = reply.contentType.split(';')[0]?.trim().toLowerCase()
  if (ct !== 'application/cloudevents-batch+json' && ct !== 'application/json') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(reply.data.toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed) || parsed.length !== n) return undefined
  return parsed.map((el: unknown) => {
    if (el === null || el === undefined) return undefined
    if (ct === 'application/cloudevents-batch+json' && typeof el === 'object' && !Array.isArray(el)) {
      const ev = el as Record<string, unknown>
      const contentType = typeof ev.datacontenttype === 'string' ? ev.datacontenttype : 'application/json'
      if (typeof ev.data_base64 === 'string') return { data: Buffer.from(ev.data_base64, 'base64'), contentType }
      if (ev.data === undefined) return undefined
      return { data: Buffer.from(typeof ev.data === 'string' && !contentType.includes('json') ? ev.data : JSON.stringify(ev.data)), contentType }
    }
    return { data: Buffer.from(JSON.stringify(el)), contentType: 'application/json' }
  })
}
