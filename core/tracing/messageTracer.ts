/**
 * The hook the adapter's pipeline calls to record what happens to one message: a root span for the message
 * and child spans for its stages (route match, dispatch, reply publish, dead letter). The pipeline is handed
 * a MessageTracer, or none: with none it does no tracing work at all.
 */
export type SpanAttributes = Record<string, string | number | boolean>

/** One stage of a message; `end` once, with an error text when the stage failed. */
export interface StageSpan {
  /** The W3C traceparent that makes a downstream span (the function's) a child of this one; none: do not propagate. */
  readonly traceparent?: string | undefined
  /** false: not recorded (sampled out); `set` and `end` do nothing, the caller may skip them. Absent: recorded. */
  readonly recording?: boolean
  set(key: string, value: string | number | boolean): void
  end(error?: string): void
}

/** One message's trace, from receipt to its outcome. */
export interface MessageSpan {
  /** The W3C traceparent of this message's span (the incoming one's trace, this span as parent). */
  readonly traceparent: string
  /** false: not recorded (sampled out): its stages only hand on its context. Absent: recorded. */
  readonly recording?: boolean
  stage(name: string, attributes?: SpanAttributes): StageSpan
  set(key: string, value: string | number | boolean): void
  /** The message's outcome: `ack` or `leave`, or `unrouted`. */
  end(outcome: string): void
}

export interface InboundForTrace {
  topic: string
  payload: Buffer
  qos: number
  /** The incoming W3C traceparent (MQTT 5 User Property or structured CloudEvent), if any. */
  traceparent?: string | undefined
  /** The stable event id of a QoS 1/2 message, when known: links a context-less message to its reply. */
  eventId?: string | undefined
}

export interface MessageTracer {
  begin(msg: InboundForTrace): MessageSpan
}

/** Both tracers see every message (the dashboard's ring and OpenTelemetry); propagation follows `b`'s spans. */
export function teeTracers (a: MessageTracer, b: MessageTracer): MessageTracer {
  return {
    begin (msg) {
      const x = a.begin(msg)
      const y = b.begin(msg)
      return {
        get traceparent () { return y.traceparent },
        // Recorded when either records (the dashboard's ring always does).
        recording: x.recording !== false || y.recording !== false,
        set: (k, v) => { x.set(k, v); y.set(k, v) },
        stage (name, attributes) {
          const p = x.stage(name, attributes)
          const q = y.stage(name, attributes)
          return { traceparent: q.traceparent, recording: p.recording !== false || q.recording !== false, set: (k, v) => { p.set(k, v); q.set(k, v) }, end: (e) => { p.end(e); q.end(e) } }
        },
        end: (o) => { x.end(o); y.end(o) }
      }
    }
  }
}
