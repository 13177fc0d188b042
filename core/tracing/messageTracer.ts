/**
 * The hook the adapter's pipeline calls to record what happens to one message: a root span for the message
 * and child spans for its stages (route match, dispatch, reply publish, dead letter). The pipeline is handed
 * a MessageTracer, or none: with none it does no tracing work at all.
 */
export type SpanAttributes = Record<string, string | number | boolean>

/** One stage of a message; `end` once, with an error text when the stage failed. */
export interface StageSpan {
  set(key: string, value: string | number | boolean): void
  end(error?: string): void
}

/** One message's trace, from receipt to its outcome. */
export interface MessageSpan {
  /** The W3C traceparent the message's children carry on (the incoming one's trace, this span as parent). */
  readonly traceparent: string
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
