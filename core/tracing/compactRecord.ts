/**
 * The compact tracer's finished spans (compactTracer.ts) for OTLP JSON (`tracing.protocol: http/json`), as a
 * flat array of plain values, one span after the other: no object per span. A batch crosses to the export
 * worker as that one array, which encodes it (otlpJson.ts). (With http/protobuf, the default, spans are
 * written as protobuf bytes as they end: otlpProtobuf.ts.) Layout of one span:
 *
 *   name, kind (OTLP's: 1 internal, 2 server, 3 client, 4 producer, 5 consumer), traceId, spanId,
 *   parentSpanId ('' : none), start and end (ms since the epoch, performance.timeOrigin + now()),
 *   status code (0 unset, 2 error), status message ('' : none), n attributes, then n key, value pairs.
 */
export type RecordValue = string | number | boolean

/** Values of a span before its attributes. */
export const RECORD_HEAD = 10

export const OTLP_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const

/** What the compact export worker is started with. */
export interface CompactWorkerData {
  endpoint: string
  exportTimeoutMs: number
  serviceName: string
  scope: string
  protocol: 'http/protobuf' | 'http/json'
  /** Extra request headers (OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS). */
  headers: Record<string, string>
}

/** To the worker: a batch of n spans as records (OTLP JSON, encoded there) or as the OTLP protobuf request already (bytes [start, end), transferred); or stop. */
export type ToCompactWorker = { type: 'records'; records: RecordValue[]; length: number; n: number } | { type: 'proto'; buffer: ArrayBuffer; start: number; end: number; n: number } | { type: 'shutdown' }

/**
 * From it: an export's outcome (n spans), with the protobuf batch's buffer handed back (transferred) once the
 * request has been written and answered, for the next batch; or that it has shut down.
 */
export type FromCompactWorker = { type: 'done'; n: number; ok: boolean; error?: string | undefined; buffer?: ArrayBuffer | undefined } | { type: 'closed' }
