import type { HandleResult } from './defineFunction.js'

export type EncodedReply = { body: Buffer; contentType: string } | undefined

/** Turns a handler's return value into bytes and a content type, or explains why it cannot. */
export function encodeReply (result: HandleResult): EncodedReply {
  if (result === undefined || result === null) return undefined
  if (typeof result !== 'object' || !('data' in result)) {
    throw new TypeError(`a handler must return undefined or { data, contentType? }, got ${typeof result}`)
  }
  const { data, contentType } = result
  if (contentType !== undefined && typeof contentType !== 'string') throw new TypeError('reply contentType must be a string')
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) {
    return { body: Buffer.from(data), contentType: contentType ?? 'application/octet-stream' }
  }
  if (typeof data === 'string') return { body: Buffer.from(data, 'utf8'), contentType: contentType ?? 'text/plain; charset=utf-8' }
  const json = JSON.stringify(data)
  if (json === undefined) throw new TypeError('reply data cannot be represented as JSON')
  return { body: Buffer.from(json, 'utf8'), contentType: contentType ?? 'application/json' }
}
