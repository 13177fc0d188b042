import { RECORD_HEAD, type RecordValue } from './compactRecord.js'

/**
 * OTLP/HTTP JSON (the ExportTraceServiceRequest of opentelemetry-proto, in its JSON mapping) for a batch of
 * compact span records (compactRecord.ts), built as one string: ids as hex, times as decimal nanoseconds,
 * every string through JSON.stringify (a topic or an error text may hold anything).
 */
export function otlpJsonRequest (records: readonly RecordValue[], length: number, serviceName: string, scope: string): string {
  let spans = ''
  let i = 0
  while (i + RECORD_HEAD <= length) {
    const n = records[i + 9] as number
    if (spans !== '') spans += ','
    spans += spanJson(records, i)
    i += RECORD_HEAD + 2 * n
  }
  return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":${JSON.stringify(serviceName)}}}]},"scopeSpans":[{"scope":{"name":${JSON.stringify(scope)}},"spans":[${spans}]}]}]}`
}

function spanJson (r: readonly RecordValue[], i: number): string {
  const parent = r[i + 4] as string
  let s = `{"traceId":"${r[i + 2] as string}","spanId":"${r[i + 3] as string}",${parent === '' ? '' : `"parentSpanId":"${parent}",`}"name":${JSON.stringify(r[i])},"kind":${r[i + 1] as number},"startTimeUnixNano":"${unixNano(r[i + 5] as number)}","endTimeUnixNano":"${unixNano(r[i + 6] as number)}","attributes":[`
  const n = r[i + 9] as number
  for (let k = 0; k < n; k++) {
    if (k > 0) s += ','
    s += `{"key":${JSON.stringify(r[i + RECORD_HEAD + 2 * k])},"value":${anyValue(r[i + RECORD_HEAD + 2 * k + 1] as RecordValue)}}`
  }
  const code = r[i + 7] as number
  const message = r[i + 8] as string
  s += code === 0 ? '],"status":{}}' : message === '' ? `],"status":{"code":${code}}}` : `],"status":{"code":${code},"message":${JSON.stringify(message)}}}`
  return s
}

function anyValue (v: RecordValue): string {
  if (typeof v === 'string') return `{"stringValue":${JSON.stringify(v)}}`
  if (typeof v === 'boolean') return v ? '{"boolValue":true}' : '{"boolValue":false}'
  if (Number.isSafeInteger(v)) return `{"intValue":${v}}`
  return Number.isFinite(v) ? `{"doubleValue":${v}}` : `{"stringValue":"${String(v)}"}`
}

/** ms since the epoch (a double, about 0.25 µs resolution today) as decimal nanoseconds. */
export function unixNano (ms: number): string {
  const s = Math.floor(ms / 1000)
  let ns = Math.round((ms - s * 1000) * 1e6)
  if (ns > 999_999_999) ns = 999_999_999
  const t = String(ns)
  return `${s}${'000000000'.slice(t.length)}${t}`
}
