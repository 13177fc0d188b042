import { performance } from 'node:perf_hooks'
import type { Logger } from '../log.js'
import { hex8, IdPool, traceparentOf } from './idPool.js'
import { OTLP_KIND, type FromCompactWorker, type RecordValue, type ToCompactWorker } from './compactRecord.js'
import type { InboundForTrace, MessageSpan, MessageTracer, SpanAttributes, StageSpan } from './messageTracer.js'
import type { OtelCounters, OtelSettings, OtelTracing } from './otelTracer.js'
import { OtlpProtoWriter } from './otlpProtobuf.js'

const SCOPE = 'iotless-adapter'

/** Where a batch goes: the export worker (compactExport.ts), or a test's stand-in. */
export interface CompactTransport {
  post(m: ToCompactWorker, transfer?: ArrayBuffer[]): void
  /** Called with each of the worker's answers. */
  onMessage(f: (m: FromCompactWorker) => void): void
  /** Keeps the process alive while it drains (shutdown), or not. */
  ref(on: boolean): void
  terminate(): Promise<void>
}

export interface CompactOptions {
  /** Spans sent at once, at most. */
  maxBatchSize?: number
  /** Random bytes for ids (tests); default crypto.randomFillSync. */
  fill?: (b: Uint32Array) => void
  /** ms since the epoch (tests); default performance.timeOrigin + performance.now(). */
  now?: () => number
}

const W3C = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/

/** A W3C traceparent as OpenTelemetry's W3CTraceContextPropagator reads it; undefined: none or invalid. */
export function parseParent (tp: string | undefined): { traceId: string; spanId: string; sampled: boolean } | undefined {
  if (tp === undefined) return undefined
  const m = W3C.exec(tp)
  if (m === null || (m[1] === '00' && m[5] !== undefined)) return undefined
  return { traceId: m[2] as string, spanId: m[3] as string, sampled: (parseInt(m[4] as string, 16) & 1) === 1 }
}

const origin = performance.timeOrigin
const wallNow = (): number => origin + performance.now()

/**
 * The adapter's spans without the SDK's span objects (`tracing.engine: compact`, docs/tracing.md): the same
 * spans, names, attributes, kinds, statuses and parent links as the SDK engine (otelTracer.ts), the same
 * parent-based sampling (a remote parent's decision is followed; a new trace is sampled by OpenTelemetry's
 * TraceIdRatioBased rule on its trace id), and the same W3C traceparent handed on. A finished span is
 * written straight into the batch's OTLP protobuf bytes (otlpProtobuf.ts; with `tracing.protocol:
 * http/json`, appended to one flat array of plain values, compactRecord.ts, which the worker encodes); a
 * frozen attribute object (a route's dispatch attributes) is kept, not copied, and its bytes made once. A
 * batch goes to the export worker as one transferred ArrayBuffer, which comes back for a later batch once
 * sent. Ids come from a pool of random 32-bit words (idPool.ts), made hex only for a traceparent read. A
 * message that is not sampled costs one small object: its traceparent is built only if something reads it.
 * The queue is bounded as the SDK engine's: while `maxQueueSize` spans wait for their export's outcome new
 * ones are dropped, counted and logged once; a failed export is counted and logged once.
 */
export class CompactTracer implements MessageTracer {
  readonly ids: IdPool
  readonly now: () => number
  readonly #s: OtelSettings
  readonly #log: Logger
  readonly #counters: OtelCounters | undefined
  readonly #transport: CompactTransport
  readonly #maxBatch: number
  /** http/protobuf: spans written as bytes as they end; http/json: as flat records, encoded by the worker. */
  readonly #proto: OtlpProtoWriter | undefined
  /** 2^32 * ratio, as TraceIdRatioBasedSampler's bound. */
  readonly #bound: number
  records: RecordValue[] = []
  length = 0
  #inBatch = 0
  #timer: NodeJS.Timeout | undefined
  #pending = 0
  #dropped = 0
  #warnedDrop = false
  #warnedFail = false
  #closed = false
  #idle: Array<() => void> = []

