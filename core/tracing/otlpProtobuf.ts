/**
 * OTLP/HTTP protobuf (opentelemetry-proto's ExportTraceServiceRequest) written by hand, span by span, into
 * one byte buffer as the spans finish: no object per span, no second pass. The request's header (resource,
 * scope, the lengths around the spans) is written in front of the spans when the batch is finished, into
 * room kept for it, so the batch leaves as one slice of one ArrayBuffer (transferred to the export worker,
 * not copied).
 *
 * Field numbers (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto):
 *   ExportTraceServiceRequest.resource_spans 1; ResourceSpans.resource 1, .scope_spans 2;
 *   Resource.attributes 1; ScopeSpans.scope 1, .spans 2; InstrumentationScope.name 1;
 *   Span.trace_id 1, .span_id 2, .parent_span_id 4, .name 5, .kind 6, .start_time_unix_nano 7 (fixed64),
 *   .end_time_unix_nano 8 (fixed64), .attributes 9, .status 15; Status.message 2, .code 3;
 *   KeyValue.key 1, .value 2; AnyValue.string_value 1, .bool_value 2, .int_value 3, .double_value 4.
 */
import type { RecordValue } from './compactRecord.js'
import type { SpanAttributes } from './messageTracer.js'

/** A finished batch: bytes [start, end) of `buffer`. */
export interface ProtoBatch { buffer: ArrayBuffer; start: number; end: number }

/** A trace id as four 32-bit words, big-endian order. */
export interface TraceWords { t0: number; t1: number; t2: number; t3: number }

const TWO32 = 4294967296

/** Bytes of a varint for 0 <= n < 2^32. */
function vlen (n: number): number { return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5 }

/** UTF-8 bytes of `s`: its length when it is ASCII (almost always), else counted. */
function utf8Len (s: string): number {
  const n = s.length
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8')
  return n
}

/** Bytes of an int64 varint for a safe integer. */
function int64Len (v: number): number {
  if (v < 0) return 10
  let n = 1
  while (v >= 0x80) { v = Math.floor(v / 128); n++ }
  return n
}

export class OtlpProtoWriter {
  /** The request's Resource message body (service.name) and InstrumentationScope body (name), made once. */
  readonly #resource: Uint8Array
  readonly #scope: Uint8Array
  /** Room in front of the spans for the header: the most it can take. */
  readonly #head: number
  readonly #cache = new Map<string, Uint8Array>()
  /** The encoded attributes of each frozen attribute object seen (a route's dispatch attributes: the same object for every message). */
  readonly #sharedBytes = new WeakMap<object, Uint8Array>()
  /** The two frozen attribute objects used last and their bytes (strong references: two objects at most). */
  #lastShared: object | undefined
  #lastBytes: Uint8Array | undefined
  #prevShared: object | undefined
  #prevBytes: Uint8Array | undefined
  /** Buffers of sent batches handed back by the export worker, for the next batches. */
  readonly #free: ArrayBuffer[] = []
  #buf: Uint8Array<ArrayBuffer>
  #view: DataView
  #bytes: Buffer
  pos: number

  constructor (serviceName: string, scope: string, capacity = 256 * 1024) {
    const kv = this.#standalone((w) => { w.#keyValue('service.name', serviceName) })
    this.#resource = this.#standalone((w) => { w.#byte(0x0a); w.#varint(kv.length); w.#raw(kv) })
    this.#scope = this.#standalone((w) => { w.#string(0x0a, scope) })
    this.#head = 32 + this.#resource.length + this.#scope.length
    this.#buf = new Uint8Array(Math.max(capacity, this.#head + 4096))
    this.#view = new DataView(this.#buf.buffer)
    this.#bytes = Buffer.from(this.#buf.buffer)
    this.pos = this.#head
  }

