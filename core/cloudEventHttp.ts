/**
 * CloudEvents over HTTP in binary mode (cloudevents/spec, http-protocol-binding.md section 3.1).
 * The `cloudevents` SDK writes `ce-` header values unencoded, which breaks on non-ASCII and is not what the
 * binding requires ("percent-encoded ... space, double quote, percent, and any character outside the
 * printable ASCII range", section 3.1.3.2), so iotless encodes and decodes the headers itself here.
 */
export interface CloudEventAttributes {
  specversion: string
  id: string
  source: string
  type: string
  subject?: string
  time?: string
  datacontenttype?: string
  dataschema?: string
  [extension: string]: string | undefined
}

/** Printable ASCII but space, '"' and '%': what needs no encoding. */
const HEADER_SAFE = /^[\x21\x23\x24\x26-\x7e]*$/

export function encodeHeaderValue (value: string): string {
  if (HEADER_SAFE.test(value)) return value
  let out = ''
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number
    if (cp > 0x20 && cp < 0x7f && ch !== '"' && ch !== '%') {
      out += ch
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0')
    }
  }
  return out
}

export function decodeHeaderValue (value: string): string {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** `ce-` + an attribute's name, made once per name (attribute names are few: the spec's and the extensions in use). */
const CE_NAMES = new Map<string, string>()

/** An attribute's binary-mode header name: datacontenttype travels as Content-Type, as the binding says. */
function binaryHeaderName (name: string): string {
  if (name === 'datacontenttype') return 'content-type'
  let header = CE_NAMES.get(name)
  if (header === undefined) {
    header = 'ce-' + name
    if (CE_NAMES.size < 256) CE_NAMES.set(name, header)
  }
  return header
}

/** Binary-mode headers for an event. */
export function toBinaryHeaders (attrs: CloudEventAttributes): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name in attrs) {
    const value = attrs[name]
    if (value !== undefined) headers[binaryHeaderName(name)] = name === 'datacontenttype' ? value : encodeHeaderValue(value)
  }
  return headers
}

/** Only these traverse as W3C Trace Context headers as well as `ce-` attributes (CloudEvents distributed tracing extension). */
const TRACE_ATTRIBUTES = ['traceparent', 'tracestate'] as const
const PRINTABLE = /^[\x20-\x7e]*$/

/** Appends `traceparent` and `tracestate` under their W3C Trace Context names to a header list, when printable ASCII. */
export function pushTraceHeaders (attrs: CloudEventAttributes, out: string[]): string[] {
  for (const name of TRACE_ATTRIBUTES) {
    const v = attrs[name]
    if (v !== undefined && PRINTABLE.test(v)) out.push(name, v)
  }
  return out
}

/**
 * Where a binary-mode event's trace context travels: `none`, only as `ce-` attributes (the CloudEvents
 * Distributed Tracing extension); `both`, there and as the W3C Trace Context headers; `w3c`, as the W3C
 * headers only (a printable value; one that is not stays a `ce-` attribute, encoded). The extension, where it
 * is used, must carry what the W3C headers carry for a single hop (cloudevents/spec, distributed-tracing.md).
 */
export type TraceHeaders = 'none' | 'both' | 'w3c'

/**
 * The headers of toBinaryHeaders as one flat `[name, value, name, value, ...]` list (undici takes it as is),
 * with the trace context where `trace` says (the W3C headers after the others, as pushTraceHeaders puts
 * them). One pass over the attributes, each value checked once, no object with computed keys and no `ce-`
 * string built per request.
 */
export function binaryHeaderList (attrs: CloudEventAttributes, trace: TraceHeaders = 'none'): string[] {
  const out: string[] = []
  let traceparent: string | undefined
  let tracestate: string | undefined
  for (const name in attrs) {
    const value = attrs[name]
    if (value === undefined) continue
    if (trace !== 'none' && (name === 'traceparent' || name === 'tracestate') && PRINTABLE.test(value)) {
      if (name === 'traceparent') traceparent = value
      else tracestate = value
      if (trace === 'w3c') continue
    }
    out.push(binaryHeaderName(name), name === 'datacontenttype' ? value : encodeHeaderValue(value))
  }
  if (traceparent !== undefined) out.push('traceparent', traceparent)
  if (tracestate !== undefined) out.push('tracestate', tracestate)
  return out
}

/** Reads binary-mode attributes from request headers (names are lower-case in Node). */
export function fromBinaryHeaders (headers: Readonly<Record<string, string | string[] | undefined>>): CloudEventAttributes | undefined {
  const attrs: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue
    attrs[name.slice(3)] = decodeHeaderValue(Array.isArray(value) ? value.join(',') : value)
  }
  const ct = headers['content-type']
  if (typeof ct === 'string') attrs.datacontenttype = ct
  if (attrs.specversion === undefined || attrs.id === undefined || attrs.source === undefined || attrs.type === undefined) return undefined
  return attrs as CloudEventAttributes
}

export function isJsonContentType (ct: string | undefined): boolean {
  if (ct === undefined) return false
  const base = (ct.split(';')[0] as string).trim().toLowerCase()
  return base === 'application/json' || base.endsWith('+json') || base === 'text/json'
}

/**
 * Structured mode (JSON event format): attributes as members; JSON data as `data`, anything else base64 in
 * `data_base64`, so no byte is changed on the way.
 */
export function toStructured (attrs: CloudEventAttributes, data: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v
  if (data.length === 0) return out
  if (isJsonContentType(attrs.datacontenttype)) {
    try {
      out.data = JSON.parse(data.toString('utf8'))
      return out
    } catch {
      // Not JSON after all: fall through to base64.
    }
  }
  out.data_base64 = data.toString('base64')
  return out
}

/** A CloudEvents batch (`application/cloudevents-batch+json`): a JSON array of structured events. */
export function toBatchBody (events: ReadonlyArray<{ attributes: CloudEventAttributes; data: Buffer }>): Buffer {
  return Buffer.from(JSON.stringify(events.map((e) => toStructured(e.attributes, e.data))))
}