  constructor (s: OtelSettings, log: Logger, counters: OtelCounters | undefined, transport: CompactTransport, o: CompactOptions = {}) {
    this.#s = s
    this.#log = log
    this.#counters = counters
    this.#transport = transport
    // Each export costs about a millisecond of CPU (the hand-over, the worker's wake-up, the HTTP request),
    // whatever its size: batches of up to 1024 spans (the SDK's default is 512), half the queue at most, so
    // that one batch can be in flight while the next fills.
    this.#maxBatch = o.maxBatchSize ?? Math.max(1, Math.min(1024, Math.floor(s.maxQueueSize / 2)))
    this.#proto = (s.protocol ?? 'http/protobuf') === 'http/protobuf' ? new OtlpProtoWriter(s.serviceName, SCOPE) : undefined
    this.ids = new IdPool(4096, o.fill)
    this.now = o.now ?? wallNow
    const r = s.sampleRatio
    this.#bound = r >= 1 ? 0x100000000 : r <= 0 ? 0 : Math.floor(r * 0xffffffff)
    transport.onMessage((m) => {
      if (m.type !== 'done') return
      if (m.buffer !== undefined) this.#proto?.recycle(m.buffer)
      this.#done(m.n, m.ok, m.error)
    })
  }

  /** Spans dropped because the queue was full. */
  get droppedSpans (): number { return this.#dropped }

  begin (msg: InboundForTrace): MessageSpan {
    const ids = this.ids
    const parent = parseParent(msg.traceparent)
    if (parent !== undefined && !parent.sampled) {
      const tp = parent.traceId
      return new UnsampledSpan(parseInt(tp.slice(0, 8), 16), parseInt(tp.slice(8, 16), 16), parseInt(tp.slice(16, 24), 16), parseInt(tp.slice(24, 32), 16), tp, ids.next(), ids.next())
    }
    if (parent !== undefined) {
      const tp = parent.traceId
      const ps = parent.spanId
      return new RootSpan(this, msg, parseInt(tp.slice(0, 8), 16), parseInt(tp.slice(8, 16), 16), parseInt(tp.slice(16, 24), 16), parseInt(tp.slice(24, 32), 16), tp, ids.next(), ids.next(), true, parseInt(ps.slice(0, 8), 16), parseInt(ps.slice(8, 16), 16), this.now())
    }
    const t0 = ids.next()
    const t1 = ids.next()
    const t2 = ids.next()
    const t3 = ids.next()
    // OpenTelemetry's TraceIdRatioBased rule: the xor of the trace id's four 32-bit words against ratio * 2^32.
    const sampled = this.#bound === 0x100000000 || (this.#bound !== 0 && ((t0 ^ t1 ^ t2 ^ t3) >>> 0) < this.#bound)
    if (!sampled) return new UnsampledSpan(t0, t1, t2, t3, undefined, ids.next(), ids.next())
    return new RootSpan(this, msg, t0, t1, t2, t3, undefined, ids.next(), ids.next(), false, 0, 0, this.now())
  }

  /**
   * A finished span: appended to the batch, or dropped (queue full, or stopped). Its attributes: `shared` (a
   * frozen object a caller hands every span of its kind: encoded once, see OtlpProtoWriter), then `fixed` (read
   * now, not kept), then `kv` (key, value pairs; none of their keys is in `shared`).
   */
  write (name: string, nameSuffix: string, kind: number, t: TraceIds, s0: number, s1: number, hasParent: boolean, p0: number, p1: number, start: number, end: number, code: number, message: string, shared: Readonly<SpanAttributes> | undefined, fixed: readonly RecordValue[] | undefined, kv: readonly RecordValue[] | undefined): void {
    if (this.#closed) return
    if (this.#pending >= this.#s.maxQueueSize) {
      this.#dropped++
      this.#counters?.dropped(1)
      if (!this.#warnedDrop) {
        this.#warnedDrop = true
        this.#log.warn({ code: 'TRACING_QUEUE_FULL', endpoint: this.#s.endpoint, maxQueueSize: this.#s.maxQueueSize }, 'tracing: export queue full, spans are dropped (logged once; iotless_trace_spans_dropped_total counts them)')
      }
      return
    }
    this.#pending++
    if (this.#proto !== undefined) this.#proto.span(name, nameSuffix, kind, t, s0, s1, hasParent, p0, p1, start, end, code, message, shared, fixed, kv)
    else this.#record(nameSuffix === '' ? name : name + nameSuffix, kind, traceHex(t), hex8(s0) + hex8(s1), hasParent ? hex8(p0) + hex8(p1) : '', start, end, code, message, shared, fixed, kv)
    if (++this.#inBatch >= this.#maxBatch) this.#send()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => { this.#send() }, this.#s.scheduledDelayMs)
      this.#timer.unref()
    }
  }

  #record (name: string, kind: number, traceId: string, spanId: string, parentId: string, start: number, end: number, code: number, message: string, shared: Readonly<SpanAttributes> | undefined, fixed: readonly RecordValue[] | undefined, kv: readonly RecordValue[] | undefined): void {
    const r = this.records
    let w = this.length
    r[w++] = name; r[w++] = kind; r[w++] = traceId; r[w++] = spanId; r[w++] = parentId
    r[w++] = start; r[w++] = end; r[w++] = code; r[w++] = message
    const countAt = w++
    let n = 0
    if (shared !== undefined) {
      for (const k in shared) {
        const v = shared[k] as RecordValue | undefined | null
        if (v !== undefined && v !== null) { r[w++] = k; r[w++] = v; n++ }
      }
    }
    const nf = fixed === undefined ? 0 : fixed.length
    for (let k = 0; k < nf; k++) r[w++] = (fixed as RecordValue[])[k] as RecordValue
    const nk = kv === undefined ? 0 : kv.length
    for (let k = 0; k < nk; k++) r[w++] = (kv as RecordValue[])[k] as RecordValue
    r[countAt] = n + (nf + nk) / 2
    this.length = w
  }

  #send (): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#inBatch === 0) return
    const n = this.#inBatch
    this.#inBatch = 0
    if (this.#proto !== undefined) {
      // The request's bytes move to the worker (transferred, not copied).
      const b = this.#proto.finish()
      this.#transport.post({ type: 'proto', buffer: b.buffer, start: b.start, end: b.end, n }, [b.buffer])
      return
    }
    // A structured clone of plain values (the tail a bigger batch left is cut first); the array is then
    // reused: its old values are overwritten.
    this.records.length = this.length
    this.#transport.post({ type: 'records', records: this.records, length: this.length, n })
    this.length = 0
  }

  async forceFlush (waitMs = this.#s.exportTimeoutMs + 1000): Promise<void> {
    this.#send()
    if (this.#pending === 0) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, waitMs))
      this.#idle.push(() => { clearTimeout(t); resolve() })
    })
  }

