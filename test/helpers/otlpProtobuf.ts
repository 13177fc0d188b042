/**
 * A decoder of OTLP protobuf trace export requests (ExportTraceServiceRequest) into the shape of their JSON
 * mapping (ids as hex, ints as numbers), for the tests' and benches' OTLP receivers. It reads the fields
 * OTLP defines for what iotless sends and skips the others by wire type.
 */
interface AnyValue { stringValue?: string; boolValue?: boolean; intValue?: number; doubleValue?: number }
export interface DecodedKeyValue { key: string; value: AnyValue }
export interface DecodedSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: DecodedKeyValue[]; status?: { code?: number; message?: string } }
export interface DecodedRequest { resourceSpans: Array<{ resource?: { attributes: DecodedKeyValue[] }; scopeSpans: Array<{ scope?: { name?: string }; spans: DecodedSpan[] }> }> }

class Reader {
  pos: number
  constructor (readonly b: Uint8Array, start = 0, readonly end = b.length) { this.pos = start }
  get done (): boolean { return this.pos >= this.end }
  varint (): number {
    let r = 0
    let m = 1
    for (;;) {
      if (this.pos >= this.end) throw new Error('protobuf: truncated varint')
      const x = this.b[this.pos++] as number
      r += (x & 0x7f) * m
      if (x < 0x80) return r
      m *= 128
    }
  }

  /** An int64 varint as a number (negative ones: two's complement, read exactly). */
  int64 (): number {
    let r = 0n
    let shift = 0n
    for (;;) {
      if (this.pos >= this.end) throw new Error('protobuf: truncated varint')
      const x = this.b[this.pos++] as number
      r |= BigInt(x & 0x7f) << shift
      if (x < 0x80) break
      shift += 7n
    }
    return Number(BigInt.asIntN(64, r))
  }

  sub (): Reader { const n = this.varint(); const r = new Reader(this.b, this.pos, this.pos + n); this.pos += n; if (this.pos > this.end) throw new Error('protobuf: length past the end'); return r }
  bytes (): Uint8Array { const r = this.sub(); return this.b.subarray(r.pos, r.end) }
  string (): string { return Buffer.from(this.bytes()).toString('utf8') }
  fixed64 (): bigint { const v = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, 8).readBigUInt64LE(0); this.pos += 8; return v }
  double (): number { const v = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, 8).readDoubleLE(0); this.pos += 8; return v }
  skip (wire: number): void {
    if (wire === 0) this.varint()
    else if (wire === 1) this.pos += 8
    else if (wire === 2) this.sub()
    else if (wire === 5) this.pos += 4
    else throw new Error(`protobuf: wire type ${wire}`)
  }

  /** Each field: f(field number, wire type). */
  fields (f: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint()
      if (!f(Math.floor(tag / 8), tag & 7)) this.skip(tag & 7)
    }
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function keyValue (r: Reader): DecodedKeyValue {
  const kv: DecodedKeyValue = { key: '', value: {} }
  r.fields((f, w) => {
    if (f === 1 && w === 2) { kv.key = r.string(); return true }
    if (f === 2 && w === 2) {
      const v = r.sub()
      v.fields((g, x) => {
        if (g === 1 && x === 2) kv.value.stringValue = v.string()
        else if (g === 2 && x === 0) kv.value.boolValue = v.varint() !== 0
        else if (g === 3 && x === 0) kv.value.intValue = v.int64()
        else if (g === 4 && x === 1) kv.value.doubleValue = v.double()
        else return false
        return true
      })
      return true
    }
    return false
  })
  return kv
}

function span (r: Reader): DecodedSpan {
  const s: DecodedSpan = { traceId: '', spanId: '', name: '', kind: 0, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [] }
  r.fields((f, w) => {
    if (f === 1 && w === 2) s.traceId = hex(r.bytes())
    else if (f === 2 && w === 2) s.spanId = hex(r.bytes())
    else if (f === 4 && w === 2) { const p = hex(r.bytes()); if (p !== '') s.parentSpanId = p }
    else if (f === 5 && w === 2) s.name = r.string()
    else if (f === 6 && w === 0) s.kind = r.varint()
    else if (f === 7 && w === 1) s.startTimeUnixNano = r.fixed64().toString()
    else if (f === 8 && w === 1) s.endTimeUnixNano = r.fixed64().toString()
    else if (f === 9 && w === 2) s.attributes.push(keyValue(r.sub()))
    else if (f === 15 && w === 2) {
      const st: { code?: number; message?: string } = {}
      const x = r.sub()
      x.fields((g, y) => {
        if (g === 2 && y === 2) st.message = x.string()
        else if (g === 3 && y === 0) st.code = x.varint()
        else return false
        return true
      })
      s.status = st
    } else return false
    return true
  })
  return s
}

export function decodeTraceRequest (body: Uint8Array): DecodedRequest {
  const out: DecodedRequest = { resourceSpans: [] }
  const r = new Reader(body)
  r.fields((f, w) => {
    if (f !== 1 || w !== 2) return false
    const rs: DecodedRequest['resourceSpans'][number] = { scopeSpans: [] }
    const x = r.sub()
    x.fields((g, y) => {
      if (g === 1 && y === 2) {
        const res = { attributes: [] as DecodedKeyValue[] }
        const z = x.sub()
        z.fields((h, q) => { if (h === 1 && q === 2) { res.attributes.push(keyValue(z.sub())); return true } return false })
        rs.resource = res
        return true
      }
      if (g === 2 && y === 2) {
        const ss: { scope?: { name?: string }; spans: DecodedSpan[] } = { spans: [] }
        const z = x.sub()
        z.fields((h, q) => {
          if (h === 1 && q === 2) {
            const sc: { name?: string } = {}
            const u = z.sub()
            u.fields((i, v) => { if (i === 1 && v === 2) { sc.name = u.string(); return true } return false })
            ss.scope = sc
            return true
          }
          if (h === 2 && q === 2) { ss.spans.push(span(z.sub())); return true }
          return false
        })
        rs.scopeSpans.push(ss)
        return true
      }
      return false
    })
    out.resourceSpans.push(rs)
    return true
  })
  return out
}

/** An OTLP/HTTP traces request body, JSON or protobuf by its content type. */
export function parseTraceRequest (contentType: string | undefined, body: Buffer): DecodedRequest {
  if (contentType?.startsWith('application/x-protobuf') === true) return decodeTraceRequest(body)
  return JSON.parse(body.toString('utf8')) as DecodedRequest
}
