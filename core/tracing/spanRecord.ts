/**
 * A finished OpenTelemetry span as a compact record: the fields OTLP carries, flat, so a batch crosses to the
 * export worker as one array of plain values (a structured clone, no serialisation on the sending thread),
 * and a ReadableSpan again on the other side. Links and events are not carried (iotless records none).
 */
import type { HrTime, SpanContext } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'

type Attributes = ReadableSpan['attributes']

/** Values per span in a record batch. */
export const RECORD_FIELDS = 14

/** Appends one span to `out` (RECORD_FIELDS values). */
export function pushSpanRecord (out: unknown[], s: ReadableSpan): void {
  const ctx = s.spanContext()
  const parent = s.parentSpanContext
  out.push(
    s.name, s.kind, ctx.traceId, ctx.spanId, ctx.traceFlags,
    parent?.spanId ?? '', parent?.isRemote === true,
    s.startTime[0], s.startTime[1], s.endTime[0], s.endTime[1],
    s.status.code, s.status.message ?? '', s.attributes
  )
}

/** The ReadableSpans of a record batch, under one resource and instrumentation scope. */
export function fromSpanRecords (r: unknown[], resource: ReadableSpan['resource'], scope: ReadableSpan['instrumentationScope']): ReadableSpan[] {
  const spans: ReadableSpan[] = []
  for (let i = 0; i + RECORD_FIELDS <= r.length; i += RECORD_FIELDS) {
    const traceId = r[i + 2] as string
    const ctx: SpanContext = { traceId, spanId: r[i + 3] as string, traceFlags: r[i + 4] as number }
    const parentSpanId = r[i + 5] as string
    const startTime: HrTime = [r[i + 7] as number, r[i + 8] as number]
    const endTime: HrTime = [r[i + 9] as number, r[i + 10] as number]
    const message = r[i + 12] as string
    spans.push({
      name: r[i] as string,
      kind: r[i + 1] as number,
      spanContext: () => ctx,
      parentSpanContext: parentSpanId === '' ? undefined : { traceId, spanId: parentSpanId, traceFlags: ctx.traceFlags, isRemote: r[i + 6] as boolean },
      startTime,
      endTime,
      duration: hrDiff(startTime, endTime),
      status: message === '' ? { code: r[i + 11] as number } : { code: r[i + 11] as number, message },
      attributes: r[i + 13] as Attributes,
      links: [],
      events: [],
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0
    })
  }
  return spans
}

function hrDiff (a: HrTime, b: HrTime): HrTime {
  let s = b[0] - a[0]
  let ns = b[1] - a[1]
  if (ns < 0) { s -= 1; ns += 1e9 }
  return [s, ns]
}

/** What the export worker is started with. */
export interface ExportWorkerData { endpoint: string; exportTimeoutMs: number; serviceName: string; scope: string }

/** Messages to the export worker. */
export type ToExportWorker = { type: 'spans'; records: unknown[] } | { type: 'shutdown' }

/** Messages from it: an export's outcome (n spans), or that it has shut down. */
export type FromExportWorker = { type: 'done'; n: number; ok: boolean; error?: string | undefined } | { type: 'closed' }
