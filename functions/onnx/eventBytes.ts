import type { CloudEvent } from 'cloudevents'
import { FunctionInputError } from '../sdk/functionInputError.js'

/** The event's data as bytes (binary mode, or data_base64 in the JSON format); anything else is a FunctionInputError. */
export function eventBytes (event: CloudEvent<unknown>, what: string): Buffer {
  const data = event.data
  if (Buffer.isBuffer(data)) return data
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (data === undefined || data === null) throw new FunctionInputError(`no data: send ${what} as the event data`)
  throw new FunctionInputError(`the event data must be bytes (${what}), got ${typeof data === 'object' ? 'JSON' : typeof data}; ` +
    'send it in binary mode with a non-JSON content type, or as data_base64 in the JSON format')
}
