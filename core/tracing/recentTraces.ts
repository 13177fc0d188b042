import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { InboundForTrace, MessageSpan, MessageTracer, SpanAttributes, StageSpan } from './messageTracer.js'

/** One finished span as the dashboard draws it: times in ms since the epoch. */
export interface SpanRecord {
  spanId: string
  parentSpanId: string | undefined
  name: string
  startMs: number
  endMs: number
  attributes: SpanAttributes
  error: string | undefined
}

/** One message's trace: its topic, the start of its payload, its outcome and its spans (root first). */
export interface TraceRecord {
  traceId: string
  topic: string
  /** The first `previewBytes` of the payload as UTF-8 text, unescaped: whoever shows it escapes it. */
  payloadPreview: string
  payloadBytes: number
  qos: number
  outcome: string
  startMs: number
  endMs: number
  spans: SpanRecord[]
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/

/** The trace id and parent span id of a W3C traceparent, or undefined when it is not one (all-zero ids included). */
export function parseTraceparent (value: string | undefined): { traceId: string; spanId: string } | undefined {
  if (value === undefined) return undefined
  const m = TRACEPARENT.exec(value.trim())
  if (m === null) return undefined
  const traceId = m[1] as string
  const spanId = m[2] as string
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId }
}

export interface RecentTracesOptions {
  /** How many finished message traces to keep (the oldest is dropped first). */
  capacity: number
  clock: Clock
  previewBytes?: number
  /**
   * How many messages a second are recorded at most, in the long run (a token bucket holding `capacity` messages,
   * so a burst up to the ring's size is recorded whole); the others cost one clock read. Default: every message.
   */
  perSecond?: number
  /** Ids for tests; default: random. */
  newId?: (bytes: 8 | 16) => string
}

const NOOP = (): void => {}
/** A stage of a message the ring does not record: hands on no context, records nothing. */
const PASSIVE_STAGE: StageSpan = Object.freeze({ recording: false, set: NOOP, end: NOOP })
const passiveStage = (): StageSpan => PASSIVE_STAGE

/**
 * An in-process MessageTracer that keeps the last `capacity` message traces in a ring, for the dashboard's
 * waterfall and `iotless status`. It needs no exporter and nothing outside the process. It hands on no trace
 * context of its own (its stages carry no traceparent), so it never changes what a function receives.
 */
export class RecentTraces implements MessageTracer {
  readonly #o: RecentTracesOptions
  readonly #ring: TraceRecord[] = []
  #next = 0
  #finished = 0
  #skipped = 0
  /** The bucket's messages and when it was last filled (perSecond set). */
  #tokens: number
  #filledAt: number
  readonly #perMs: number

  constructor (opts: RecentTracesOptions) {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) throw new RangeError(`RecentTraces capacity must be a positive integer, got ${opts.capacity}`)
    const perSecond = opts.perSecond ?? Infinity
    if (!(perSecond > 0)) throw new RangeError(`RecentTraces perSecond must be positive, got ${perSecond}`)
    this.#o = opts
    this.#perMs = perSecond / 1000
    this.#tokens = opts.capacity
    this.#filledAt = opts.clock.now()
  }

  /** Message traces recorded and finished since start (including those the ring has dropped). */
  get finished (): number { return this.#finished }

  /** Messages not recorded because more than `perSecond` came (a burst past the ring's size, in the long run). */
  get skipped (): number { return this.#skipped }

  /** Whether this message is recorded: a token from the bucket, refilled at perSecond up to `capacity`. */
  #admit (): boolean {
    if (this.#perMs === Infinity) return true
    const now = this.#o.clock.now()
    this.#tokens = Math.min(this.#o.capacity, this.#tokens + (now - this.#filledAt) * this.#perMs)
    this.#filledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** The kept traces, newest first. */
  recent (limit = this.#o.capacity): TraceRecord[] {
    const n = this.#ring.length
    const out: TraceRecord[] = []
    for (let k = 1; k <= Math.min(limit, n); k++) out.push(this.#ring[(this.#next - k + n) % n] as TraceRecord)
    return out
  }

  begin (msg: InboundForTrace): MessageSpan {
    if (!this.#admit()) {
      this.#skipped++
      return { traceparent: msg.traceparent ?? '', recording: false, stage: passiveStage, set: NOOP, end: NOOP }
    }
    const clock = this.#o.clock
    const newId = this.#o.newId ?? ((b: 8 | 16) => randomBytes(b).toString('hex'))
    const parent = parseTraceparent(msg.traceparent)
    const traceId = parent?.traceId ?? newId(16)
    const rootId = newId(8)
    const startMs = clock.now()
    const rootAttrs: SpanAttributes = { 'messaging.destination.name': msg.topic, 'messaging.mqtt.qos': msg.qos }
    if (msg.eventId !== undefined) rootAttrs['cloudevents.event_id'] = msg.eventId
    const spans: SpanRecord[] = []
    const root: SpanRecord = { spanId: rootId, parentSpanId: parent?.spanId, name: 'mqtt receive', startMs, endMs: startMs, attributes: rootAttrs, error: undefined }
    let ended = false
    const previewBytes = this.#o.previewBytes ?? 256
    return {
      traceparent: `00-${traceId}-${rootId}-01`,
      set: (key, value) => { rootAttrs[key] = value },
      stage: (name: string, attributes: SpanAttributes = {}): StageSpan => {
        const span: SpanRecord = { spanId: newId(8), parentSpanId: rootId, name, startMs: clock.now(), endMs: 0, attributes: { ...attributes }, error: undefined }
        let done = false
        return {
          set: (key, value) => { span.attributes[key] = value },
          end: (error?: string) => {
            if (done) return
            done = true
            span.endMs = clock.now()
            span.error = error
            spans.push(span)
          }
        }
      },
      end: (outcome: string) => {
        if (ended) return
        ended = true
        root.endMs = clock.now()
        root.attributes['iotless.outcome'] = outcome
        spans.sort((a, b) => a.startMs - b.startMs)
        this.#push({
          traceId,
          topic: msg.topic,
          payloadPreview: msg.payload.subarray(0, previewBytes).toString('utf8'),
          payloadBytes: msg.payload.length,
          qos: msg.qos,
          outcome,
          startMs,
          endMs: root.endMs,
          spans: [root, ...spans]
        })
      }
    }
  }

  #push (t: TraceRecord): void {
    this.#finished++
    if (this.#ring.length < this.#o.capacity) {
      this.#ring.push(t)
      this.#next = this.#ring.length % this.#o.capacity
      return
    }
    this.#ring[this.#next] = t
    this.#next = (this.#next + 1) % this.#o.capacity
  }
}