  /** Nothing written since the last `finish`. */
  get empty (): boolean { return this.pos === this.#head }

  /**
   * One finished span, as ScopeSpans.spans (field 2, length-delimited): its name is `name` + `nameSuffix`,
   * its ids 32-bit words. Its attributes: those of `shared`, a frozen object (encoded the first time it is
   * seen, then copied as bytes), then `fixed` and `kv`, key, value pairs.
   */
  span (name: string, nameSuffix: string, kind: number, t: TraceWords, s0: number, s1: number, hasParent: boolean, p0: number, p1: number, startMs: number, endMs: number, code: number, message: string, shared: Readonly<SpanAttributes> | undefined, fixed: readonly RecordValue[] | undefined, kv: readonly RecordValue[] | undefined): void {
    const nl = name.length + nameSuffix.length
    // Room for all but the attributes and the status message (each makes its own); UTF-8 takes at most 3 bytes a UTF-16 unit.
    this.#ensure(96 + 3 * nl)
    const b = this.#buf
    const v = this.#view
    let p = this.pos
    b[p++] = 0x12
    const lenAt = p
    p += 2 // most spans take a 2-byte length; moved below when not
    const body = p
    b[p] = 0x0a; b[p + 1] = 16
    v.setUint32(p + 2, t.t0); v.setUint32(p + 6, t.t1); v.setUint32(p + 10, t.t2); v.setUint32(p + 14, t.t3)
    b[p + 18] = 0x12; b[p + 19] = 8
    v.setUint32(p + 20, s0); v.setUint32(p + 24, s1)
    p += 28
    if (hasParent) { b[p] = 0x22; b[p + 1] = 8; v.setUint32(p + 2, p0); v.setUint32(p + 6, p1); p += 10 }
    b[p++] = 0x2a
    this.pos = p
    // The name (a receive span's is its topic) is almost always ASCII: written as it is read; else counted and encoded.
    this.#varint(nl)
    if (!this.#ascii(name) || !this.#ascii(nameSuffix)) {
      this.pos = p
      const nb = this.#enc(name)
      const sb = this.#enc(nameSuffix)
      this.#varint(nb.length + sb.length)
      this.#copy(nb)
      this.#copy(sb)
    }
    p = this.pos
    b[p++] = 0x30; b[p++] = kind
    b[p++] = 0x39; this.#fixed64(p, startMs * 1e6); p += 8
    b[p++] = 0x41; this.#fixed64(p, endMs * 1e6); p += 8
    this.pos = p
    if (shared !== undefined) this.#shared(shared)
    if (fixed !== undefined) for (let k = 0; k < fixed.length; k += 2) this.#attribute(fixed[k] as string, fixed[k + 1] as RecordValue)
    if (kv !== undefined) for (let k = 0; k < kv.length; k += 2) this.#attribute(kv[k] as string, kv[k + 1] as RecordValue)
    if (code !== 0) {
      const mb = message === '' ? undefined : this.#enc(message)
      const ml = mb === undefined ? 0 : 1 + vlen(mb.length) + mb.length
      this.#ensure(ml + 16)
      this.#byte(0x7a)
      this.#varint(ml + 2)
      if (mb !== undefined) { this.#byte(0x12); this.#varint(mb.length); this.#copy(mb) }
      this.#byte(0x18); this.#byte(code)
    }
    this.#closeLength(lenAt, body)
  }

  /** The request around the spans written so far; the writer starts a new buffer. */
  finish (): ProtoBatch {
    const spans = this.pos - this.#head
    const scopeSpans = 1 + vlen(this.#scope.length) + this.#scope.length + spans
    const resourceSpans = 1 + vlen(this.#resource.length) + this.#resource.length + 1 + vlen(scopeSpans) + scopeSpans
    const header = 1 + vlen(resourceSpans) + 1 + vlen(this.#resource.length) + this.#resource.length + 1 + vlen(scopeSpans) + 1 + vlen(this.#scope.length) + this.#scope.length
    const end = this.pos
    const start = this.#head - header
    this.pos = start
    this.#byte(0x0a); this.#varint(resourceSpans)
    this.#byte(0x0a); this.#varint(this.#resource.length); this.#raw(this.#resource)
    this.#byte(0x12); this.#varint(scopeSpans)
    this.#byte(0x0a); this.#varint(this.#scope.length); this.#raw(this.#scope)
    const batch = { buffer: this.#buf.buffer, start, end }
    const reused = this.#free.pop()
    this.#buf = reused !== undefined ? new Uint8Array(reused) : new Uint8Array(this.#buf.length)
    this.#view = new DataView(this.#buf.buffer)
    this.#bytes = Buffer.from(this.#buf.buffer)
    this.pos = this.#head
    return batch
  }

  /**
   * A finished batch's buffer, back from the export worker once sent: the next batches are written into it
   * (what they leave of older bytes is never sent). At most 4 are kept; one smaller than the header's room is not.
   */
  recycle (buffer: ArrayBuffer): void {
    if (this.#free.length < 4 && buffer.byteLength >= this.#head + 4096 && !this.#free.includes(buffer) && buffer !== this.#buf.buffer) this.#free.push(buffer)
  }

  /** Bytes written by `f` on a scratch writer state (for the parts made once). */
  #standalone (f: (w: OtlpProtoWriter) => void): Uint8Array {
    const saved = { buf: this.#buf, view: this.#view, bytes: this.#bytes, pos: this.pos }
    this.#buf = new Uint8Array(1024)
    this.#view = new DataView(this.#buf.buffer)
    this.#bytes = Buffer.from(this.#buf.buffer)
    this.pos = 0
    f(this)
    const out = this.#buf.slice(0, this.pos)
    // Restored (undefined in the constructor: set right after).
    this.#buf = saved.buf; this.#view = saved.view; this.#bytes = saved.bytes; this.pos = saved.pos
    return out
  }

  #ensure (n: number): void {
    if (this.pos + n <= this.#buf.length) return
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.pos + n + 1024))
    grown.set(this.#buf.subarray(0, this.pos))
    this.#buf = grown
    this.#view = new DataView(grown.buffer)
    this.#bytes = Buffer.from(grown.buffer)
  }

  /** Writes the length of the message that started at `body` into the 2 bytes kept at `lenAt`, moving the body when it needs 1 or 3+. */
  #closeLength (lenAt: number, body: number): void {
    const len = this.pos - body
    const b = this.#buf
    if (len < 0x80) {
      // Under 128 bytes (a route match span): moved back one byte by hand; copyWithin is a runtime call that
      // costs more than moving so few bytes.
      b[lenAt] = len
      const end = this.pos
      for (let i = body; i < end; i++) b[i - 1] = b[i] as number
      this.pos = end - 1
    } else if (len < 0x4000) {
      b[lenAt] = (len & 0x7f) | 0x80
      b[lenAt + 1] = len >>> 7
    } else {
      const extra = vlen(len) - 2
      this.#ensure(extra)
      const bb = this.#buf
      bb.copyWithin(body + extra, body, this.pos)
      this.pos = lenAt
      this.#varint(len)
      this.pos = body + extra + len
    }
  }

  #attribute (key: string, value: RecordValue): void {
    // Strings are almost always ASCII: lengths are taken as their .length and the bytes written in one pass;
    // a string that turns out not to be is written again, counted (#attributeUtf8).
    const at = this.pos
    const kl = key.length
    const sv = typeof value === 'string'
    const vl = sv ? (value as string).length : 0
    const al = sv ? 1 + vlen(vl) + vl : typeof value === 'boolean' ? 2 : Number.isSafeInteger(value) ? 1 + int64Len(value as number) : 9
    const len = 1 + vlen(kl) + kl + 1 + vlen(al) + al
    this.#ensure(len + 16)
    this.#byte(0x4a); this.#varint(len)
    this.#byte(0x0a); this.#varint(kl)
    if (!this.#ascii(key)) { this.pos = at; this.#attributeUtf8(key, value); return }
    this.#byte(0x12); this.#varint(al)
    if (sv) {
      this.#byte(0x0a); this.#varint(vl)
      if (!this.#ascii(value as string)) { this.pos = at; this.#attributeUtf8(key, value); return }
    } else if (typeof value === 'boolean') { this.#byte(0x10); this.#byte(value ? 1 : 0) }
    else if (Number.isSafeInteger(value)) { this.#byte(0x18); this.#int64(value as number) }
    else { this.#byte(0x21); this.#view.setFloat64(this.pos, value as number, true); this.pos += 8 }
  }

  /** The attributes of a frozen object: its bytes, made the first time (undefined and null values left out, as the SDK does). */
  #shared (o: Readonly<SpanAttributes>): void {
    // The last two objects seen first (a receive span's and a route's dispatch attributes alternate), then the map.
    let bytes = o === this.#lastShared ? this.#lastBytes : o === this.#prevShared ? this.#prevBytes : this.#sharedBytes.get(o)
    if (bytes !== undefined && o !== this.#lastShared) {
      this.#prevShared = this.#lastShared; this.#prevBytes = this.#lastBytes
      this.#lastShared = o; this.#lastBytes = bytes
    }
    if (bytes === undefined) {
      const at = this.pos
      for (const k in o) {
        const v = o[k] as RecordValue | undefined | null
        if (v !== undefined && v !== null) this.#attribute(k, v)
      }
      bytes = this.#buf.slice(at, this.pos)
      if (Object.isFrozen(o)) this.#sharedBytes.set(o, bytes)
      return
    }
    this.#ensure(bytes.length)
    this.#buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** Writes the chars of `s` as bytes while they are ASCII; false (and a partial write) at the first that is not. */
  #ascii (s: string): boolean {
    const b = this.#buf
    let p = this.pos
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return false
      b[p++] = c
    }
    this.pos = p
    return true
  }

  #attributeUtf8 (key: string, value: RecordValue): void {
    const kb = this.#enc(key)
    const vb = typeof value === 'string' ? this.#enc(value) : undefined
    const al = vb !== undefined ? 1 + vlen(vb.length) + vb.length : typeof value === 'boolean' ? 2 : Number.isSafeInteger(value) ? 1 + int64Len(value as number) : 9
    const len = 1 + vlen(kb.length) + kb.length + 1 + vlen(al) + al
    this.#ensure(len + 8)
    this.#byte(0x4a); this.#varint(len)
    this.#byte(0x0a); this.#varint(kb.length); this.#copy(kb)
    this.#byte(0x12); this.#varint(al)
    if (vb !== undefined) { this.#byte(0x0a); this.#varint(vb.length); this.#copy(vb) }
    else if (typeof value === 'boolean') { this.#byte(0x10); this.#byte(value ? 1 : 0) }
    else if (Number.isSafeInteger(value)) { this.#byte(0x18); this.#int64(value as number) }
    else { this.#byte(0x21); this.#view.setFloat64(this.pos, value as number, true); this.pos += 8 }
  }

  /**
   * `s` as UTF-8 bytes, for span names (the topic of a receive span), status messages and strings that are
   * not ASCII. They repeat: the bytes of strings up to 256 characters are kept (up to 4096 of them; the map
   * starts again when full).
   */
  #enc (s: string): Uint8Array {
    const hit = this.#cache.get(s)
    if (hit !== undefined) return hit
    const l = utf8Len(s)
    const e = new Uint8Array(l)
    if (l === s.length) for (let i = 0; i < l; i++) e[i] = s.charCodeAt(i)
    else Buffer.from(e.buffer).write(s, 0, 'utf8')
    if (s.length <= 256) {
      if (this.#cache.size >= 4096) this.#cache.clear()
      this.#cache.set(s, e)
    }
    return e
  }

  #copy (e: Uint8Array): void {
    const b = this.#buf
    let p = this.pos
    for (let i = 0; i < e.length; i++) b[p++] = e[i] as number
    this.pos = p
  }

  /** A KeyValue message body with a string value (the resource's). */
  #keyValue (key: string, value: string): void {
    this.#string(0x0a, key)
    const vl = utf8Len(value)
    this.#byte(0x12); this.#varint(1 + vlen(vl) + vl)
    this.#string(0x0a, value)
  }

  #byte (v: number): void { this.#buf[this.pos++] = v }

  #raw (bytes: Uint8Array): void { this.#buf.set(bytes, this.pos); this.pos += bytes.length }

  /** A length-delimited string field: tag, length, UTF-8. */
  #string (tag: number, s: string): void {
    const l = utf8Len(s)
    this.#ensure(l + 8)
    this.#byte(tag); this.#varint(l); this.#chars(s, l)
  }

  /** `s` as UTF-8, `l` bytes (room ensured). */
  #chars (s: string, l: number): void {
    if (l === s.length) {
      const b = this.#buf
      let p = this.pos
      for (let i = 0; i < l; i++) b[p++] = s.charCodeAt(i)
      this.pos = p
    } else {
      this.pos += this.#bytes.write(s, this.pos, 'utf8')
    }
  }

  /** A varint, 0 <= n < 2^32. */
  #varint (n: number): void {
    const b = this.#buf
    while (n >= 0x80) { b[this.pos++] = (n & 0x7f) | 0x80; n >>>= 7 }
    b[this.pos++] = n
  }

  /** An int64 varint of a safe integer (two's complement, 10 bytes, when negative). */
  #int64 (v: number): void {
    const b = this.#buf
    if (v >= 0) {
      while (v >= 0x80) { b[this.pos++] = (v % 128) | 0x80; v = Math.floor(v / 128) }
      b[this.pos++] = v
      return
    }
    let hi = Math.floor(v / TWO32)
    let lo = v - hi * TWO32
    hi = hi >>> 0
    for (let i = 0; i < 9; i++) {
      b[this.pos++] = (lo & 0x7f) | 0x80
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi = hi >>> 7
    }
    b[this.pos++] = lo & 0x01
  }

  /** A fixed64 at `at` of a non-negative double (nanoseconds since the epoch: exact to 256 ns today). */
  #fixed64 (at: number, v: number): void {
    const x = Math.floor(v)
    const hi = Math.floor(x / TWO32)
    const lo = x - hi * TWO32
    this.#view.setUint32(at, lo >>> 0, true)
    this.#view.setUint32(at + 4, hi >>> 0, true)
  }


}
