import { performance } from 'node:perf_hooks'
import type { Logger } from '../log.js'
import { hex8, IdPool, traceparentOf } from './idPool.js'
import { OTLP_KIND, type FromCompactWorker, type RecordValue, type ToCompactWorker } from './compactRecord.js'
import type { InboundForTrace, MessageSpan, MessageTracer, SpanAttributes, StageSpan } from './messageTracer.js'
import type { OtelCounters, OtelSettings, OtelTracing } from './otelTracer.js'
import { OtlpProtoWriter, type TraceWords } from './otlpProtobuf.js'

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
  /** Spans open at once, at most (SpanSlab); default 2^20. Past it a new message is not recorded (counted as dropped). */
  maxOpenSpans?: number
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
  /** The id words and start times of the spans open now (SpanSlab). */
  readonly slab: SpanSlab
  /** A trace id's words as the writer takes them: one object, overwritten for each span written. */
  readonly #words: TraceWords = { t0: 0, t1: 0, t2: 0, t3: 0 }
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
    this.slab = new SpanSlab(1024, o.maxOpenSpans ?? 1 << 20)
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
      return new UnsampledSpan(traceparentOf(parseInt(tp.slice(0, 8), 16), parseInt(tp.slice(8, 16), 16), parseInt(tp.slice(16, 24), 16), parseInt(tp.slice(24, 32), 16), ids.next(), ids.next(), false))
    }
    if (parent !== undefined) {
      const tp = parent.traceId
      const ps = parent.spanId
      return this.#root(msg, parseInt(tp.slice(0, 8), 16), parseInt(tp.slice(8, 16), 16), parseInt(tp.slice(16, 24), 16), parseInt(tp.slice(24, 32), 16), true, parseInt(ps.slice(0, 8), 16), parseInt(ps.slice(8, 16), 16))
    }
    const t0 = ids.next()
    const t1 = ids.next()
    const t2 = ids.next()
    const t3 = ids.next()
    // OpenTelemetry's TraceIdRatioBased rule: the xor of the trace id's four 32-bit words against ratio * 2^32.
    const sampled = this.#bound === 0x100000000 || (this.#bound !== 0 && ((t0 ^ t1 ^ t2 ^ t3) >>> 0) < this.#bound)
    // Not sampled: its traceparent now (a string), not its six id words (a heap number each) kept to make it later.
    if (!sampled) return new UnsampledSpan(traceparentOf(t0, t1, t2, t3, ids.next(), ids.next(), false))
    return this.#root(msg, t0, t1, t2, t3, false, 0, 0)
  }

  #root (msg: InboundForTrace, t0: number, t1: number, t2: number, t3: number, hasParent: boolean, p0: number, p1: number): MessageSpan {
    const slab = this.slab
    const at = slab.take()
    if (at < 0) return this.#overflow(t0, t1, t2, t3)
    const w = slab.words
    const k = at * SLOT_WORDS
    w[k] = t0; w[k + 1] = t1; w[k + 2] = t2; w[k + 3] = t3
    w[k + 4] = this.ids.next(); w[k + 5] = this.ids.next()
    w[k + 6] = p0; w[k + 7] = p1
    slab.starts[at] = this.now()
    return new RootSpan(this, msg, at, hasParent)
  }

  /** A slot for a stage of the root span in slot `root`: the trace id and its parent (the root) copied, its own span id drawn; -1: none left. */
  openStage (root: number): number {
    const slab = this.slab
    const at = slab.take()
    if (at < 0) { this.#dropOpen(); return -1 }
    const w = slab.words
    const k = at * SLOT_WORDS
    const r = root * SLOT_WORDS
    w[k] = w[r] as number; w[k + 1] = w[r + 1] as number; w[k + 2] = w[r + 2] as number; w[k + 3] = w[r + 3] as number
    w[k + 4] = this.ids.next(); w[k + 5] = this.ids.next()
    w[k + 6] = w[r + 4] as number; w[k + 7] = w[r + 5] as number
    slab.starts[at] = this.now()
    return at
  }

  /** As many spans open as the slab holds (a leak, or a flood): this message is not recorded, its context flagged not sampled, the span counted as dropped. */
  #overflow (t0: number, t1: number, t2: number, t3: number): MessageSpan {
    this.#dropOpen()
    return new UnsampledSpan(traceparentOf(t0, t1, t2, t3, this.ids.next(), this.ids.next(), false))
  }

  #dropOpen (): void {
    this.#dropped++
    this.#counters?.dropped(1)
  }

  /**
   * A finished span: appended to the batch, or dropped (queue full, or stopped). Its attributes: `shared` (a
   * frozen object a caller hands every span of its kind: encoded once, see OtlpProtoWriter), then `fixed` (read
   * now, not kept), then `kv` (key, value pairs; none of their keys is in `shared`).
   */
  write (name: string, nameSuffix: string, kind: number, at: number, hasParent: boolean, end: number, code: number, message: string, shared: Readonly<SpanAttributes> | undefined, fixed: readonly RecordValue[] | undefined, kv: readonly RecordValue[] | undefined): void {
    const slab = this.slab
    if (this.#closed) { slab.close(at); return }
    if (this.#pending >= this.#s.maxQueueSize) {
      this.#dropped++
      this.#counters?.dropped(1)
      if (!this.#warnedDrop) {
        this.#warnedDrop = true
        this.#log.warn({ code: 'TRACING_QUEUE_FULL', endpoint: this.#s.endpoint, maxQueueSize: this.#s.maxQueueSize }, 'tracing: export queue full, spans are dropped (logged once; iotless_trace_spans_dropped_total counts them)')
      }
      slab.close(at)
      return
    }
    this.#pending++
    const w = slab.words
    const k = at * SLOT_WORDS
    const t = this.#words
    t.t0 = w[k] as number; t.t1 = w[k + 1] as number; t.t2 = w[k + 2] as number; t.t3 = w[k + 3] as number
    const s0 = w[k + 4] as number
    const s1 = w[k + 5] as number
    const p0 = w[k + 6] as number
    const p1 = w[k + 7] as number
    const start = slab.starts[at] as number
    slab.close(at)
    if (this.#proto !== undefined) this.#proto.span(name, nameSuffix, kind, t, s0, s1, hasParent, p0, p1, start, end, code, message, shared, fixed, kv)
    else this.#record(nameSuffix === '' ? name : name + nameSuffix, kind, hex8(t.t0) + hex8(t.t1) + hex8(t.t2) + hex8(t.t3), hex8(s0) + hex8(s1), hasParent ? hex8(p0) + hex8(p1) : '', start, end, code, message, shared, fixed, kv)
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

/** 32-bit words per slot of a SpanSlab: trace id (4), span id (2), parent span id (2). */
const SLOT_WORDS = 8

/**
 * The ids and start times of the spans open now, in typed arrays: a span object keeps the index of its slot
 * (a small integer), not eight id words and a time, each of which, a random 32-bit word being most often
 * out of V8's small-integer range, would be a heap number of its own. The in-flight messages' spans are what a
 * scavenge finds alive and copies: about 250 bytes a root span in heap numbers and fields (a micro-benchmark
 * on this box) against 50 now. A slot is taken when a span starts and given back when it ends (write); the
 * slab grows by doubling up to `max` slots, after which a new span is not recorded (counted as dropped).
 */
export class SpanSlab {
  words: Uint32Array
  starts: Float64Array
  readonly max: number
  #free: Int32Array
  #top = 0
  /** Slots handed out at least once (the rest are fresh). */
  #used = 0
  #open = 0

  constructor (size = 1024, max = 1 << 20) {
    size = Math.max(1, Math.min(size, max))
    this.max = Math.max(size, max)
    this.words = new Uint32Array(size * SLOT_WORDS)
    this.starts = new Float64Array(size)
    this.#free = new Int32Array(size)
  }

  /** Spans open now. */
  get open (): number { return this.#open }

  /** A slot for a span that starts; -1 when `max` are open. */
  take (): number {
    let at: number
    if (this.#top > 0) at = this.#free[--this.#top] as number
    else {
      if (this.#used === this.starts.length && !this.#grow()) return -1
      at = this.#used++
    }
    this.#open++
    return at
  }

  /** Gives back the slot of a span that ended (its words are not read again). */
  close (at: number): void {
    if (at < 0) return
    this.#free[this.#top++] = at
    this.#open--
  }

  #grow (): boolean {
    const n = this.starts.length
    if (n >= this.max) return false
    const m = Math.min(this.max, n * 2)
    const w = new Uint32Array(m * SLOT_WORDS); w.set(this.words); this.words = w
    const st = new Float64Array(m); st.set(this.starts); this.starts = st
    const f = new Int32Array(m); f.set(this.#free.subarray(0, this.#top)); this.#free = f
    return true
  }
}

/** Not sampled: the message and all its stages hand on one context (flags 00). */
class UnsampledSpan implements MessageSpan, StageSpan {
  readonly traceparent: string
  constructor (traceparent: string) { this.traceparent = traceparent }
  get recording (): boolean { return false }
  stage (): StageSpan { return this }
  set (): void {}
  end (): void {}
}

const LEFT = 'left to the broker to deliver again'

/** The traceparent of the span in slot `at` (sampled). */
function slotTraceparent (slab: SpanSlab, at: number): string {
  const w = slab.words
  const k = at * SLOT_WORDS
  return traceparentOf(w[k] as number, w[k + 1] as number, w[k + 2] as number, w[k + 3] as number, w[k + 4] as number, w[k + 5] as number, true)
}

/** The message's receive span: its ids and start in the tracer's slab (slot `at`), until it ends. */
class RootSpan implements MessageSpan {
  readonly t: CompactTracer
  /** Its slab slot; -1 once ended. */
  at: number
  readonly #hasParent: boolean
  readonly #topic: string
  readonly #qos: number
  readonly #size: number
  #kv: RecordValue[] | undefined = undefined
  /** cloudevents.event_id while it is the only attribute set (the pipeline's case): a field, not a list. */
  #eventId: RecordValue | undefined = undefined
  #tp: string | undefined

  constructor (t: CompactTracer, msg: InboundForTrace, at: number, hasParent: boolean) {
    this.t = t
    this.at = at
    this.#hasParent = hasParent
    this.#topic = msg.topic
    this.#qos = msg.qos
    this.#size = msg.payload.length
  }

  /** Read once it has ended (and not before): the empty string (its ids are gone with its slot). */
  get traceparent (): string { return (this.#tp ??= this.at < 0 ? '' : slotTraceparent(this.t.slab, this.at)) }

  set (key: string, value: string | number | boolean): void {
    if (this.at < 0 || value === undefined || value === null) return
    if (this.#kv === undefined) {
      if (key === EVENT_ID) { this.#eventId = value; return }
      this.#kv = this.#eventId === undefined ? [] : [EVENT_ID, this.#eventId]
    }
    setKv(this.#kv, key, value)
  }

  stage (name: string, attributes?: SpanAttributes): StageSpan {
    if (this.at < 0) return ENDED
    const kind = name === 'dispatch' ? OTLP_KIND.client : name === 'reply publish' || name === 'dead letter' ? OTLP_KIND.producer : OTLP_KIND.internal
    const at = this.t.openStage(this.at)
    return at < 0 ? ENDED : new Stage(this.t, at, name, kind, attributes)
  }

  end (outcome: string): void {
    const at = this.at
    if (at < 0) return
    this.at = -1
    const kv = this.#kv
    // The receive span's varying attributes, in arrays reused by every message (write reads them at once):
    // then its event id and outcome, in that order, as a list of its own would have them.
    let f: RecordValue[]
    if (kv !== undefined) { setKv(kv, 'iotless.outcome', outcome); f = RECEIVE_FIXED }
    else if (this.#eventId !== undefined) { f = RECEIVE_FIXED_ID; f[7] = this.#eventId; f[9] = outcome }
    else { f = RECEIVE_FIXED_OUTCOME; f[7] = outcome }
    f[1] = this.#topic
    f[3] = this.#qos
    f[5] = this.#size
    const leave = outcome === 'leave'
    this.t.write(this.#topic, ' receive', OTLP_KIND.consumer, at, this.#hasParent, this.t.now(), leave ? 2 : 0, leave ? LEFT : '', RECEIVE_SHARED, f, kv)
  }
}

const RECEIVE_SHARED: Readonly<SpanAttributes> = Object.freeze({ 'messaging.system': 'mqtt', 'messaging.operation.type': 'receive' })
const RECEIVE_FIXED: RecordValue[] = ['messaging.destination.name', '', 'messaging.mqtt.qos', 0, 'messaging.message.body.size', 0]
const EVENT_ID = 'cloudevents.event_id'
const RECEIVE_FIXED_ID: RecordValue[] = [...RECEIVE_FIXED, EVENT_ID, '', 'iotless.outcome', '']
const RECEIVE_FIXED_OUTCOME: RecordValue[] = [...RECEIVE_FIXED, 'iotless.outcome', '']
/** A stage's one attribute of its own (the dispatch span's attempt number), reused by every span (write reads it at once). */
const STAGE_FIXED: RecordValue[] = ['', 0]

/** A stage that records nothing: of a root span that had ended, or when the slab was full. */
const ENDED: StageSpan = Object.freeze({ traceparent: undefined, recording: false, set () {}, end () {} })

class Stage implements StageSpan {
  readonly #t: CompactTracer
  /** Its slab slot (its ids, its parent's, its start); -1 once ended. */
  #at: number
  readonly #name: string
  readonly #kind: number
  /** The caller's attributes when it froze them (the same object for every span of a route): kept, not copied. */
  #shared: Readonly<SpanAttributes> | undefined
  #kv: RecordValue[] | undefined
  /** With no list: the one key set (not one of theirs) and its value, as fields. */
  #key: string | undefined
  #value: RecordValue | undefined
  #tp: string | undefined

  constructor (t: CompactTracer, at: number, name: string, kind: number, attributes: SpanAttributes | undefined) {
    this.#t = t
    this.#at = at
    this.#name = name
    this.#kind = kind
    if (attributes !== undefined && Object.isFrozen(attributes)) this.#shared = attributes
    else if (attributes !== undefined) {
      const kv: RecordValue[] = this.#kv = []
      for (const k in attributes) setKv(kv, k, attributes[k] as RecordValue)
    }
  }

  /** Read once it has ended (and not before): undefined (its ids are gone with its slot). */
  get traceparent (): string | undefined { return this.#tp ?? (this.#at < 0 ? undefined : (this.#tp = slotTraceparent(this.#t.slab, this.#at))) }

  set (key: string, value: string | number | boolean): void {
    if (this.#at < 0 || value === undefined || value === null) return
    const shared = this.#shared
    if (this.#kv === undefined && (shared === undefined || !(key in shared)) && (this.#key === undefined || this.#key === key)) {
      this.#key = key
      this.#value = value
      return
    }
    if (this.#key !== undefined) {
      this.#kv = [this.#key, this.#value as RecordValue]
      this.#key = undefined
      this.#value = undefined
    }
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
    const at = this.#at
    if (at < 0) return
    this.#at = -1
    let f: RecordValue[] | undefined
    if (this.#key !== undefined) { f = STAGE_FIXED; f[0] = this.#key; f[1] = this.#value as RecordValue }
    this.#t.write(this.#name, '', this.#kind, at, true, this.#t.now(), error === undefined ? 0 : 2, error ?? '', this.#shared, f, this.#kv)
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
