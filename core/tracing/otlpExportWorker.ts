/**
 * The adapter's span exporter, in a worker thread (started by workerSpanProcessor.ts): it takes finished
 * spans as compact records (spanRecord.ts), turns them back into ReadableSpans and exports them with the
 * OpenTelemetry OTLP/HTTP exporter (`@opentelemetry/exporter-trace-otlp-http`, JSON), so the serialisation
 * and the POST never run on the thread that handles messages. It reports each export's outcome back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ExportResultCode } from '@opentelemetry/core'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import { fromSpanRecords, type ExportWorkerData, type ToExportWorker } from './spanRecord.js'

const data = workerData as ExportWorkerData
const port = parentPort
if (port === null) throw new Error('otlpExportWorker runs as a worker thread')
const exporter = new OTLPTraceExporter({ url: data.endpoint, timeoutMillis: data.exportTimeoutMs })
const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: data.serviceName })
const scope = { name: data.scope }

port.on('message', (m: ToExportWorker) => {
  if (m.type === 'spans') {
    const spans = fromSpanRecords(m.records, resource, scope)
    exporter.export(spans, (result) => {
      port.postMessage({ type: 'done', n: spans.length, ok: result.code === ExportResultCode.SUCCESS, error: result.error?.message })
    })
  } else if (m.type === 'shutdown') {
    void exporter.shutdown().finally(() => { port.postMessage({ type: 'closed' }) })
  }
})