  /** Exports what is queued and stops the worker, within one export timeout (+1 s) in all. */
  async shutdown (): Promise<void> {
    if (this.#closed) return
    const deadline = Date.now() + this.#s.exportTimeoutMs + 1000
    this.#transport.ref(true)
    await this.forceFlush(deadline - Date.now())
    this.#closed = true
    const closed = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()))
      this.#transport.onMessage((m) => { if (m.type === 'closed') { clearTimeout(t); resolve() } })
    })
    this.#transport.post({ type: 'shutdown' })
    await closed
    await this.#transport.terminate()
  }

  #done (n: number, ok: boolean, error: string | undefined): void {
    this.#pending -= n
    if (ok) this.#counters?.exported(n)
    else {
      this.#counters?.failed(n)
      if (!this.#warnedFail) {
        this.#warnedFail = true
        this.#log.warn({ code: 'TRACING_EXPORT_FAILED', endpoint: this.#s.endpoint, err: error }, 'tracing: spans could not be exported (logged once; iotless_trace_spans_failed_total counts them)')
      }
    }
    if (this.#pending <= 0) for (const f of this.#idle.splice(0)) f()
  }
}

/** Sets `key` in a flat key, value list (the last value wins, as Span.setAttribute); undefined and null are ignored, as the SDK does. */
function setKv (kv: RecordValue[], key: string, value: RecordValue | undefined | null): void {
  if (value === undefined || value === null) return
  for (let k = 0; k < kv.length; k += 2) if (kv[k] === key) { kv[k + 1] = value; return }
  kv.push(key, value)
}

