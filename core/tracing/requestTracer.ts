/**
 * The hook a request proxy (the queue-proxy sidecar, `iotless proxy`) calls to trace one proxied request:
 * one SERVER span from the request's arrival to its response's end, the child of the incoming W3C
 * traceparent, whose own traceparent goes out with the request to the user container. With no
 * RequestTracer the proxy does no tracing work at all.
 */
export interface RequestSpanStart {
  method: string
  /** The request target as it came (origin-form: path and query). */
  target: string
  /** '1.0', '1.1' or '2'. */
  protocolVersion: string
  scheme: 'http' | 'https'
  /** The incoming traceparent header, if any; an invalid one starts a new trace. */
  traceparent: string | undefined
  /** Knative's route tag for this request (kn:default, kn:undefined, kn:disabled, or the tag). */
  routeTag: string
}

export interface RequestSpan {
  /** The traceparent that makes the user container's span a child of this one. */
  readonly traceparent: string
  /** Ends the span with the response's status (0: no response was sent, the client went away or the exchange was cut). */
  end(status: number): void
}

export interface RequestTracer {
  begin(req: RequestSpanStart): RequestSpan
  /** Exports what is queued, then stops. */
  shutdown(): Promise<void>
}
