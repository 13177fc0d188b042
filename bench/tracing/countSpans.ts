/**
 * The spans in an OTLP/HTTP protobuf traces request (ExportTraceServiceRequest), counted without decoding
 * them: the bench's OTLP receiver (otlpSink.ts) stands in for a collector, and decoding every span into objects
 * costs it more CPU than the adapter spends making them, CPU that the adapter, on a 2-core box, then lacks.
 * It walks the message by tags and lengths (request.resource_spans 1 -> ResourceSpans.scope_spans 2 ->
 * ScopeSpans.spans 2) and throws on a truncated or malformed one, so a broken export is still caught.
 */
function varint (b: Uint8Array, at: { pos: number }, end: number): number {
  let r = 0
  let m = 1
  for (;;) {
    if (at.pos >= end) throw new Error('protobuf: truncated varint')
    const x = b[at.pos++] as number
    r += (x & 0x7f) * m
    if (x < 0x80) return r
    m *= 128
    if (m > 2 ** 63) throw new Error('protobuf: varint too long')
  }
}

/** Calls `f` with each length-delimited field of `b[start, end)` (number, start, end); skips the others. */
function fields (b: Uint8Array, start: number, end: number, f: (field: number, from: number, to: number) => void): void {
  const at = { pos: start }
  while (at.pos < end) {
    const tag = varint(b, at, end)
    const wire = tag & 7
    const field = Math.floor(tag / 8)
    if (wire === 0) varint(b, at, end)
    else if (wire === 1) at.pos += 8
    else if (wire === 5) at.pos += 4
    else if (wire === 2) {
      const len = varint(b, at, end)
      const from = at.pos
      at.pos += len
      if (at.pos > end) throw new Error('protobuf: a field runs past its message')
      f(field, from, at.pos)
    } else throw new Error(`protobuf: wire type ${wire}`)
    if (at.pos > end) throw new Error('protobuf: truncated field')
  }
}

export function countProtobufSpans (body: Uint8Array): number {
  let n = 0
  fields(body, 0, body.length, (f, a, z) => {
    if (f !== 1) return
    fields(body, a, z, (g, c, d) => {
      if (g !== 2) return
      fields(body, c, d, (h) => { if (h === 2) n++ })
    })
  })
  return n
}
