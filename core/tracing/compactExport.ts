import { Worker } from 'node:worker_threads'
import type { Logger } from '../log.js'
import type { CompactWorkerData, FromCompactWorker, ToCompactWorker } from './compactRecord.js'
import type { CompactTransport } from './compactTracer.js'
import type { OtelSettings } from './otelTracer.js'

const WORKER = new URL('./compactExportWorker.js', import.meta.url)

/** OTEL_EXPORTER_OTLP_TRACES_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS: `k=v,k2=v2`, URL-encoded values (the OTLP exporter spec). */
export function otlpHeaders (env: NodeJS.ProcessEnv): Record<string, string> {
  const raw = env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? ''
  const out: Record<string, string> = {}
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch { /* a malformed pair is skipped, as the SDK skips it */ }
  }
  return out
}

/** The compact engine's export worker thread (compactExportWorker.ts), unref'd: it never keeps the process up by itself. */
export function workerTransport (s: OtelSettings, log: Logger, env: NodeJS.ProcessEnv = process.env): CompactTransport {
  const data: CompactWorkerData = { endpoint: s.endpoint, exportTimeoutMs: s.exportTimeoutMs, serviceName: s.serviceName, scope: 'iotless-adapter', protocol: s.protocol ?? 'http/protobuf', headers: otlpHeaders(env) }
  const worker = new Worker(WORKER, { workerData: data })
  worker.unref()
  worker.on('error', (err) => { log.error({ code: 'TRACING_EXPORT_FAILED', err: err.message }, 'tracing: the export worker failed; spans are no longer exported') })
  return {
    post: (m: ToCompactWorker, transfer?: ArrayBuffer[]) => { worker.postMessage(m, transfer) },
    onMessage: (f: (m: FromCompactWorker) => void) => { worker.on('message', f) },
    ref: (on) => { if (on) worker.ref(); else worker.unref() },
    terminate: async () => { await worker.terminate() }
  }
}