/** A trace id: its four 32-bit words (big-endian order), and its hex once made (the root span is one). */
export interface TraceIds { t0: number; t1: number; t2: number; t3: number; hex: string | undefined }

function traceHex (t: TraceIds): string { return (t.hex ??= hex8(t.t0) + hex8(t.t1) + hex8(t.t2) + hex8(t.t3)) }

/** Not sampled: the message and all its stages hand on one context (flags 00), built only when read. */
class UnsampledSpan implements MessageSpan, StageSpan, TraceIds {
  t0: number
  t1: number
  t2: number
  t3: number
  hex: string | undefined
  readonly #s0: number
  readonly #s1: number
  #tp: string | undefined
  constructor (t0: number, t1: number, t2: number, t3: number, hex: string | undefined, s0: number, s1: number) { this.t0 = t0; this.t1 = t1; this.t2 = t2; this.t3 = t3; this.hex = hex; this.#s0 = s0; this.#s1 = s1 }
  get traceparent (): string { return (this.#tp ??= traceparentOf(this.t0, this.t1, this.t2, this.t3, this.#s0, this.#s1, false)) }
  get recording (): boolean { return false }
  stage (): StageSpan { return this }
  set (): void {}
  end (): void {}
}

const LEFT = 'left to the broker to deliver again'

/** The message's receive span; it is its trace's ids too (no object of their own). */
class RootSpan implements MessageSpan, TraceIds {
  readonly t: CompactTracer
  t0: number
  t1: number
  t2: number
  t3: number
  hex: string | undefined
  readonly s0: number
  readonly s1: number
  readonly #hasParent: boolean
  readonly #p0: number
  readonly #p1: number
  readonly #start: number
  readonly #topic: string
  readonly #qos: number
  readonly #size: number
  #kv: RecordValue[] | undefined = undefined
  #tp: string | undefined
  #done = false

  constructor (t: CompactTracer, msg: InboundForTrace, t0: number, t1: number, t2: number, t3: number, hex: string | undefined, s0: number, s1: number, hasParent: boolean, p0: number, p1: number, start: number) {
    this.t = t
    this.t0 = t0
    this.t1 = t1
    this.t2 = t2
    this.t3 = t3
    this.hex = hex
    this.s0 = s0
    this.s1 = s1
    this.#hasParent = hasParent
    this.#p0 = p0
    this.#p1 = p1
    this.#start = start
    this.#topic = msg.topic
    this.#qos = msg.qos
    this.#size = msg.payload.length
  }

  get traceparent (): string { return (this.#tp ??= traceparentOf(this.t0, this.t1, this.t2, this.t3, this.s0, this.s1, true)) }

  set (key: string, value: string | number | boolean): void { if (!this.#done) setKv(this.#kv ??= [], key, value) }

  stage (name: string, attributes?: SpanAttributes): StageSpan {
    const kind = name === 'dispatch' ? OTLP_KIND.client : name === 'reply publish' || name === 'dead letter' ? OTLP_KIND.producer : OTLP_KIND.internal
    return new Stage(this, name, kind, attributes)
  }

  end (outcome: string): void {
    if (this.#done) return
    this.#done = true
    setKv(this.#kv ??= [], 'iotless.outcome', outcome)
    const leave = outcome === 'leave'
    // The receive span's varying attributes, in one array reused by every message (write reads it at once).
    const f = RECEIVE_FIXED
    f[1] = this.#topic
    f[3] = this.#qos
    f[5] = this.#size
    this.t.write(this.#topic, ' receive', OTLP_KIND.consumer, this, this.s0, this.s1, this.#hasParent, this.#p0, this.#p1, this.#start, this.t.now(), leave ? 2 : 0, leave ? LEFT : '', RECEIVE_SHARED, f, this.#kv)
  }
}

const RECEIVE_SHARED: Readonly<SpanAttributes> = Object.freeze({ 'messaging.system': 'mqtt', 'messaging.operation.type': 'receive' })
const RECEIVE_FIXED: RecordValue[] = ['messaging.destination.name', '', 'messaging.mqtt.qos', 0, 'messaging.message.body.size', 0]

class Stage implements StageSpan {
  readonly #root: RootSpan
  readonly #name: string
  readonly #kind: number
  readonly #s0: number
  readonly #s1: number
  readonly #start: number
  /** The caller's attributes when it froze them (the same object for every span of a route): kept, not copied. */
  #shared: Readonly<SpanAttributes> | undefined
  #kv: RecordValue[] | undefined
  #tp: string | undefined
  #done = false

  constructor (root: RootSpan, name: string, kind: number, attributes: SpanAttributes | undefined) {
    this.#root = root
    this.#name = name
    this.#kind = kind
    const ids = root.t.ids
    this.#s0 = ids.next()
    this.#s1 = ids.next()
    if (attributes !== undefined && Object.isFrozen(attributes)) this.#shared = attributes
    else if (attributes !== undefined) {
      const kv: RecordValue[] = this.#kv = []
      for (const k in attributes) setKv(kv, k, attributes[k] as RecordValue)
    }
    this.#start = root.t.now()
  }

  get traceparent (): string { const r = this.#root; return (this.#tp ??= traceparentOf(r.t0, r.t1, r.t2, r.t3, this.#s0, this.#s1, true)) }

  set (key: string, value: string | number | boolean): void {
    if (this.#done) return
    const shared = this.#shared
    if (shared !== undefined && key in shared) {
      // Setting a key the shared attributes have: they become this span's own, the new value wins.
      this.#shared = undefined
      const kv: RecordValue[] = []
      for (const k in shared) setKv(kv, k, shared[k] as RecordValue)
      for (let k = 0; k < (this.#kv?.length ?? 0); k += 2) setKv(kv, (this.#kv as RecordValue[])[k] as string, (this.#kv as RecordValue[])[k + 1])
      this.#kv = kv
    }
    setKv(this.#kv ??= [], key, value)
  }

  end (error?: string): void {
    if (this.#done) return
    this.#done = true
    const r = this.#root
    r.t.write(this.#name, '', this.#kind, r, this.#s0, this.#s1, true, r.s0, r.s1, this.#start, r.t.now(), error === undefined ? 0 : 2, error ?? '', this.#shared, undefined, this.#kv)
  }
}

/** The compact engine with its export worker (compactExport.ts): what stack.ts starts for `tracing.engine: compact`. */
export async function startCompactTracing (s: OtelSettings, log: Logger, counters?: OtelCounters, o: CompactOptions = {}): Promise<OtelTracing> {
  const { workerTransport } = await import('./compactExport.js')
  const tracer = new CompactTracer(s, log, counters, workerTransport(s, log), o)
  return {
    tracer,
    get droppedSpans () { return tracer.droppedSpans },
    shutdown: () => tracer.shutdown()
  }
}
